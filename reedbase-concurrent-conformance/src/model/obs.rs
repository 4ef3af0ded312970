// SPDX-License-Identifier: Apache-2.0
//! What a step showed, normalised so that the model and every backend
//! compare by value: queue ids become the order in which the trace was
//! given them, errors keep what every backend must agree on (the variant,
//! the table, the rule, the id), and nothing that depends on the clock or
//! the backend (waits, paths, holders' pids) is kept.

use std::fmt;

use reedbase_concurrent_core::PendingWrite;
use reedbase_concurrent_core::validation::{NameRule, RowField, RowRule};

use super::op::show_write;

/// A queue id, normalised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Slot {
    /// The `n`-th id the trace was given (by `queue_write` or a `submit`
    /// that queued), on any of its valid tables.
    Issued(usize),
    /// An id the trace was never given (an unknown or malformed one).
    Named(String),
    /// An id given for a table name every backend should have refused.
    Unnumbered,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Issued(n) => write!(f, "#{n}"),
            Slot::Named(id) => write!(f, "{id:?}"),
            Slot::Unnumbered => f.write_str("an unnumbered id"),
        }
    }
}

/// An error, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// `InvalidTableName`.
    InvalidTableName {
        /// The name as given.
        name: String,
        /// The rule it broke.
        rule: NameRule,
    },
    /// `InvalidQueueId`.
    InvalidQueueId {
        /// The id as given.
        id: String,
        /// The rule it broke.
        rule: NameRule,
    },
    /// `InvalidRow`.
    InvalidRow {
        /// The row's key.
        key: String,
        /// The field at fault.
        field: RowField,
        /// The rule it broke.
        rule: RowRule,
    },
    /// `LockTimeout` for the table.
    LockTimeout(String),
    /// `QueueFull` for the table, with the size reported.
    QueueFull(String, usize),
    /// `QueueEntryNotFound` for the table and id.
    NotFound(String, Slot),
    /// `CorruptEntry`: the id was moved aside.
    MovedAside(String, Slot),
    /// `WaitTimeout` for the table and id.
    WaitTimeout(String, Slot),
    /// `LockLost` for the table.
    LockLost(String),
    /// Any other error, by its variant's name (`IoError`, ...).
    Other(String),
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::InvalidTableName { rule, .. } => write!(f, "InvalidTableName({rule:?})"),
            Fault::InvalidQueueId { rule, .. } => write!(f, "InvalidQueueId({rule:?})"),
            Fault::InvalidRow { field, rule, .. } => write!(f, "InvalidRow({field}, {rule:?})"),
            Fault::LockTimeout(_) => f.write_str("LockTimeout"),
            Fault::QueueFull(_, size) => write!(f, "QueueFull({size})"),
            Fault::NotFound(_, slot) => write!(f, "QueueEntryNotFound({slot})"),
            Fault::MovedAside(_, slot) => write!(f, "CorruptEntry({slot})"),
            Fault::WaitTimeout(_, slot) => write!(f, "WaitTimeout({slot})"),
            Fault::LockLost(_) => f.write_str("LockLost"),
            Fault::Other(variant) => f.write_str(variant),
        }
    }
}

/// A coordinator error ([`WriteError`](reedbase_concurrent_core::WriteError)), normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteFault {
    /// The backend failed.
    Backend(Fault),
    /// `apply` failed for this queued write (`None`: the caller's own), with
    /// the count of failures the backend recorded.
    Apply {
        /// The queued write that failed.
        entry: Option<Slot>,
        /// How many times it has failed, if the backend counted.
        attempts: Option<u32>,
    },
}

impl fmt::Display for WriteFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WriteFault::Backend(fault) => fault.fmt(f),
            WriteFault::Apply { entry: None, .. } => f.write_str("Apply(own write)"),
            WriteFault::Apply {
                entry: Some(slot),
                attempts,
            } => {
                write!(f, "Apply({slot}, attempts {attempts:?})")
            }
        }
    }
}

/// How `apply` was given a write: as a queued write, or the caller's own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Key {
    /// A queued write, under its id.
    Queued(Slot),
    /// The caller's own write.
    Direct,
}

/// One `apply` call: the table and the writes, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The table.
    pub table: String,
    /// The writes, each with its key.
    pub writes: Vec<(Key, PendingWrite)>,
}

impl fmt::Display for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let writes: Vec<String> = self
            .writes
            .iter()
            .map(|(key, write)| match key {
                Key::Queued(slot) => format!("{slot} {}", show_write(write)),
                Key::Direct => format!("own {}", show_write(write)),
            })
            .collect();
        write!(f, "{}: [{}]", self.table, writes.join(", "))
    }
}

/// What a coordinator call returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `submit`: applied after `drained` queued writes.
    Applied(usize),
    /// `submit`: queued.
    Queued(Slot),
    /// `drain`: this many applied.
    Drained(usize),
    /// `drain_all`: applied (also in tables that then failed), tables, the
    /// tables whose lock was busy, and the tables that failed.
    DrainedAll(usize, usize, Vec<String>, Vec<(String, WriteFault)>),
    /// The call failed; for `submit`, whether the write came back unchanged.
    Failed(WriteFault, bool),
    /// `drain_all` could not list the tables.
    NotListed(Fault),
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Applied(drained) => write!(f, "Applied(after {drained})"),
            Outcome::Queued(slot) => write!(f, "Queued({slot})"),
            Outcome::Drained(n) => write!(f, "Drained({n})"),
            Outcome::DrainedAll(drained, tables, busy, failed) => {
                let failed: Vec<String> = failed.iter().map(|(t, e)| format!("{t}: {e}")).collect();
                write!(
                    f,
                    "DrainedAll({drained} in {tables}, busy [{}], failed [{}])",
                    busy.join(", "),
                    failed.join(", ")
                )
            }
            Outcome::Failed(fault, true) => write!(f, "Err({fault}, handed back)"),
            Outcome::Failed(fault, false) => write!(f, "Err({fault})"),
            Outcome::NotListed(fault) => write!(f, "Err({fault})"),
        }
    }
}

/// Why an entry lies in the moved-aside list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MovedReason {
    /// The trace's `move_aside`.
    Trace,
    /// The coordinator's dead-letter policy.
    DeadLetter,
    /// The backend could not read it (a backend's own reason).
    Unreadable,
}

/// What one step showed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Obs {
    /// `queue_write` returned this id.
    Queued(Slot),
    /// A write every backend should refuse was accepted (and is removed
    /// again at once, so that the queues stay comparable).
    AcceptedInvalid,
    /// `get_next_pending` returned this.
    Next(Option<(Slot, PendingWrite)>),
    /// `get_pending_batch` returned this.
    Batch(Vec<(Slot, PendingWrite)>),
    /// The head was removed.
    Removed(Slot),
    /// There was no head to remove.
    NothingToRemove,
    /// The call returned `Ok(())`.
    Done,
    /// `count_pending` returned this.
    Count(usize),
    /// `is_locked` returned this.
    Locked(bool),
    /// `is_pending` returned this.
    Pending(bool),
    /// `lock_holder` returned a holder (`true`) or `None`.
    Holder(bool),
    /// `record_failed_apply` returned this count.
    Attempts(u32),
    /// `move_aside` moved this entry.
    Moved(Slot),
    /// `moved_aside` listed these, sorted.
    MovedList(Vec<(Slot, MovedReason)>),
    /// `tables_with_pending` returned these.
    Tables(Vec<String>),
    /// The lock was taken, and the guard kept.
    Acquired,
    /// `try_acquire_lock` found the lock held.
    Busy,
    /// A held guard was dropped.
    Released,
    /// There was no guard to drop.
    NothingHeld,
    /// A coordinator call: what it returned and every `apply` call it made.
    Coordinated(Outcome, Vec<Call>),
    /// The call failed.
    Failed(Fault),
    /// What a backend's own operation showed.
    Own(String),
    /// The backend broke a contract the model does not compare by value
    /// (an id reused, a malformed id, a lock taken twice).
    Broken(String),
    /// The step was not run on this backend.
    Skipped(&'static str),
    /// The step panicked.
    Panicked(String),
}

impl fmt::Display for Obs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slots = |entries: &[(Slot, PendingWrite)]| -> String {
            let shown: Vec<String> = entries
                .iter()
                .map(|(slot, write)| format!("{slot}: {}", show_write(write)))
                .collect();
            shown.join(", ")
        };
        match self {
            Obs::Queued(slot) => write!(f, "Ok({slot})"),
            Obs::AcceptedInvalid => f.write_str("Ok (accepted a write it should refuse)"),
            Obs::Next(None) => f.write_str("Ok(None)"),
            Obs::Next(Some(entry)) => write!(f, "Ok({})", slots(std::slice::from_ref(entry))),
            Obs::Batch(entries) => write!(f, "Ok([{}])", slots(entries)),
            Obs::Removed(slot) => write!(f, "Ok(removed {slot})"),
            Obs::NothingToRemove => f.write_str("empty, nothing to remove"),
            Obs::Done => f.write_str("Ok(())"),
            Obs::Count(n) => write!(f, "Ok({n})"),
            Obs::Locked(b) | Obs::Pending(b) => write!(f, "Ok({b})"),
            Obs::Holder(held) => f.write_str(if *held {
                "Ok(Some(holder))"
            } else {
                "Ok(None)"
            }),
            Obs::Attempts(n) => write!(f, "Ok({n} failures)"),
            Obs::Moved(slot) => write!(f, "Ok(moved {slot})"),
            Obs::MovedList(moved) => {
                let moved: Vec<String> = moved.iter().map(|(s, r)| format!("{s} {r:?}")).collect();
                write!(f, "Ok([{}])", moved.join(", "))
            }
            Obs::Tables(tables) => write!(f, "Ok({tables:?})"),
            Obs::Acquired => f.write_str("acquired"),
            Obs::Busy => f.write_str("Ok(None): held"),
            Obs::Released => f.write_str("released"),
            Obs::NothingHeld => f.write_str("no guard held"),
            Obs::Coordinated(outcome, calls) => {
                let calls: Vec<String> = calls.iter().map(ToString::to_string).collect();
                write!(f, "{outcome}; apply calls: {}", calls.join(" | "))
            }
            Obs::Failed(fault) => write!(f, "Err({fault})"),
            Obs::Own(text) => f.write_str(text),
            Obs::Broken(what) => write!(f, "BROKEN: {what}"),
            Obs::Skipped(why) => write!(f, "skipped ({why})"),
            Obs::Panicked(message) => write!(f, "panicked: {message}"),
        }
    }
}

impl Obs {
    /// As `Display`, without the contents of writes and calls: for narrow
    /// table cells.
    pub fn short(&self) -> String {
        match self {
            Obs::Next(Some((slot, _))) => format!("Ok({slot}: ...)"),
            Obs::Batch(entries) => format!("Ok({} entries)", entries.len()),
            Obs::Coordinated(outcome, calls) => format!("{outcome}, {} calls", calls.len()),
            other => other.to_string(),
        }
    }
}
