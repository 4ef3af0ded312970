// SPDX-License-Identifier: Apache-2.0
//! The tables a person reads: one per group, with the backends side by side
//! and the speed-up of each new backend over the old module.

use super::measure::{Measurement, Unit};
use super::{data, disk, drain, handoff, lock, queue, throughput};

/// How one group's table is laid out.
pub struct Layout {
    /// The group whose measurements it shows.
    pub group: &'static str,
    /// The heading.
    pub title: &'static str,
    /// Lines printed under the heading.
    pub notes: Vec<String>,
    /// The backends, one column each, in this order, with their headings
    /// (a `\n` in a heading breaks it over two lines).
    pub columns: Vec<(&'static str, &'static str)>,
    /// Speed-up columns: (old backend, new backend).
    pub speedups: Vec<(&'static str, &'static str)>,
    /// Operations that get a second row with their 90th percentile.
    pub p90_rows: Vec<&'static str>,
}

const TIME_SPEEDUP: &str = "'X vs last' columns: speed-up = last's time / X's time \
                            (above 1.00x: X is faster)";

/// Which statistic a table row shows.
type PickStat = fn(&Measurement) -> f64;

/// The layouts of every group, in the order the bench runs them.
pub fn layouts() -> Vec<Layout> {
    vec![
        Layout {
            group: lock::GROUP,
            title: "Locking, uncontended, one process (median per operation)",
            notes: vec![TIME_SPEEDUP.to_string()],
            columns: vec![("last", "last"), ("fs", "fs"), ("mem", "mem")],
            speedups: vec![("last", "fs"), ("last", "mem")],
            p90_rows: vec![],
        },
        Layout {
            group: handoff::GROUP,
            title: "Lock hand-off between two processes",
            notes: vec![
                "latency: holder's release to waiter's acquisition, wall clock across processes"
                    .to_string(),
                "CPU: the waiter's CPU time while it waits on a held lock, % of one core"
                    .to_string(),
                format!("{TIME_SPEEDUP}; none for CPU"),
            ],
            columns: vec![("last", "last"), ("fs", "fs")],
            speedups: vec![("last", "fs")],
            p90_rows: vec![handoff::OP_LATENCY],
        },
        Layout {
            group: disk::GROUP,
            title: "The disk alone, for reference: std::fs, no lock, no queue (median)",
            notes: vec![
                "what a queue entry's file costs by itself on this machine's disk".to_string(),
            ],
            columns: vec![(disk::BACKEND, disk::BACKEND)],
            speedups: vec![],
            p90_rows: vec![],
        },
        Layout {
            group: queue::GROUP,
            title: "queue_write (median per call)",
            notes: vec![
                format!(
                    "1 row = {} B of JSON, 100 rows = {} B; each written entry is removed \
                     again (untimed) so the depth stays put",
                    data::json_size(1),
                    data::json_size(100)
                ),
                "the old module never fsyncs: compare it with relaxed; durable fsyncs the \
                 entry and the directory"
                    .to_string(),
                TIME_SPEEDUP.to_string(),
            ],
            columns: queue::SUBJECTS.iter().map(|s| (*s, heading(s))).collect(),
            speedups: vec![("last", "fs relaxed json"), ("last", "fs durable json")],
            p90_rows: vec![],
        },
        Layout {
            group: drain::GROUP,
            title: "Draining 100 queued entries with get_next_pending + remove_from_queue",
            notes: vec![
                "median over trials (total) or over pops; 1-row entries".to_string(),
                TIME_SPEEDUP.to_string(),
            ],
            columns: drain::SUBJECTS.iter().map(|s| (*s, heading(s))).collect(),
            speedups: vec![("last", "fs relaxed json"), ("last", "fs relaxed postcard")],
            p90_rows: vec![],
        },
        Layout {
            group: throughput::GROUP,
            title: "Four processes writing one table (1-row writes, appended to a file)",
            notes: vec![
                format!(
                    "fs: WriteCoordinator<FsBackend>::submit; last: acquire_lock, else \
                     queue_write, drain under the lock; lock timeout {} ms",
                    throughput::TIMEOUT.as_millis()
                ),
                "acknowledged = applied or queued; 'X vs last' = X's writes/s / last's writes/s"
                    .to_string(),
            ],
            columns: throughput::MODES
                .iter()
                .map(|(label, _)| (*label, heading(label)))
                .collect(),
            speedups: vec![("last", "fs durable"), ("last", "fs relaxed")],
            p90_rows: vec![],
        },
    ]
}

/// The group's table as text, or `None` if it has no measurements.
pub fn group_table(layout: &Layout, measurements: &[Measurement]) -> Option<String> {
    let mine: Vec<&Measurement> = measurements
        .iter()
        .filter(|m| m.group == layout.group)
        .collect();
    if mine.is_empty() {
        return None;
    }
    let mut operations: Vec<&str> = Vec::new();
    for m in &mine {
        if !operations.contains(&m.operation.as_str()) {
            operations.push(&m.operation);
        }
    }
    let mut headers = vec!["operation".to_string()];
    headers.extend(
        layout
            .columns
            .iter()
            .map(|(_, heading)| heading.to_string()),
    );
    headers.extend(layout.speedups.iter().map(|(old, new)| {
        let new = layout
            .columns
            .iter()
            .find(|(key, _)| key == new)
            .map_or(*new, |(_, heading)| *heading);
        format!("{new}\nvs {old}")
    }));
    let find = |operation: &str, backend: &str| {
        mine.iter()
            .find(|m| m.operation == operation && m.backend == backend)
    };
    let mut rows = Vec::new();
    for operation in operations {
        let with_p90 = layout.p90_rows.contains(&operation);
        let picks: &[(&str, PickStat)] = if with_p90 {
            &[("median", |m| m.stats.median), ("p90", |m| m.stats.p90)]
        } else {
            &[("", |m| m.stats.median)]
        };
        for (suffix, pick) in picks {
            let mut row = vec![if suffix.is_empty() {
                operation.to_string()
            } else {
                format!("{operation}, {suffix}")
            }];
            for (column, _) in &layout.columns {
                row.push(
                    find(operation, column).map_or("-".to_string(), |m| m.unit.format(pick(m))),
                );
            }
            for (old, new) in &layout.speedups {
                let ratio = match (find(operation, old), find(operation, new)) {
                    (Some(old), Some(new)) => speedup(old.unit, pick(old), pick(new)),
                    _ => None,
                };
                row.push(ratio.map_or("-".to_string(), format_ratio));
            }
            rows.push(row);
        }
    }
    let mut text = format!("{}\n", layout.title);
    for note in &layout.notes {
        text.push_str(&format!("  {note}\n"));
    }
    text.push_str(&render(&headers, &rows));
    Some(text)
}

/// A column heading for a backend label: `fs relaxed json` becomes
/// `fs relaxed` over `json`; a label of one or two words stays whole.
fn heading(label: &'static str) -> &'static str {
    match label {
        "fs relaxed json" => "fs relaxed\njson",
        "fs relaxed postcard" => "fs relaxed\npostcard",
        "fs durable json" => "fs durable\njson",
        "fs durable postcard" => "fs durable\npostcard",
        other => other,
    }
}

/// The new backend's speed-up over the old for a unit where it means
/// something (time: old / new; rate: new / old).
fn speedup(unit: Unit, old: f64, new: f64) -> Option<f64> {
    match unit {
        Unit::Nanos if new > 0.0 => Some(old / new),
        Unit::PerSecond if old > 0.0 => Some(new / old),
        _ => None,
    }
}

/// `1.04x`, `12.3x`, `1234x`.
pub fn format_ratio(ratio: f64) -> String {
    if ratio < 0.1 {
        format!("{ratio:.3}x")
    } else if ratio >= 100.0 {
        format!("{ratio:.0}x")
    } else if ratio >= 10.0 {
        format!("{ratio:.1}x")
    } else {
        format!("{ratio:.2}x")
    }
}

/// A plain-text table: the first column left-aligned, the others right.
/// A `\n` in a header cell breaks it over several lines, bottom-aligned.
pub fn render(headers: &[String], rows: &[Vec<String>]) -> String {
    let header_lines: Vec<Vec<&str>> = headers.iter().map(|h| h.split('\n').collect()).collect();
    let depth = header_lines.iter().map(Vec::len).max().unwrap_or(1);
    let mut widths: Vec<usize> = header_lines
        .iter()
        .map(|lines| lines.iter().map(|l| l.chars().count()).max().unwrap_or(0))
        .collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let parts: Vec<String> = cells
            .iter()
            .zip(&widths)
            .enumerate()
            .map(|(index, (cell, width))| {
                if index == 0 {
                    format!("{cell:<width$}")
                } else {
                    format!("{cell:>width$}")
                }
            })
            .collect();
        format!("  {}\n", parts.join(" | ").trim_end())
    };
    let mut text = String::new();
    for level in 0..depth {
        let cells: Vec<&str> = header_lines
            .iter()
            .map(|lines| {
                let skip = depth - lines.len();
                if level < skip {
                    ""
                } else {
                    lines[level - skip]
                }
            })
            .collect();
        text.push_str(&line(&cells));
    }
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    text.push_str(&format!("  {}\n", rule.join("-+-")));
    for row in rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        text.push_str(&line(&cells));
    }
    text
}
