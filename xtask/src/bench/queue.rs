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

use super::measure::{Recorder, Slot, Stats, sample_interleaved};
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
///
/// Per scenario, the fast subjects (old module, relaxed fs, mem) take
/// their samples in turn, and so do the durable ones; with 1 row into an
/// empty queue, a bare file write joins each set as the disk's reference.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path) {
    recorder.begin_group(GROUP, "queue_write, beside the bare disk");
    let dir = dir.join("queue");
    let scenarios = [
        (OP_ONE_EMPTY, 1, 0),
        (OP_HUNDRED_EMPTY, 100, 0),
        (OP_ONE_DEEP, 1, 99),
        (OP_HUNDRED_DEEP, 100, 99),
    ];
    for (operation, rows, pending) in scenarios {
        let fast = SUBJECTS.iter().filter(|label| !label.contains("durable"));
        let durable = SUBJECTS.iter().filter(|label| label.contains("durable"));
        let mut fast: Vec<Slot> = fast.map(|label| queue_slot(operation, label)).collect();
        let mut durable: Vec<Slot> = durable.map(|label| queue_slot(operation, label)).collect();
        if operation == OP_ONE_EMPTY {
            fast.push(disk_slot(disk::OP_RELAXED));
            durable.push(disk_slot(disk::OP_DURABLE));
        }
        let fast_count = options.count(if rows == 1 { SAMPLES } else { SAMPLES_LARGE });
        let durable_count = options.count(SAMPLES_DURABLE);
        for (slots, count) in [(fast, fast_count), (durable, durable_count)] {
            recorder
                .measure_interleaved(&slots, || measure_set(&dir, &slots, rows, pending, count));
        }
    }
}

/// The slot of a queue subject.
fn queue_slot(operation: &'static str, label: &str) -> Slot {
    Slot {
        group: GROUP,
        operation,
        backend: label.to_string(),
    }
}

/// The slot of a bare disk write.
fn disk_slot(operation: &'static str) -> Slot {
    Slot {
        group: disk::GROUP,
        operation,
        backend: disk::BACKEND.to_string(),
    }
}

/// Times `count` writes of `rows` rows into queues holding `pending`
/// entries, for each slot's subject in turn.
fn measure_set(
    dir: &Path,
    slots: &[Slot],
    rows: usize,
    pending: usize,
    count: usize,
) -> Result<Vec<Stats>, String> {
    let payload = Payload::rows(rows);
    let filler = Payload::rows(1);
    let table = format!("rows{rows}_pending{pending}");
    let subjects = slots
        .iter()
        .map(|slot| match slot.operation {
            disk::OP_DURABLE | disk::OP_RELAXED => {
                let durable = slot.operation == disk::OP_DURABLE;
                let mode = if durable { "durable" } else { "relaxed" };
                Ok(QueueSubject::Bare {
                    dir: dir.join(format!("bare-{mode}")),
                    durable,
                })
            }
            _ => subject(dir, &slot.backend),
        })
        .collect::<Result<Vec<_>, String>>()?;
    for subject in &subjects {
        subject.fill(&table, &filler, pending)?;
    }
    let stats = sample_interleaved(count, count / 10, subjects.len(), |index, _| {
        let subject = &subjects[index];
        let (elapsed, id) = subject.queue_write_timed(&table, &payload)?;
        subject.remove(&table, &id)?;
        Ok(elapsed)
    })?;
    for (subject, slot) in subjects.iter().zip(slots) {
        let depth = subject.count(&table)?;
        if depth != pending {
            return Err(format!(
                "{}: the queue holds {depth} entries, expected {pending}",
                slot.backend
            ));
        }
    }
    Ok(stats)
}
