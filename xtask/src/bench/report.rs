// SPDX-License-Identifier: Apache-2.0
//! The tables a person reads: one per group, the backends side by side,
//! and ratio columns of each new backend against its peers (the old module,
//! SQLite).

use super::check_floors::{
    CHECKED_NEW_TABLE, CHECKED_PROBE, CHECKED_PROBE_BY_PATH, CHECKED_UNLINKAT,
    CHECKED_UNLINKAT_BY_PATH,
};
use super::load_mode::{
    FLOOR_DURABLE_ENQUEUE, FLOOR_FLOCK, FLOOR_PG_ENQUEUE, FLOOR_TIMEOUT_ENQUEUE, GROUPED, TIMEOUT,
};
use super::measure::{Measurement, Unit};
use super::paired::{self, paired_ratio};
use super::subjects::Payload;
use super::{deep, handoff, load};

/// How one group's table is laid out.
pub struct Layout {
    /// The group whose measurements it shows.
    pub group: &'static str,
    /// The heading.
    pub title: &'static str,
    /// Lines printed under the heading.
    pub notes: Vec<String>,
    /// The backends, one column each, in this order.
    pub columns: Vec<&'static str>,
    /// Ratio columns: (new backend, peer).
    pub ratios: Vec<(&'static str, &'static str)>,
    /// Operations that get a second row with their 90th percentile.
    pub p90_rows: Vec<&'static str>,
}

const RATIO: &str = "'X vs P' columns: how many times faster X is than peer P \
                     (time: P / X; rate: X / P; above 1.00x: X is ahead)";

/// Which statistic a table row shows.
type PickStat = fn(&Measurement) -> f64;

/// The layouts of every group, in the order the bench runs them.
pub fn layouts() -> Vec<Layout> {
    let one = Payload::rows(1).json_size();
    let hundred = Payload::rows(100).json_size();
    vec![
        Layout {
            group: "lock",
            title: "Locking, uncontended, one process (criterion, median per operation)",
            notes: vec![
                "sqlite: BEGIN IMMEDIATE + COMMIT; the old module's try is a 0 s acquire".into(),
                "fs: through one FsBackend; fs free: the fs crate's free functions with the old module's signatures".into(),
                "floor: checked probe: only the system calls the fs crate's threat model requires of a \
                 probe of a free lock (getpid, fstatat of the table directory and of write.lock, a shared \
                 flock + unlock on each); by path: the table directory lstat'ed by its whole path, as the \
                 free functions do; a floor of the checks, not of the disk".into(),
                RATIO.into(),
            ],
            columns: vec![
                "last", "fs", "fs free", CHECKED_PROBE, CHECKED_PROBE_BY_PATH, "mem", "sqlite relaxed",
                "pg durable", "pg relaxed",
            ],
            ratios: vec![
                ("fs", "last"),
                ("fs free", "last"),
                ("fs", "sqlite relaxed"),
                ("pg durable", "fs"),
                ("pg relaxed", "sqlite relaxed"),
            ],
            p90_rows: vec![],
        },
        Layout {
            group: paired::GROUP,
            title: "The old API's rows, their columns interleaved (median over rounds of each column's mean per call)",
            notes: vec![
                "each round runs every column for about 20 ms, in an order that turns by one each round; \
                 the ratio columns are the median over the rounds of the ratio within a round, so that \
                 the machine's drift from minute to minute (a journal commit, a neighbour's I/O) does not \
                 enter them; the 110% targets read these"
                    .into(),
                "fs: one FsBackend (relaxed JSON on the queue rows); fs free: the free functions".into(),
                RATIO.into(),
            ],
            columns: vec![
                "last", "fs", "fs relaxed json", "fs free", CHECKED_NEW_TABLE, CHECKED_PROBE,
                CHECKED_PROBE_BY_PATH, CHECKED_UNLINKAT, CHECKED_UNLINKAT_BY_PATH,
            ],
            ratios: vec![
                ("fs", "last"),
                ("fs relaxed json", "last"),
                ("fs free", "last"),
            ],
            p90_rows: vec![],
        },
        Layout {
            group: handoff::GROUP,
            title: "Lock hand-off between two processes",
            notes: vec![
                "latency: holder's release to waiter's acquisition, wall clock across processes".into(),
                "CPU: the waiter's CPU time (all threads) while it waits on a held lock, % of one core".into(),
                "flock: a bare blocking flock, the kernel's floor; sqlite: BEGIN IMMEDIATE, busy timeout".into(),
                "pg: the advisory lock on the server, each process connected over TCP; waits inside the server".into(),
                RATIO.into(),
            ],
            columns: vec!["last", "fs", "sqlite", "flock", "pg"],
            ratios: vec![
                ("fs", "last"),
                ("fs", "sqlite"),
                ("fs", "flock"),
                ("pg", "last"),
                ("pg", "fs"),
            ],
            p90_rows: vec![handoff::OP_LATENCY],
        },
        Layout {
            group: "disk",
            title: "The disk alone, the floor of a queue entry: std::fs, no lock, no queue (criterion)",
            notes: vec!["a durable file-per-entry write needs two flushes: the file and its directory".into()],
            columns: vec!["std::fs"],
            ratios: vec![],
            p90_rows: vec![],
        },
        Layout {
            group: "queue",
            title: "The queue, one process (criterion, median per call)",
            notes: vec![
                format!("1 row = {one} B of JSON, 100 rows = {hundred} B; each written entry is removed again (untimed)"),
                "fs free: the free functions (queue_write_with, relaxed JSON; get_next_pending, ...)".into(),
                "the old module never fsyncs: compare it with relaxed; durable fsyncs entry and directory; \
                 sqlite: WAL, synchronous=NORMAL (relaxed) or FULL (durable); \
                 pg: one transaction per call over TCP, synchronous_commit on (durable) or off (relaxed)".into(),
                "floor: checked unlinkat: only the system calls the fs crate's threat model requires of \
                 a removal (fstatat of the table and queue directories, unlinkat); by path: the table \
                 directory lstat'ed by its whole path, as the free functions do; a floor of the checks, \
                 not of the disk".into(),
                RATIO.into(),
            ],
            columns: vec![
                "last", "fs relaxed json", "fs free", CHECKED_UNLINKAT, CHECKED_UNLINKAT_BY_PATH,
                "fs relaxed postcard", "fs durable json",
                "fs durable postcard", "mem", "sqlite relaxed", "sqlite durable",
                "pg relaxed", "pg durable",
            ],
            ratios: vec![
                ("fs relaxed json", "last"),
                ("fs free", "last"),
                ("fs relaxed json", "sqlite relaxed"),
                ("fs durable json", "sqlite durable"),
                ("pg relaxed", "last"),
                ("pg durable", "fs durable json"),
            ],
            p90_rows: vec![],
        },
        Layout {
            group: "drain",
            title: "Draining 100 queued entries, get_next_pending + remove_from_queue each (criterion)",
            notes: vec![RATIO.into()],
            columns: vec![
                "last", "fs relaxed json", "fs free", "fs relaxed postcard", "mem", "sqlite relaxed",
                "pg relaxed",
            ],
            ratios: vec![
                ("fs relaxed json", "last"),
                ("fs free", "last"),
                ("fs relaxed json", "sqlite relaxed"),
                ("pg relaxed", "last"),
                ("pg relaxed", "fs relaxed json"),
            ],
            p90_rows: vec![],
        },
        Layout {
            group: deep::GROUP,
            title: "Deep queues (median of 50 samples at each depth; relaxed 1-row entries)",
            notes: vec![
                "the old module's queue holds 100 at most; `--deep` adds depth 100,000".into(),
                RATIO.into(),
            ],
            columns: deep::SUBJECTS.to_vec(),
            ratios: vec![("fs relaxed json", "sqlite relaxed")],
            p90_rows: vec![],
        },
        Layout {
            group: load::THROUGHPUT,
            title: "Four processes writing one table (1-row writes appended to a file)",
            notes: vec![
                format!(
                    "fs, pg: WriteCoordinator::submit (pg: each process over TCP); last: acquire_lock, \
                     else queue_write, drain under the lock; sqlite: BEGIN IMMEDIATE, else insert into its \
                     queue table; lock timeout {} ms",
                    super::load_mode::TIMEOUT.as_millis()
                ),
                "acknowledged = applied or queued".into(),
                "floor: bare flock: a blocking flock on one lock file, append, unlock; \
                 the bound of any file-lock-per-write design"
                    .into(),
                RATIO.into(),
            ],
            columns: load::THROUGHPUT_MODES.to_vec(),
            ratios: vec![
                ("fs durable", "last"),
                ("fs relaxed", "last"),
                ("fs durable", "sqlite durable"),
                ("fs relaxed", "sqlite relaxed"),
                ("fs durable", FLOOR_FLOCK),
                ("pg durable", "last"),
                ("pg durable", "fs durable"),
            ],
            p90_rows: vec![],
        },
        Layout {
            group: load::GROUP_COMMIT,
            title: "Group commit: eight processes, durable apply (append + fsync of the table file)",
            notes: vec![
                format!(
                    "per-write: submit, one fsync per write; batch: submit_batch, one fsync per \
                     batch (sqlite: what the holder drains and its own write, in its transaction); \
                     fs's queue durable, or relaxed; sqlite's and pg's durable; lock timeout {} ms, so that most writers queue",
                    super::load_mode::GROUP_COMMIT_TIMEOUT.as_millis()
                ),
                format!(
                    "grouped: submit_grouped, every write queued in a relaxed queue and \
                     acknowledged once a lock holder has applied it (one fsync per batch, none of \
                     the writer's own), waiting at most {} ms for that",
                    TIMEOUT.as_millis()
                ),
                "floor: durable enqueue: write + fsync a temporary, rename, fsync the shared \
                 directory, no lock; the bound of queueing each write durably with two flushes"
                    .into(),
                "floor: durable append: a blocking flock, append, fdatasync, unlock; the bound \
                 of applying per write"
                    .into(),
                "floor: timeout + enqueue: sleep the lock timeout, then the durable enqueue's \
                 pattern without its flushes; the bound of a writer that honours its timeout \
                 while the lock stays busy, so of batching behind a relaxed queue"
                    .into(),
                "pg floor: ordered enqueue: one message per write to the server (BEGIN, the \
                 table's producers' advisory lock, one insert, a durable COMMIT), no lock holder; \
                 the bound of a pg queue that keeps its producers in order, so of batching behind it"
                    .into(),
                RATIO.into(),
            ],
            columns: load::GROUP_COMMIT_MODES.to_vec(),
            ratios: vec![
                ("fs batch", "fs per-write"),
                ("fs batch", FLOOR_DURABLE_ENQUEUE),
                (GROUPED, "fs per-write"),
                (GROUPED, "last"),
                (GROUPED, "sqlite batch"),
                ("fs batch relaxed", "fs per-write relaxed"),
                ("fs batch relaxed", FLOOR_TIMEOUT_ENQUEUE),
                ("fs batch", "last"),
                ("sqlite batch", "sqlite per-write"),
                ("fs batch", "sqlite batch"),
                ("pg batch", "pg per-write"),
                ("pg batch", FLOOR_PG_ENQUEUE),
                ("pg batch", "fs batch"),
            ],
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
    headers.extend(layout.columns.iter().map(|c| c.replacen(' ', "\n", 1)));
    headers.extend(
        layout
            .ratios
            .iter()
            .map(|(new, peer)| format!("{new}\nvs {peer}")),
    );
    let find = |operation: &str, backend: &str| {
        mine.iter()
            .find(|m| m.operation == operation && m.backend == backend)
    };
    let mut rows = Vec::new();
    for operation in operations {
        let picks: &[(&str, PickStat)] = if layout.p90_rows.contains(&operation) {
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
            for column in &layout.columns {
                row.push(find(operation, column).map_or("-".into(), |m| m.unit.format(pick(m))));
            }
            for (new, peer) in &layout.ratios {
                // Interleaved rounds (group `paired`): the median of the
                // ratios within a round, not the ratio of the medians.
                let ratio = match (find(operation, new), find(operation, peer)) {
                    (Some(new), Some(peer)) => paired_ratio(new, peer)
                        .map(|r| r.median)
                        .or_else(|| ahead(new.unit, pick(new), pick(peer))),
                    _ => None,
                };
                row.push(ratio.map_or("-".into(), format_ratio));
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

/// How many times `new` is ahead of `peer`, for a unit where that means
/// something (time: peer / new; rate: new / peer).
pub fn ahead(unit: Unit, new: f64, peer: f64) -> Option<f64> {
    match unit {
        Unit::Nanos if new > 0.0 => Some(peer / new),
        Unit::PerSecond if peer > 0.0 => Some(new / peer),
        _ => None,
    }
}

/// `0.045x`, `1.04x`, `12.3x`, `1234x`.
pub fn format_ratio(ratio: f64) -> String {
    match ratio {
        r if r < 0.1 => format!("{r:.3}x"),
        r if r >= 100.0 => format!("{r:.0}x"),
        r if r >= 10.0 => format!("{r:.1}x"),
        r => format!("{r:.2}x"),
    }
}

/// A plain-text table: the first column left-aligned, the others right.
/// A `\n` in a header cell breaks it over lines, bottom-aligned.
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
            .map(|(i, (cell, w))| {
                if i == 0 {
                    format!("{cell:<w$}")
                } else {
                    format!("{cell:>w$}")
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
