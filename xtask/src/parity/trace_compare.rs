// SPDX-License-Identifier: Apache-2.0
//! Running one trace of core's operation model on the four backends (each
//! made fresh by its factory; pg only with a server) and comparing it step
//! by step: each step gets a class (the scenario name of its table row)
//! and, when the backends disagree, the set of backends that differ.

use reedbase_concurrent_conformance::model::{
    self, Call, Fault, IdArg, Obs, Observe, Op, Outcome, TableArg, WriteFault, is_refused,
};
use reedbase_concurrent_core::{PendingWrite, validate_write};
use reedbase_concurrent_mem::MemBackend;

use super::backends::{Bases, quietly};
use super::findings::{BACKENDS, Backend, BackendSet};
use super::listing::Listing;

/// Every class of step, in table order: first the steps on valid input,
/// then the classes where the old module is expected to differ.
pub const CLASSES: [&str; 32] = [
    "queue-write",
    "get-next-pending",
    "remove-head",
    "remove-issued-id",
    "remove-batch",
    "count-pending",
    "is-pending",
    "moved-aside",
    "tables-with-pending",
    "try-acquire-lock",
    "acquire-lock-0ms",
    "wait-for-unlock-0ms",
    "drop-guard",
    "is-locked",
    "lock-holder",
    "submit",
    "drain",
    "drain-all",
    "wait-applied",
    "fifo-order",
    "get-pending-batch",
    "submit-batch",
    "drain-batch",
    "drain-all-batch",
    "refused-apply",
    "record-failed-apply",
    "move-aside",
    "invalid-row",
    "remove-missing-id",
    "malformed-queue-id",
    "invalid-table-name",
    "absolute-table-name",
];

/// The classes whose divergence on the old module leaves the backends'
/// queues comparable: a refused input changed nothing on fs and mem, and
/// whatever the old module did with it lies outside the valid tables (an
/// accepted invalid write is removed again), or the step only counted a
/// failure. Steps that only read, and coordinator steps with the same
/// effect (see [`same_effect`]), keep them comparable too. After any other
/// divergence on the old module its later steps are not compared.
const STATE_PRESERVING: [&str; 6] = [
    "invalid-row",
    "remove-missing-id",
    "malformed-queue-id",
    "invalid-table-name",
    "absolute-table-name",
    "record-failed-apply",
];

/// Whether a divergence on the old module at this step leaves the queues
/// comparable.
fn preserves_state(op: &Op, class: &str, obs: &[Obs; BACKENDS]) -> bool {
    let reads_only = matches!(
        op,
        Op::GetNext(_)
            | Op::GetBatch(..)
            | Op::Count(_)
            | Op::IsPending(..)
            | Op::MovedAside(_)
            | Op::TablesWithPending
            | Op::IsLocked(_)
            | Op::LockHolder(_)
            | Op::WaitForUnlockNow(_)
            | Op::WaitApplied(..)
    );
    reads_only || STATE_PRESERVING.contains(&class) || same_effect(&obs[0], &obs[1])
}

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
    /// What the old module, fs, mem and pg showed (pg: skipped without a
    /// server).
    pub obs: [Obs; BACKENDS],
}

/// One trace, compared.
#[derive(Debug, Clone)]
pub struct Compared {
    /// The steps compared, from the first: all of them, or up to and
    /// including the first step on which the new backends disagree.
    pub steps: Vec<Step>,
    /// How many steps after that were run but not compared.
    pub not_compared: usize,
}

/// What a backend that did not run shows at every step.
const NO_SERVER: Obs = Obs::Skipped("no PostgreSQL server");

/// Runs `ops` on each backend through `model::observe`, a fresh backend
/// from its factory each time: the old module on `<tmp>/a/b/c` without the
/// absolute names, fs on a temporary directory, mem, pg in a fresh
/// namespace (or [`NO_SERVER`] at every step). A new backend joins here
/// with its own factory.
fn observe_all(ops: &[Op], bases: &Bases) -> [Vec<Obs>; BACKENDS] {
    let bases = bases.fresh();
    let on = |observe: &dyn Fn() -> Vec<Obs>| {
        quietly(observe).unwrap_or_else(|message| vec![Obs::Panicked(message); ops.len()])
    };
    let pg = if bases.has_pg() {
        on(&|| model::observe(|| bases.pg(), ops, Observe::default()))
    } else {
        vec![NO_SERVER; ops.len()]
    };
    [
        on(&|| model::observe(|| bases.last(), ops, Observe::skipping_absolute_names())),
        on(&|| model::observe(|| bases.fs(), ops, Observe::default())),
        on(&|| model::observe(MemBackend::new, ops, Observe::default())),
        pg,
    ]
}

/// Runs `ops` on the four backends and compares the steps. Once the old
/// module diverges in a way that can leave its state apart, its later
/// steps are not compared (the new backends still are); once the new
/// backends disagree, which is a bug, nothing more is compared.
pub fn run_and_compare(ops: &[Op], bases: &Bases) -> Compared {
    let [on_last, on_fs, on_mem, on_pg] = observe_all(ops, bases);
    let mut steps = Vec::new();
    let mut last_apart = None;
    for (index, (op, (l, (f, (m, p))))) in ops
        .iter()
        .zip(
            on_last
                .into_iter()
                .zip(on_fs.into_iter().zip(on_mem.into_iter().zip(on_pg))),
        )
        .enumerate()
    {
        let l = match last_apart {
            Some(_) => Obs::Skipped("its state differs since an earlier step"),
            None => l,
        };
        let obs = [l, f, m, p];
        let differs_on = differing(&obs);
        let class = class_of(op, &obs, !differs_on.is_empty());
        let bug = differs_on.involves_new_backend();
        let apart = differs_on.contains(Backend::Last) && !preserves_state(op, class, &obs);
        steps.push(Step {
            class,
            differs_on,
            obs,
        });
        if bug {
            break;
        }
        if apart && last_apart.is_none() {
            last_apart = Some(index);
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

/// Whether two coordinator steps had the same effect on the queue: the
/// same outcome once the failure counts are set aside, and the same writes
/// applied (in calls that succeeded), however they were grouped into calls
/// and in whatever order (the old module's order is that of creation
/// times, which tie).
fn same_effect(one: &Obs, other: &Obs) -> bool {
    match (one, other) {
        (Obs::Coordinated(a, calls_a), Obs::Coordinated(b, calls_b)) => {
            without_counts(a) == without_counts(b)
                && sorted(&applied(calls_a)) == sorted(&applied(calls_b))
        }
        _ => false,
    }
}

/// Writes in a canonical order, to compare them as a multiset.
fn sorted(writes: &[&PendingWrite]) -> Vec<String> {
    let mut keys: Vec<String> = writes.iter().map(|write| format!("{write:?}")).collect();
    keys.sort();
    keys
}

fn without_counts(outcome: &Outcome) -> Outcome {
    let erase = |fault: &WriteFault| match fault {
        WriteFault::Apply { entry, .. } => WriteFault::Apply {
            entry: entry.clone(),
            attempts: None,
        },
        other => other.clone(),
    };
    match outcome {
        Outcome::Failed(fault, back) => Outcome::Failed(erase(fault), *back),
        Outcome::DrainedAll(drained, tables, busy, failed) => Outcome::DrainedAll(
            *drained,
            *tables,
            busy.clone(),
            failed.iter().map(|(t, f)| (t.clone(), erase(f))).collect(),
        ),
        other => other.clone(),
    }
}

/// The writes of the calls that `apply` accepted, in order.
fn applied(calls: &[Call]) -> Vec<&PendingWrite> {
    calls
        .iter()
        .filter(|call| !call.writes.iter().any(|(_, write)| is_refused(write)))
        .flat_map(|call| call.writes.iter().map(|(_, write)| write))
        .collect()
}

fn class_of(op: &Op, obs: &[Obs; BACKENDS], differ: bool) -> &'static str {
    if let Some(TableArg::Bad(_)) = op.table() {
        let absolute = op.table().is_some_and(TableArg::is_absolute);
        return if absolute {
            "absolute-table-name"
        } else {
            "invalid-table-name"
        };
    }
    if op.ids().iter().any(|id| matches!(id, IdArg::Malformed(_))) {
        return "malformed-queue-id";
    }
    let missing = || {
        obs.iter().any(|o| {
            matches!(o, Obs::Failed(Fault::NotFound(..)))
                || matches!(o, Obs::Failed(Fault::Other(v)) if v == "IoError")
        })
    };
    let invalid = |write: &PendingWrite| validate_write(write).is_err();
    match op {
        Op::GetNext(_) | Op::RemoveHead(_) if differ && other_entry(obs) => "fifo-order",
        Op::GetBatch(..) if differ && !prefixes(obs) => "fifo-order",
        Op::Submit(..) | Op::Drain(..) | Op::DrainAll(..) if differ && reordered(obs) => {
            "fifo-order"
        }
        Op::QueueWrite(_, write) | Op::Submit(_, write, _) if invalid(write) => "invalid-row",
        Op::Submit(..) | Op::Drain(..) | Op::DrainAll(..) if refused(obs) => "refused-apply",
        Op::QueueWrite(..) => "queue-write",
        Op::GetNext(_) => "get-next-pending",
        Op::GetBatch(..) => "get-pending-batch",
        Op::RemoveHead(_) => "remove-head",
        Op::Remove(_, IdArg::Unknown(_)) => "remove-missing-id",
        Op::Remove(..) | Op::RemoveBatch(..) if missing() => "remove-missing-id",
        Op::Remove(..) => "remove-issued-id",
        Op::RemoveBatch(..) => "remove-batch",
        Op::Count(_) => "count-pending",
        Op::IsPending(..) => "is-pending",
        Op::MoveAside(..) => "move-aside",
        Op::MovedAside(_) => "moved-aside",
        Op::RecordFailedApply(..) => "record-failed-apply",
        Op::TablesWithPending => "tables-with-pending",
        Op::TryAcquire(_) => "try-acquire-lock",
        Op::AcquireNow(_) => "acquire-lock-0ms",
        Op::WaitForUnlockNow(_) => "wait-for-unlock-0ms",
        Op::Release(_) => "drop-guard",
        Op::IsLocked(_) => "is-locked",
        Op::LockHolder(_) => "lock-holder",
        Op::Submit(_, _, mode) if mode.batch => "submit-batch",
        Op::Submit(..) => "submit",
        Op::Drain(_, mode) if mode.batch => "drain-batch",
        Op::Drain(..) => "drain",
        Op::DrainAll(mode) if mode.batch => "drain-all-batch",
        Op::DrainAll(_) => "drain-all",
        Op::WaitApplied(..) => "wait-applied",
        Op::Own(never) => match *never {},
    }
}

/// Each backend returned an entry (or skipped the step), but not the same
/// one: the order of the queue differs.
fn other_entry(obs: &[Obs; BACKENDS]) -> bool {
    obs.iter()
        .all(|o| matches!(o, Obs::Next(Some(_)) | Obs::Removed(_) | Obs::Skipped(_)))
}

/// Every batch returned is a prefix of the longest (a shorter batch, not
/// another order).
fn prefixes(obs: &[Obs; BACKENDS]) -> bool {
    let batches: Vec<&Vec<_>> = obs
        .iter()
        .filter_map(|o| match o {
            Obs::Batch(batch) => Some(batch),
            _ => None,
        })
        .collect();
    let longest = batches.iter().map(|b| b.len()).max().unwrap_or(0);
    let Some(full) = batches.iter().find(|b| b.len() == longest) else {
        return true;
    };
    batches.iter().all(|b| full.starts_with(b))
}

/// The coordinator applied the same writes on every backend, in another
/// order on some.
fn reordered(obs: &[Obs; BACKENDS]) -> bool {
    let mut orders = obs.iter().filter_map(|o| match o {
        Obs::Coordinated(_, calls) => Some(applied(calls)),
        _ => None,
    });
    let Some(first) = orders.next() else {
        return false;
    };
    orders.any(|other| other != first && sorted(&other) == sorted(&first))
}

/// Some backend's `apply` refused a write in the step.
fn refused(obs: &[Obs; BACKENDS]) -> bool {
    obs.iter().any(|o| match o {
        Obs::Coordinated(_, calls) => calls
            .iter()
            .any(|call| call.writes.iter().any(|(_, write)| is_refused(write))),
        _ => false,
    })
}

/// The backends whose result differs from the others'. A backend that
/// skipped the step (the old module on an absolute name or after its state
/// went apart, pg without a server) is left out. When the new backends
/// agree, only the old module can differ; when they do not (a bug), those
/// that differ from the one result most backends showed do, or all of them
/// when no result has the most.
fn differing(obs: &[Obs; BACKENDS]) -> BackendSet {
    let ran = |backend: &Backend| !matches!(obs[backend.index()], Obs::Skipped(_));
    let new: Vec<Backend> = Backend::NEW.into_iter().filter(ran).collect();
    let Some(first) = new.first() else {
        return BackendSet::EMPTY;
    };
    let agreed = &obs[first.index()];
    if new.iter().all(|b| obs[b.index()] == *agreed) {
        let last_differs = ran(&Backend::Last) && obs[Backend::Last.index()] != *agreed;
        return if last_differs {
            BackendSet::of(&[Backend::Last])
        } else {
            BackendSet::EMPTY
        };
    }
    let ran_all: Vec<Backend> = Backend::ALL.into_iter().filter(ran).collect();
    let votes = |value: &Obs| ran_all.iter().filter(|b| obs[b.index()] == *value).count();
    let most = ran_all
        .iter()
        .map(|b| votes(&obs[b.index()]))
        .max()
        .unwrap_or(0);
    let leaders: Vec<&Obs> = ran_all
        .iter()
        .map(|b| &obs[b.index()])
        .filter(|value| votes(value) == most)
        .collect();
    let unique = leaders.iter().all(|value| *value == leaders[0]);
    let differ: Vec<Backend> = ran_all
        .into_iter()
        .filter(|b| !unique || obs[b.index()] != *leaders[0])
        .collect();
    BackendSet::of(&differ)
}
