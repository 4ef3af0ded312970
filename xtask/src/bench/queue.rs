// SPDX-License-Identifier: Apache-2.0
//! Group `queue`: `queue_write` of 1 row and of 100 rows, into an empty
//! queue and into one with 99 pending entries, on the old module, the fs
//! backend in its four modes (relaxed or durable, JSON or postcard) and the
//! mem backend.
//!
//! Each sample times one `queue_write`; the entry it wrote is then removed,
//! untimed, so the queue keeps its depth.

use std::path::Path;

use reedbase_concurrent_fs::{Codec, Durability};

use super::measure::{Recorder, Unit, sample_ns};
use super::queue_subject::{Payload, QueueSubject, base_for};
use super::{Options, disk};

/// The group's name.
pub const GROUP: &str = "queue";
/// Operation: 1-row write into an empty queue.
pub const OP_ONE_EMPTY: &str = "queue_write 1 row, empty queue";
/// Operation: 100-row write into an empty queue.
pub const OP_HUNDRED_EMPTY: &str = "queue_write 100 rows, empty queue";
/// Operation: 1-row write with 99 entries pending.
pub const OP_ONE_DEEP: &str = "queue_write 1 row, 99 pending";
/// Operation: 100-row write with 99 entries pending.
pub const OP_HUNDRED_DEEP: &str = "queue_write 100 rows, 99 pending";

/// The subjects' labels, as the tables' columns show them.
pub const SUBJECTS: [&str; 6] = [
    "last",
    "fs relaxed json",
    "fs relaxed postcard",
    "fs durable json",
    "fs durable postcard",
    "mem",
];

/// Samples per scenario and subject (`--quick`: a tenth).
const SAMPLES: usize = 2_000;
/// Samples of 100-row writes in the other modes.
const SAMPLES_LARGE: usize = 500;
/// Samples for the durable modes, whose two fsyncs make each write slow.
const SAMPLES_DURABLE: usize = 300;

/// The subject named `label` with its data under `dir`.
pub fn subject(dir: &Path, label: &str) -> Result<QueueSubject, String> {
    let base = base_for(dir, label);
    Ok(match label {
        "last" => QueueSubject::Last(base),
        "fs relaxed json" => QueueSubject::fs(base, Durability::Relaxed, Codec::Json),
        "fs relaxed postcard" => QueueSubject::fs(base, Durability::Relaxed, Codec::Postcard),
        "fs durable json" => QueueSubject::fs(base, Durability::Durable, Codec::Json),
        "fs durable postcard" => QueueSubject::fs(base, Durability::Durable, Codec::Postcard),
        "mem" => QueueSubject::mem(),
        other => return Err(format!("no queue subject named {other:?}")),
    })
}

/// Runs the group's measurements with base directories under `dir`.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path) {
    disk::run(recorder, options, dir);
    recorder.begin_group(GROUP, "queue_write");
    let subjects: Vec<(&str, Result<QueueSubject, String>)> = SUBJECTS
        .iter()
        .map(|label| (*label, subject(&dir.join("queue"), label)))
        .collect();
    let scenarios = [
        (OP_ONE_EMPTY, 1, 0),
        (OP_HUNDRED_EMPTY, 100, 0),
        (OP_ONE_DEEP, 1, 99),
        (OP_HUNDRED_DEEP, 100, 99),
    ];
    for (operation, rows, pending) in scenarios {
        let payload = Payload::rows(rows);
        let filler = Payload::rows(1);
        let table = format!("rows{rows}_pending{pending}");
        for (label, subject) in &subjects {
            let full = match (label.contains("durable"), rows) {
                (true, _) => SAMPLES_DURABLE,
                (false, 1) => SAMPLES,
                (false, _) => SAMPLES_LARGE,
            };
            let count = options.count(full);
            recorder.measure_stats(GROUP, operation, label, Unit::Nanos, || {
                let subject = subject.as_ref().map_err(Clone::clone)?;
                subject.fill(&table, &filler, pending)?;
                let stats = sample_ns(count, count / 10, |_| {
                    let (elapsed, id) = subject.queue_write_timed(&table, &payload)?;
                    subject.remove(&table, &id)?;
                    Ok(elapsed)
                })?;
                let depth = subject.count(&table)?;
                if depth != pending {
                    return Err(format!(
                        "the queue holds {depth} entries, expected {pending}"
                    ));
                }
                Ok(stats)
            });
        }
    }
}
