// SPDX-License-Identifier: Apache-2.0
//! Running a trace on one backend and normalising what each step shows, so
//! that the three backends' results compare by value.
//!
//! Normalisation: a queue id becomes its position in the order this backend
//! issued ids (`#0`, `#1`, ...); an error becomes its variant name; a
//! `PendingWrite` compares by value. A write with an invalid row that a
//! backend accepts is removed from that backend's queue again at once and
//! never numbered, so the later steps compare the same queues.

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use reedbase_concurrent_core::{
    LockBackend, PendingWrite, QueueBackend, ReedError, validate_write,
};

use super::backends::quietly;
use super::findings::{Backend, brief};
use super::trace_ops::{IdArg, MALFORMED_IDS, Op, TableArg, UNKNOWN_IDS, show_write};

/// A queue id, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slot {
    /// The n-th id this backend issued.
    Issued(usize),
    /// An id this backend never returned from `queue_write`.
    Foreign,
    /// An id returned for an invalid table name (not numbered).
    Unnumbered,
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Slot::Issued(n) => write!(f, "#{n}"),
            Slot::Foreign => f.write_str("an id never issued"),
            Slot::Unnumbered => f.write_str("an id"),
        }
    }
}

/// What one step showed on one backend, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Obs {
    /// `queue_write` returned this id.
    Queued(Slot),
    /// `queue_write` accepted a write with an invalid row (removed again).
    AcceptedInvalid,
    /// `get_next_pending` returned this.
    Next(Option<(Slot, PendingWrite)>),
    /// The head was removed; which entry it was.
    Removed(Slot),
    /// The call returned `Ok(())`.
    Unit,
    /// There was no head to remove.
    NothingToRemove,
    /// `count_pending` returned this.
    Count(usize),
    /// `is_locked` returned this.
    Locked(bool),
    /// The lock was taken (and is held).
    Acquired,
    /// `try_acquire_lock` found the lock held.
    Busy,
    /// A held guard was dropped.
    Released,
    /// There was no guard to drop.
    NothingHeld,
    /// The call failed with this error variant (and, for a removal of the
    /// head, which call failed).
    Failed(String),
    /// The step was not run on this backend.
    Skipped(&'static str),
    /// The backend panicked.
    Panicked(String),
}

impl fmt::Display for Obs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Obs::Queued(slot) => write!(f, "Ok({slot})"),
            Obs::AcceptedInvalid => f.write_str("Ok (invalid row accepted)"),
            Obs::Next(None) => f.write_str("Ok(None)"),
            Obs::Next(Some((slot, write))) => write!(f, "Ok({slot}: {})", show_write(write)),
            Obs::Removed(slot) => write!(f, "Ok(removed {slot})"),
            Obs::Unit => f.write_str("Ok(())"),
            Obs::NothingToRemove => f.write_str("empty, nothing to remove"),
            Obs::Count(n) => write!(f, "Ok({n})"),
            Obs::Locked(b) => write!(f, "Ok({b})"),
            Obs::Acquired => f.write_str("acquired"),
            Obs::Busy => f.write_str("Ok(None): held"),
            Obs::Released => f.write_str("released"),
            Obs::NothingHeld => f.write_str("no guard held"),
            Obs::Failed(variant) => write!(f, "Err({variant})"),
            Obs::Skipped(why) => write!(f, "skipped ({why})"),
            Obs::Panicked(message) => write!(f, "panicked: {}", brief(message, 40)),
        }
    }
}

impl Obs {
    /// As `Display`, without the content of a returned write: for the
    /// table's narrow cells.
    pub fn short(&self) -> String {
        match self {
            Obs::Next(Some((slot, _))) => format!("Ok({slot}: ...)"),
            other => other.to_string(),
        }
    }
}

/// The variant name of an error: `LockTimeout`, `InvalidTableName`, ...
pub fn variant(error: &ReedError) -> String {
    let debug = format!("{error:?}");
    debug
        .split(|c: char| !c.is_alphanumeric() && c != '_')
        .next()
        .unwrap_or("?")
        .to_string()
}

/// Runs trace steps on one backend, keeping the ids it issued and the
/// guards it holds.
pub struct Driver<'a, B: LockBackend + QueueBackend> {
    backend: &'a B,
    who: Backend,
    absolute: &'a str,
    issued: Vec<String>,
    guards: HashMap<String, B::Guard>,
    /// Guards of a second acquisition of a lock already held (a broken
    /// lock), kept alive until the end so that later steps see it.
    doubled: Vec<B::Guard>,
}

impl<'a, B: LockBackend + QueueBackend> Driver<'a, B> {
    /// A driver for `backend`; `absolute` is the absolute table name used
    /// for [`TableArg::Absolute`].
    pub fn new(backend: &'a B, who: Backend, absolute: &'a str) -> Self {
        Driver {
            backend,
            who,
            absolute,
            issued: Vec::new(),
            guards: HashMap::new(),
            doubled: Vec::new(),
        }
    }

    /// Runs every step; a panicking step is recorded and the trace goes on.
    pub fn run(mut self, ops: &[Op]) -> Vec<Obs> {
        let observed = ops
            .iter()
            .map(|op| quietly(|| self.step(op)).unwrap_or_else(Obs::Panicked))
            .collect();
        // Release every lock before the temporary directories go.
        let guards = std::mem::take(&mut self.guards);
        let doubled = std::mem::take(&mut self.doubled);
        let _ = quietly(move || drop((guards, doubled)));
        observed
    }

    fn step(&mut self, op: &Op) -> Obs {
        if self.who == Backend::Last && *op.table() == TableArg::Absolute {
            return Obs::Skipped("would write outside its directory");
        }
        let table = op.table().name(self.absolute).to_string();
        let b = self.backend;
        match op {
            Op::QueueWrite(_, write) => match b.queue_write(&table, write) {
                Ok(id) if validate_write(write).is_err() => {
                    // Keep the queues comparable: take the invalid entry out.
                    match b.remove_from_queue(&table, &id) {
                        Ok(()) => Obs::AcceptedInvalid,
                        Err(e) => {
                            Obs::Failed(format!("accepted, then removing it: {}", variant(&e)))
                        }
                    }
                }
                // Only ids of valid tables are numbered: the old module
                // also issues ids for tables the others refuse, and those
                // must not shift its numbering.
                Ok(_) if !matches!(op.table(), TableArg::Valid(_)) => Obs::Queued(Slot::Unnumbered),
                Ok(id) => {
                    self.issued.push(id.clone());
                    Obs::Queued(self.slot(&id))
                }
                Err(e) => Obs::Failed(variant(&e)),
            },
            Op::GetNext(_) => match b.get_next_pending(&table) {
                Ok(next) => Obs::Next(next.map(|(id, write)| (self.slot(&id), write))),
                Err(e) => Obs::Failed(variant(&e)),
            },
            Op::Remove(_, IdArg::Head) => match b.get_next_pending(&table) {
                Ok(Some((id, _))) => match b.remove_from_queue(&table, &id) {
                    Ok(()) => Obs::Removed(self.slot(&id)),
                    Err(e) => Obs::Failed(format!("remove: {}", variant(&e))),
                },
                Ok(None) => Obs::NothingToRemove,
                Err(e) => Obs::Failed(format!("get: {}", variant(&e))),
            },
            Op::Remove(_, id_arg) => {
                let id = self.id_for(id_arg);
                match b.remove_from_queue(&table, &id) {
                    Ok(()) => Obs::Unit,
                    Err(e) => Obs::Failed(variant(&e)),
                }
            }
            Op::Count(_) => match b.count_pending(&table) {
                Ok(n) => Obs::Count(n),
                Err(e) => Obs::Failed(variant(&e)),
            },
            Op::TryAcquire(_) => match b.try_acquire_lock(&table) {
                Ok(Some(guard)) => self.hold(table, guard),
                Ok(None) => Obs::Busy,
                Err(e) => Obs::Failed(variant(&e)),
            },
            Op::AcquireZero(_) => match b.acquire_lock(&table, Duration::ZERO) {
                Ok(guard) => self.hold(table, guard),
                Err(e) => Obs::Failed(variant(&e)),
            },
            Op::Release(_) => match self.guards.remove(&table) {
                Some(guard) => {
                    drop(guard);
                    Obs::Released
                }
                None => Obs::NothingHeld,
            },
            Op::WaitZero(_) => match b.wait_for_unlock(&table, Duration::ZERO) {
                Ok(()) => Obs::Unit,
                Err(e) => Obs::Failed(variant(&e)),
            },
            Op::IsLocked(_) => match b.is_locked(&table) {
                Ok(locked) => Obs::Locked(locked),
                Err(e) => Obs::Failed(variant(&e)),
            },
        }
    }

    fn hold(&mut self, table: String, guard: B::Guard) -> Obs {
        // A second guard for a table already held would be a broken lock;
        // keep both alive so that the next steps see it.
        if let Some(previous) = self.guards.insert(table, guard) {
            self.doubled.push(previous);
            return Obs::Failed("acquired a lock this trace already holds".to_string());
        }
        Obs::Acquired
    }

    fn slot(&self, id: &str) -> Slot {
        self.issued
            .iter()
            .position(|issued| issued == id)
            .map_or(Slot::Foreign, Slot::Issued)
    }

    fn id_for(&self, arg: &IdArg) -> String {
        match arg {
            IdArg::Head => String::new(),
            IdArg::Known(n) if !self.issued.is_empty() => {
                self.issued[n % self.issued.len()].clone()
            }
            IdArg::Known(_) => UNKNOWN_IDS[0].to_string(),
            IdArg::Unknown(i) => UNKNOWN_IDS[i % UNKNOWN_IDS.len()].to_string(),
            IdArg::Malformed(i) => MALFORMED_IDS[i % MALFORMED_IDS.len()].to_string(),
        }
    }
}
