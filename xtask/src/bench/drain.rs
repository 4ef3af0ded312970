// SPDX-License-Identifier: Apache-2.0
//! Group `drain`: emptying a queue of 100 entries with `get_next_pending`
//! and `remove_from_queue` each, on the old module, the fs backend (JSON and
//! postcard entries) and the mem backend.
//!
//! Each trial fills the queue (untimed), then times every pop; the total,
//! the pop at depth 100 (the first) and at depth 10 show how a pop's cost
//! grows with the queue's depth.

use std::path::Path;
use std::time::Instant;

use super::Options;
use super::measure::{Recorder, Stats, Unit};
use super::queue::subject;
use super::queue_subject::{Payload, QueueSubject};

/// The group's name.
pub const GROUP: &str = "drain";
/// Operation: the whole drain of 100 entries.
pub const OP_TOTAL: &str = "drain 100 entries, total";
/// Operation: one get + remove, over every depth.
pub const OP_PER_POP: &str = "one pop (get + remove), any depth";
/// Operation: the first pop, with 100 entries queued.
pub const OP_POP_100: &str = "one pop at depth 100";
/// Operation: a pop with 10 entries queued.
pub const OP_POP_10: &str = "one pop at depth 10";

/// The subjects' labels (entries written relaxed: durability does not
/// change what a reader does).
pub const SUBJECTS: [&str; 4] = ["last", "fs relaxed json", "fs relaxed postcard", "mem"];

/// Entries per drain.
const DEPTH: usize = 100;
/// Trials per subject; the old module's drain takes about 70 ms each.
const TRIALS: usize = 20;
/// Trials for the old module.
const TRIALS_LAST: usize = 8;

/// The pop times of one drain, in nanoseconds, first pop first.
fn drain_once(subject: &QueueSubject, table: &str, payload: &Payload) -> Result<Vec<f64>, String> {
    subject.fill(table, payload, DEPTH)?;
    let mut pops = Vec::with_capacity(DEPTH);
    loop {
        let start = Instant::now();
        let Some(id) = subject.next_id(table)? else {
            break;
        };
        subject.remove(table, &id)?;
        pops.push(start.elapsed().as_nanos() as f64);
    }
    if pops.len() != DEPTH {
        return Err(format!("drained {} entries, queued {DEPTH}", pops.len()));
    }
    Ok(pops)
}

/// Runs the group's measurements with base directories under `dir`.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path) {
    recorder.begin_group(GROUP, "draining 100 queued entries");
    let payload = Payload::rows(1);
    for label in SUBJECTS {
        let trials = options.count(if label == "last" { TRIALS_LAST } else { TRIALS });
        let mut all_pops: Vec<Vec<f64>> = Vec::new();
        recorder.measure_stats(GROUP, OP_TOTAL, label, Unit::Nanos, || {
            let subject = subject(&dir.join("drain"), label)?;
            for _ in 0..trials {
                all_pops.push(drain_once(&subject, "drain", &payload)?);
            }
            Ok(Stats::from_values(
                all_pops.iter().map(|pops| pops.iter().sum()).collect(),
            ))
        });
        if all_pops.len() != trials {
            continue;
        }
        let derived = [
            (OP_PER_POP, all_pops.iter().flatten().copied().collect()),
            (OP_POP_100, all_pops.iter().map(|pops| pops[0]).collect()),
            (
                OP_POP_10,
                all_pops.iter().map(|pops| pops[DEPTH - 10]).collect(),
            ),
        ];
        for (operation, values) in derived {
            recorder.measure_stats(GROUP, operation, label, Unit::Nanos, || {
                Ok(Stats::from_values(values))
            });
        }
    }
}
