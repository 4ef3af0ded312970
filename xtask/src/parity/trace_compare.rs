// SPDX-License-Identifier: Apache-2.0
//! Running one trace on all three backends and comparing it step by step:
//! each step gets a class (the scenario name of its table row) and, when
//! the backends disagree, the set of backends that differ.

use reedbase_concurrent_core::validate_write;
use reedbase_concurrent_fs::FsBackend;
use reedbase_concurrent_mem::MemBackend;
use reedbase_last::LastBackend;

use super::backends::{Bases, last_base};
use super::findings::{Backend, BackendSet};
use super::listing::Listing;
use super::trace_exec::{Driver, Obs};
use super::trace_ops::{IdArg, Op, TableArg};

/// Every class of step, in table order: first the steps on valid input,
/// then the classes of invalid input where the old module is expected to
/// differ.
pub const CLASSES: [&str; 16] = [
    "queue-write",
    "get-next-pending",
    "remove-head",
    "remove-issued-id",
    "count-pending",
    "try-acquire-lock",
    "acquire-lock-0ms",
    "wait-for-unlock-0ms",
    "drop-guard",
    "is-locked",
    "fifo-order",
    "invalid-row",
    "remove-missing-id",
    "malformed-queue-id",
    "invalid-table-name",
    "absolute-table-name",
];

/// The classes whose divergence leaves the backends' queues and locks
/// comparable: the refused input changed nothing on fs and mem, and
/// whatever the old module did with it lies outside the valid tables (an
/// accepted invalid row is removed again by the driver). After a divergence
/// of any other class the states may differ, so the rest of that trace is
/// not compared: it would only repeat the first difference.
const STATE_PRESERVING: [&str; 5] = [
    "invalid-row",
    "remove-missing-id",
    "malformed-queue-id",
    "invalid-table-name",
    "absolute-table-name",
];

/// The scenario name of a class, as the table prints it and PARITY.md
/// lists it.
pub fn scenario_of(class: &str) -> String {
    format!("trace:{class}")
}

/// One compared step.
#[derive(Debug, Clone)]
pub struct Step {
    /// Its class, one of [`CLASSES`].
    pub class: &'static str,
    /// The backends that differ; empty when all agree.
    pub differs_on: BackendSet,
    /// What the old module, fs and mem showed.
    pub obs: [Obs; 3],
}

/// One trace, compared.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The steps compared, from the first: all of them, or up to and
    /// including the first divergence that can leave the states different.
    pub steps: Vec<Step>,
    /// How many steps after that were run but not compared.
    pub not_compared: usize,
}

/// Runs `ops` on a fresh old module (base `<tmp>/a/b/c`), a fresh fs
/// backend (its own temporary directory) and a fresh mem backend, and
/// compares the steps (see [`Compared`]).
pub fn run_and_compare(ops: &[Op]) -> Compared {
    let bases = Bases::default();
    let last = LastBackend::new(last_base(&bases.temp_dir()));
    let fs_dir = bases.temp_dir();
    let fs = FsBackend::new(&fs_dir);
    let mem = MemBackend::new();
    // Inside the fs backend's directory, so that even a backend that
    // wrongly accepted it would write nowhere else.
    let absolute = fs_dir.join("absolute-table").display().to_string();
    let on_last = Driver::new(&last, Backend::Last, &absolute).run(ops);
    let on_fs = Driver::new(&fs, Backend::Fs, &absolute).run(ops);
    let on_mem = Driver::new(&mem, Backend::Mem, &absolute).run(ops);
    let mut steps = Vec::new();
    for (op, (l, (f, m))) in ops
        .iter()
        .zip(on_last.into_iter().zip(on_fs.into_iter().zip(on_mem)))
    {
        let obs = [l, f, m];
        let differs_on = differing(&obs);
        let class = class_of(op, &obs, !differs_on.is_empty());
        steps.push(Step {
            class,
            differs_on,
            obs,
        });
        if !differs_on.is_empty() && !STATE_PRESERVING.contains(&class) {
            break;
        }
    }
    Compared {
        not_compared: ops.len() - steps.len(),
        steps,
    }
}

/// Whether a step is covered by PARITY.md: it agrees, or its class is
/// listed for (at least) the backends it differs on. The class's row then
/// checks that the listing names exactly the backends its steps differ on.
pub fn is_listed(listing: &Listing, step: &Step) -> bool {
    step.differs_on.is_empty()
        || listing
            .entries
            .get(&scenario_of(step.class))
            .is_some_and(|listed| step.differs_on.is_subset(listed.differs_on))
}

fn class_of(op: &Op, obs: &[Obs; 3], differ: bool) -> &'static str {
    match op.table() {
        TableArg::Invalid(_) => return "invalid-table-name",
        TableArg::Absolute => return "absolute-table-name",
        TableArg::Valid(_) => {}
    }
    let missing = || {
        obs.iter()
            .any(|o| matches!(o, Obs::Failed(v) if v == "QueueEntryNotFound" || v == "IoError"))
    };
    // Each backend returned an entry, but not the same one: the order of
    // the queue differs.
    let other_entry = || {
        differ
            && obs
                .iter()
                .all(|o| matches!(o, Obs::Next(Some(_)) | Obs::Removed(_) | Obs::Skipped(_)))
    };
    match op {
        Op::GetNext(_) | Op::Remove(_, IdArg::Head) if other_entry() => "fifo-order",
        Op::QueueWrite(_, write) if validate_write(write).is_err() => "invalid-row",
        Op::QueueWrite(..) => "queue-write",
        Op::GetNext(_) => "get-next-pending",
        Op::Remove(_, IdArg::Head) => "remove-head",
        Op::Remove(_, IdArg::Malformed(_)) => "malformed-queue-id",
        Op::Remove(_, IdArg::Unknown(_)) => "remove-missing-id",
        Op::Remove(_, IdArg::Known(_)) if missing() => "remove-missing-id",
        Op::Remove(_, IdArg::Known(_)) => "remove-issued-id",
        Op::Count(_) => "count-pending",
        Op::TryAcquire(_) => "try-acquire-lock",
        Op::AcquireZero(_) => "acquire-lock-0ms",
        Op::WaitZero(_) => "wait-for-unlock-0ms",
        Op::Release(_) => "drop-guard",
        Op::IsLocked(_) => "is-locked",
    }
}

/// The backends whose result differs from the others'. With the old module
/// skipped, fs and mem are compared alone.
fn differing(obs: &[Obs; 3]) -> BackendSet {
    let [l, f, m] = obs;
    if matches!(l, Obs::Skipped(_)) {
        return if f == m {
            BackendSet::EMPTY
        } else {
            BackendSet::of(&[Backend::Fs, Backend::Mem])
        };
    }
    match (l == f, f == m, l == m) {
        (true, true, _) => BackendSet::EMPTY,
        (_, true, _) => BackendSet::of(&[Backend::Last]),
        (true, _, _) => BackendSet::of(&[Backend::Mem]),
        (_, _, true) => BackendSet::of(&[Backend::Fs]),
        _ => BackendSet::of(&Backend::ALL),
    }
}
