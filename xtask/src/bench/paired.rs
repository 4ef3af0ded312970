// SPDX-License-Identifier: Apache-2.0
//! Group `paired`: the old API's rows of the 110% rule measured with their
//! columns interleaved, so that a ratio compares calls made in the same
//! few hundred milliseconds.
//!
//! Criterion measures one column after another, a few seconds each. On a
//! shared machine the cost of the same call changes by several times from
//! one minute to the next (a journal commit, a neighbour's I/O): in one
//! check, `queue_write 1 row, empty queue` of the old module took 25 us
//! and, a minute later, 125 us. A ratio of two medians taken a minute
//! apart then measures the weather as much as the code. Here every round
//! runs each column for a short burst (the columns' order turning by one
//! each round), records each column's mean per call in that round, and the
//! ratio of two columns is the median over the rounds of their ratio in
//! the same round. The criterion rows stay as they are, beside it.
//!
//! Each column has its own base directory and does what the criterion
//! benchmark of the same row does, timing the same part of it; the checks
//! floors (`check_floors`) are columns here too.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;

use super::Options;
use super::check_floors::{
    CHECKED_NEW_TABLE, CheckedNewTable, CheckedProbe, CheckedUnlink, PROBE_FLOORS, UNLINKAT_FLOORS,
};
use super::measure::{Measurement, Recorder, Stats, Unit};
use super::micro::queue_write_operation;
use super::pg_sites::PgSites;
use super::subjects::{Payload, Subject, subject};
use crate::pg_site::PgSite;

/// The group's name.
pub const GROUP: &str = "paired";

/// One call of a column, returning the time of its timed part.
type Call<'a> = Box<dyn FnMut() -> Result<Duration, String> + 'a>;

/// A probe of a free lock through a subject, on a table.
type Probe = fn(&dyn Subject, &str) -> Result<(), String>;

/// A column of a row: its label and its call.
struct Column<'a> {
    label: &'static str,
    call: Call<'a>,
}

/// How many rounds, and how long each column's burst lasts (timed part).
#[derive(Debug, Clone, Copy)]
struct Plan {
    rounds: usize,
    burst: Duration,
}

/// The per-call means of each column, one per round, over interleaved
/// rounds. Each column's calls per burst are fixed before the first round
/// (as many as fill `burst` of timed time in a warm-up, at least one), so
/// that every round of a column makes the same calls.
fn interleave(columns: &mut [Column<'_>], plan: Plan) -> Result<Vec<Vec<f64>>, String> {
    let mut calls = Vec::with_capacity(columns.len());
    for column in columns.iter_mut() {
        let (mut made, mut spent, wall) = (0_u32, Duration::ZERO, Instant::now());
        while spent < plan.burst && wall.elapsed() < plan.burst * 20 {
            spent += (column.call)().map_err(|e| format!("{}: {e}", column.label))?;
            made += 1;
        }
        calls.push(made.max(1));
    }
    let mut means = vec![Vec::with_capacity(plan.rounds); columns.len()];
    for round in 0..plan.rounds {
        for turn in 0..columns.len() {
            let index = (turn + round) % columns.len();
            let column = &mut columns[index];
            let mut spent = Duration::ZERO;
            for _ in 0..calls[index] {
                spent += (column.call)().map_err(|e| format!("{}: {e}", column.label))?;
            }
            means[index].push(spent.as_nanos() as f64 / f64::from(calls[index]));
        }
    }
    Ok(means)
}

/// A ratio of two columns over the rounds.
#[derive(Debug, Clone, Copy)]
pub struct Ratio {
    /// The median over the rounds of the ratio within a round.
    pub median: f64,
    /// Its 10th percentile (nearest rank).
    pub p10: f64,
    /// Its 90th percentile (nearest rank).
    pub p90: f64,
    /// How many rounds.
    pub rounds: usize,
}

/// `peer`'s mean divided by `new`'s within each round (above 1: `new` is
/// faster), over the rounds; `None` when either has no round means or their
/// rounds differ in number.
pub fn paired_ratio(new: &Measurement, peer: &Measurement) -> Option<Ratio> {
    let rounds = |m: &Measurement| -> Option<Vec<f64>> {
        m.detail.as_ref()?["round_means"]
            .as_array()?
            .iter()
            .map(serde_json::Value::as_f64)
            .collect()
    };
    let (new, peer) = (rounds(new)?, rounds(peer)?);
    if new.len() != peer.len() || new.iter().any(|n| *n <= 0.0) {
        return None;
    }
    let mut ratios: Vec<f64> = new.iter().zip(&peer).map(|(n, p)| p / n).collect();
    ratios.sort_by(f64::total_cmp);
    let rank = |fraction: f64| {
        let index = (fraction * ratios.len() as f64).ceil() as usize;
        ratios.get(index.clamp(1, ratios.len()) - 1).copied()
    };
    Some(Ratio {
        median: rank(0.5)?,
        p10: rank(0.1)?,
        p90: rank(0.9)?,
        rounds: ratios.len(),
    })
}

/// The columns' measurements of one row, from their round means.
fn measurements(operation: &str, labels: &[&str], means: Vec<Vec<f64>>) -> Vec<Measurement> {
    labels
        .iter()
        .zip(means)
        .map(|(label, round_means)| Measurement {
            group: GROUP,
            operation: operation.to_string(),
            backend: label.to_string(),
            unit: Unit::Nanos,
            stats: Stats::from_values(round_means.clone()),
            detail: Some(json!({ "round_means": round_means })),
        })
        .collect()
}

/// Runs one row and records its columns, or its failure.
fn row(
    recorder: &mut Recorder,
    plan: Plan,
    operation: &str,
    make: impl FnOnce() -> Result<Vec<Column<'static>>, String>,
) {
    recorder.begin_group(GROUP, operation);
    let started = Instant::now();
    let ran = make().and_then(|mut columns| {
        let labels: Vec<&str> = columns.iter().map(|c| c.label).collect();
        let means = interleave(&mut columns, plan)?;
        Ok(measurements(operation, &labels, means))
    });
    match ran {
        Ok(found) => {
            for m in &found {
                eprintln!(
                    "           {:<36} median {} (rounds {}, {:.1}s)",
                    m.backend,
                    Unit::Nanos.format(m.stats.median),
                    m.stats.samples,
                    started.elapsed().as_secs_f64()
                );
            }
            recorder.measurements.extend(found);
        }
        Err(error) => recorder.fail(GROUP, operation, error),
    }
}

/// The subject `label` with its files under `dir` (no pg subject here).
fn made(dir: &Path, label: &str) -> Result<Box<dyn Subject>, String> {
    subject(dir, &PgSite::default(), label)
}

/// Each of `labels` as a column calling `call` on its own subject, after
/// `prepare`.
fn subject_columns(
    dir: &Path,
    labels: &[&'static str],
    prepare: impl Fn(&dyn Subject) -> Result<(), String>,
    call: impl Fn(&dyn Subject) -> Result<Duration, String> + Clone + 'static,
) -> Result<Vec<Column<'static>>, String> {
    labels
        .iter()
        .map(|&label| {
            let subject = made(dir, label)?;
            prepare(subject.as_ref()).map_err(|e| format!("{label}: {e}"))?;
            let call = call.clone();
            Ok(Column {
                label,
                call: Box::new(move || call(subject.as_ref())),
            })
        })
        .collect()
}

/// Times `work`.
fn timed(work: impl FnOnce() -> Result<(), String>) -> Result<Duration, String> {
    let start = Instant::now();
    work()?;
    Ok(start.elapsed())
}

/// Fails a probe that found a free lock held.
fn free(found: Option<Result<bool, String>>) -> Result<(), String> {
    match found {
        Some(Ok(false)) | None => Ok(()),
        Some(Ok(true)) => Err("a free lock was found held".into()),
        Some(Err(error)) => Err(error),
    }
}

/// The lock rows: `last`, `fs` and `fs free`, and on the probes of an
/// existing lock file the probe's checks floors.
fn lock_rows(recorder: &mut Recorder, plan: Plan, dir: &Path) {
    let lockers = ["last", "fs", "fs free"];
    let once = |s: &dyn Subject| s.acquire_release("bench");
    let operation = "acquire+release, lock file exists";
    row(recorder, plan, operation, || {
        subject_columns(&dir.join("acquire"), &lockers, once, |s| {
            timed(|| s.acquire_release("bench"))
        })
    });
    row(recorder, plan, "acquire+release, new table", || {
        let counter = std::sync::Arc::new(AtomicUsize::new(0));
        let place = dir.join("new-table");
        let mut columns = subject_columns(
            &place,
            &lockers,
            |_| Ok(()),
            move |s| {
                let table = format!("t{}", counter.fetch_add(1, Ordering::Relaxed));
                timed(|| s.acquire_release(&table))
            },
        )?;
        let floor = CheckedNewTable::create(&place.join("floor"))?;
        columns.push(Column {
            label: CHECKED_NEW_TABLE,
            call: Box::new(move || timed(|| floor.acquire_release())),
        });
        Ok(columns)
    });
    let probes: [(&str, &str, bool, Probe); 3] = [
        ("is_locked, lock file exists", "bench", true, |s, t| {
            free(s.is_locked(t))
        }),
        (
            "is_locked, lock file absent",
            "never_locked",
            false,
            |s, t| free(s.is_locked(t)),
        ),
        ("wait_for_unlock, lock free", "bench", true, |s, t| {
            s.wait_free(t).unwrap_or(Ok(()))
        }),
    ];
    for (operation, table, floors, probe) in probes {
        let place = dir.join(operation.replace([' ', ',', '+'], "-"));
        row(recorder, plan, operation, || {
            let mut columns =
                subject_columns(&place, &lockers, once, move |s| timed(|| probe(s, table)))?;
            if floors {
                let floor = std::rc::Rc::new(CheckedProbe::create(&place.join("floor"), "bench")?);
                for (label, by_path) in PROBE_FLOORS {
                    let floor = floor.clone();
                    columns.push(Column {
                        label,
                        call: Box::new(move || {
                            timed(|| match floor.probe(by_path)? {
                                true => Ok(()),
                                false => Err("the floor found a free lock held".into()),
                            })
                        }),
                    });
                }
            }
            Ok(columns)
        });
    }
}

/// The queue rows and the drain of the free functions: `last`,
/// `fs relaxed json` and `fs free`, and on `remove_from_queue` its checks
/// floors.
fn queue_rows(recorder: &mut Recorder, plan: Plan, dir: &Path) {
    let writers = ["last", "fs relaxed json", "fs free"];
    let filler = Payload::rows(1);
    for (rows, pending) in [(1, 0), (100, 0), (1, 99), (100, 99)] {
        let payload = Payload::rows(rows);
        let operation = queue_write_operation(rows, pending);
        let place = dir.join(format!("write-{rows}-{pending}"));
        let filler = filler.clone();
        row(recorder, plan, &operation, || {
            subject_columns(
                &place,
                &writers,
                |s| s.fill("bench", &filler, pending),
                move |s| {
                    let (took, id) = s.queue_write_timed("bench", &payload)?;
                    s.remove("bench", &id)?;
                    Ok(took)
                },
            )
        });
    }
    let one = filler.clone();
    row(recorder, plan, "get_next_pending, depth 100", || {
        subject_columns(
            &dir.join("next"),
            &writers,
            |s| s.fill("bench", &one, 100),
            |s| timed(|| s.next_id("bench")?.map(drop).ok_or("an empty queue".into())),
        )
    });
    let one = filler.clone();
    row(recorder, plan, "remove_from_queue, depth 100", || {
        let place = dir.join("remove");
        let written = one.clone();
        let mut columns = subject_columns(
            &place,
            &writers,
            |s| s.fill("bench", &one, 99),
            move |s| {
                let (_, id) = s.queue_write_timed("bench", &written)?;
                timed(|| s.remove("bench", &id))
            },
        )?;
        let body = serde_json::to_vec(&one.core).map_err(|e| e.to_string())?;
        let floor = std::rc::Rc::new(CheckedUnlink::create(
            &place.join("floor"),
            "bench",
            body,
            99,
        )?);
        for (label, by_path) in UNLINKAT_FLOORS {
            let floor = floor.clone();
            columns.push(Column {
                label,
                call: Box::new(move || {
                    let entry = floor.write_entry()?;
                    timed(|| floor.remove(&entry, by_path))
                }),
            });
        }
        Ok(columns)
    });
    let one = filler.clone();
    row(recorder, plan, "count_pending, depth 100", || {
        subject_columns(
            &dir.join("count"),
            &writers,
            |s| s.fill("bench", &one, 100),
            |s| {
                timed(|| match s.count("bench")? {
                    100 => Ok(()),
                    other => Err(format!("counted {other} of 100")),
                })
            },
        )
    });
    row(recorder, plan, "drain 100 entries, total", || {
        subject_columns(
            &dir.join("drain"),
            &["last", "fs free"],
            |_| Ok(()),
            move |s| {
                s.fill("bench", &filler, 100)?;
                let start = Instant::now();
                let mut popped = 0;
                while s.pop("bench")? {
                    popped += 1;
                }
                let took = start.elapsed();
                match popped {
                    100 => Ok(took),
                    other => Err(format!("the drain popped {other} entries")),
                }
            },
        )
    });
}

/// Runs the group: every row of the old API's 110% rule.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path, _pg: &PgSites) {
    let plan = if options.quick {
        Plan {
            rounds: 3,
            burst: Duration::from_millis(2),
        }
    } else {
        Plan {
            rounds: 25,
            burst: Duration::from_millis(20),
        }
    };
    let dir = dir.join("paired");
    lock_rows(recorder, plan, &dir);
    queue_rows(recorder, plan, &dir);
}

#[cfg(test)]
#[path = "paired_test.rs"]
mod tests;
