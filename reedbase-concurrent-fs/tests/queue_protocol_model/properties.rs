// SPDX-License-Identifier: Apache-2.0
//! The promises checked: exact capacity, FIFO, no acknowledged write lost,
//! no failed write applied, and a moved-aside entry keeps its reason.
//!
//! Capacity and FIFO are checked on the step that could break them (a
//! rename into the queue, a count that refuses, an apply); the others in
//! every reachable state, including each state a power cut or a SIGKILL
//! leaves, from which the restarted consumer runs the start-up drain.

use std::fmt;

use super::consumer;
use super::fs::{Content, Name};
use super::protocol::Model;
use super::state::{ConsumerPc, State, Writes, bit};

/// More consumer steps than a drain of the model's queue can take.
const DRAIN_STEPS: usize = 200;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Violation {
    /// An entry was renamed into a queue already holding `pending` entries,
    /// `pending >= capacity`.
    CapacityExceeded { pending: usize },
    /// A write was refused while fewer than capacity entries were pending.
    RefusedBelowCapacity { pending: usize },
    /// More entries pending than capacity, with no power cut to explain
    /// them (a power cut may bring back removed or moved entries).
    TooManyPending { pending: usize },
    /// `later` was applied while `earlier`, acknowledged before `later`'s
    /// call began, was not.
    FifoBroken { earlier: u8, later: u8 },
    /// An acknowledged write is neither applied nor readable in the queue.
    AcknowledgedWriteLost { write: u8 },
    /// A write whose call returned an error was applied.
    FailedWriteApplied { write: u8 },
    /// A moved-aside entry has no readable reason beside it.
    ReasonLost { name: Name },
    /// With no producer inside a call, a drain by the consumer alone (the
    /// start-up recipe) ended with `write` acknowledged but not applied, or
    /// with `left` entries still in the queue.
    DrainIncomplete { write: Option<u8>, left: usize },
}

impl Violation {
    /// The kind, for tests that expect one.
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Violation::CapacityExceeded { .. } => "capacity exceeded",
            Violation::RefusedBelowCapacity { .. } => "refused below capacity",
            Violation::TooManyPending { .. } => "too many pending",
            Violation::FifoBroken { .. } => "FIFO broken",
            Violation::AcknowledgedWriteLost { .. } => "acknowledged write lost",
            Violation::FailedWriteApplied { .. } => "failed write applied",
            Violation::ReasonLost { .. } => "reason lost",
            Violation::DrainIncomplete { .. } => "drain incomplete",
        }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {self:?}", self.kind())
    }
}

/// Checked on `rename_into_queue`, before the rename.
pub(crate) fn check_rename(model: &Model, state: &State) -> Option<Violation> {
    let pending = state.pending_count();
    (pending >= model.config.capacity).then_some(Violation::CapacityExceeded { pending })
}

/// Checked when the count decides the queue is full.
pub(crate) fn check_refusal(model: &Model, state: &State) -> Option<Violation> {
    let pending = state.pending_count();
    (pending < model.config.capacity).then_some(Violation::RefusedBelowCapacity { pending })
}

/// Checked on the first `apply` of `write`.
pub(crate) fn check_apply(state: &State, write: u8) -> Option<Violation> {
    let preceded_by = state.preceded_by.get(usize::from(write))?;
    let missing: Writes = preceded_by & !state.applied;
    (missing != 0).then(|| Violation::FifoBroken {
        earlier: missing.trailing_zeros() as u8,
        later: write,
    })
}

/// Checked in every reachable state.
pub(crate) fn check_state(model: &Model, state: &State) -> Option<Violation> {
    let pending = state.pending_count();
    let after_power_cut = state.power_cuts > 0 && !model.config.capacity_after_power_cut;
    if !after_power_cut && pending > model.config.capacity {
        return Some(Violation::TooManyPending { pending });
    }
    for write in 0..model.config.write_count() {
        if state.acked & bit(write) == 0 || state.applied & bit(write) != 0 {
            continue;
        }
        let readable = state.fs.pending().any(|(seq, w, _)| {
            w == write && state.fs.content(Name::Pending { seq, write }) == Some(Content::Written)
        });
        if !readable {
            return Some(Violation::AcknowledgedWriteLost { write });
        }
    }
    let failed_applied = state.failed & state.applied;
    if failed_applied != 0 {
        return Some(Violation::FailedWriteApplied {
            write: failed_applied.trailing_zeros() as u8,
        });
    }
    for (name, _) in state.fs.names() {
        if let Name::Aside { seq, write, copy } = name {
            let reason = Name::Reason { seq, write, copy };
            if state.fs.content(reason) != Some(Content::Written) {
                return Some(Violation::ReasonLost { name });
            }
        }
    }
    None
}

/// Checked in every state where no producer is inside a call: the
/// consumer alone, without faults, drains the queue empty and every
/// acknowledged write is then applied (what the start-up recipe promises).
pub(crate) fn check_drain(model: &Model, state: &State) -> Option<Violation> {
    if (0..state.producers.len()).any(|p| state.current_write(model, p).is_some()) {
        return None;
    }
    let mut drained = state.clone();
    for _ in 0..DRAIN_STEPS {
        let mut next = Vec::new();
        consumer::successors(model, &drained, &mut next);
        let Some(first) = next.into_iter().next() else {
            break;
        };
        drained = first.state;
        // Drained: a listing that is not a snapshot would list the empty
        // queue again and again.
        if drained.consumer.pc == ConsumerPc::Idle && drained.pending_count() == 0 {
            break;
        }
    }
    let left = drained.pending_count();
    let unapplied = drained.acked & !drained.applied;
    let stopped = drained.consumer.pc == ConsumerPc::Idle;
    (unapplied != 0 || left > 0 || !stopped).then(|| Violation::DrainIncomplete {
        write: (unapplied != 0).then(|| unapplied.trailing_zeros() as u8),
        left,
    })
}
