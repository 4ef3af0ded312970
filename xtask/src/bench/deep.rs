// SPDX-License-Identifier: Apache-2.0
//! Group `deep`: queues at depth 100, 1,000, 10,000 and (with `--deep`)
//! 100,000: a pop (`get_next_pending` + `remove_from_queue`) and a
//! `queue_write` at that depth, and draining the deepest queue whole.
//!
//! Each sample keeps the depth: a pop is followed by an untimed write, a
//! write by an untimed removal of what it wrote. Entries are written
//! relaxed (filling 100,000 durable entries would measure the disk, not the
//! queue). The old module is not measured: its queue holds 100 entries at
//! most (see the `queue` and `drain` groups for it). Filling and draining have a budget;
//! a drain that runs out of it is reported with the rate it reached.

use std::path::Path;
use std::time::{Duration, Instant};

use super::measure::{Recorder, Stats, Unit};
use super::subjects::{Payload, Subject, subject};
use super::{Options, PgSites};
use crate::pg_site::PgSite;

/// The group's name.
pub const GROUP: &str = "deep";
/// The subjects; the old module is not one: its queue holds 100 at most.
pub const SUBJECTS: [&str; 3] = ["fs relaxed json", "mem", "sqlite relaxed"];
/// The most time a fill or the whole drain may take.
const BUDGET: Duration = Duration::from_secs(120);

/// The operation of a pop at `depth`.
pub fn op_pop(depth: usize) -> String {
    format!("one pop at depth {}", thousands(depth))
}

/// The operation of a write at `depth`.
pub fn op_write(depth: usize) -> String {
    format!("queue_write at depth {}", thousands(depth))
}

/// The operation of the whole drain of `depth` entries.
pub fn op_drain(depth: usize) -> String {
    format!("drain {} entries, total", thousands(depth))
}

/// `100000` as `100,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// The depths of this run.
pub fn depths(options: &Options) -> Vec<usize> {
    match (options.quick, options.deep) {
        (true, _) => vec![100, 1_000],
        (false, false) => vec![100, 1_000, 10_000],
        (false, true) => vec![100, 1_000, 10_000, 100_000],
    }
}

/// Runs the group with base directories under `dir` (no pg subject: a
/// queue 10,000 deep on the server measures the server's index, not this
/// workspace).
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path, _pg: &PgSites) {
    recorder.begin_group(GROUP, "deep queues");
    let depths = depths(options);
    let samples = if options.quick { 5 } else { 50 };
    let payload = Payload::rows(1);
    for label in SUBJECTS {
        let made = subject(&dir.join("deep"), &PgSite::default(), label);
        let subject = match made {
            Ok(subject) => subject,
            Err(error) => {
                recorder.fail(GROUP, label, error);
                continue;
            }
        };
        let mut depth_now = 0;
        for &depth in &depths {
            let filled = fill_to(subject.as_ref(), depth_now, depth, &payload);
            if let Err(error) = filled {
                recorder.fail(GROUP, &op_pop(depth), format!("{label}: {error}"));
                break;
            }
            depth_now = depth;
            let s = subject.as_ref();
            recorder.measure_stats(GROUP, &op_pop(depth), label, Unit::Nanos, || {
                sample(samples, || {
                    let start = Instant::now();
                    if !s.pop("deep")? {
                        return Err("the queue ran empty".to_string());
                    }
                    let took = start.elapsed();
                    s.queue_write_timed("deep", &payload)?;
                    Ok(took)
                })
            });
            recorder.measure_stats(GROUP, &op_write(depth), label, Unit::Nanos, || {
                sample(samples, || {
                    let (took, id) = s.queue_write_timed("deep", &payload)?;
                    s.remove("deep", &id)?;
                    Ok(took)
                })
            });
        }
        if depth_now == depths.last().copied().unwrap_or(0) {
            let s = subject.as_ref();
            recorder.measure(GROUP, &op_drain(depth_now), label, Unit::Nanos, || {
                drain(s, depth_now)
            });
        }
    }
}

/// Writes entries until the queue holds `to`, within [`BUDGET`].
fn fill_to(s: &dyn Subject, from: usize, to: usize, payload: &Payload) -> Result<(), String> {
    let start = Instant::now();
    for written in from..to {
        if start.elapsed() > BUDGET {
            return Err(format!(
                "filling to {to} ran out of its {BUDGET:?} budget at {written}"
            ));
        }
        s.queue_write_timed("deep", payload)?;
    }
    Ok(())
}

fn sample(
    count: usize,
    mut one: impl FnMut() -> Result<Duration, String>,
) -> Result<Stats, String> {
    let values = (0..count)
        .map(|_| one().map(|took| took.as_nanos() as f64))
        .collect::<Result<Vec<f64>, String>>()?;
    Ok(Stats::from_values(values))
}

/// Pops every entry, within [`BUDGET`]: the total time, or (out of
/// budget) the time projected from the rate reached, marked as such.
fn drain(s: &dyn Subject, depth: usize) -> Result<(Stats, Option<serde_json::Value>), String> {
    let start = Instant::now();
    let mut popped = 0;
    while s.pop("deep")? {
        popped += 1;
        if start.elapsed() > BUDGET {
            let projected = start.elapsed().as_nanos() as f64 * depth as f64 / popped as f64;
            let detail = serde_json::json!({
                "finished": false,
                "popped": popped,
                "budget_s": BUDGET.as_secs(),
                "projected_total_s": projected / 1e9,
            });
            return Ok((Stats::single(projected), Some(detail)));
        }
    }
    if popped != depth {
        return Err(format!("drained {popped} entries, {depth} were queued"));
    }
    let detail = serde_json::json!({ "finished": true, "popped": popped });
    Ok((
        Stats::single(start.elapsed().as_nanos() as f64),
        Some(detail),
    ))
}

#[cfg(test)]
#[path = "deep_test.rs"]
mod tests;
