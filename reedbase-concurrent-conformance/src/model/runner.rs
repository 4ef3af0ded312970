// SPDX-License-Identifier: Apache-2.0
//! [`Runner`]: runs the operations on a real backend and normalises what
//! each shows into an [`Obs`]. The coordinator's calls are in
//! `runner_flow.rs`.

use std::collections::HashMap;

use reedbase_concurrent_core::PendingWrite;
use reedbase_concurrent_core::WriteCoordinator;
use reedbase_concurrent_core::validation::validate_queue_id;
use reedbase_concurrent_core::{Backend, QueueBackend};
use reedbase_concurrent_core::{ReedError, ReedResult};

use super::obs::{Fault, MovedReason, Obs, Slot};
use super::op::{APPLY_REFUSAL, IdArg, NOW, Op, TABLES, TRACE_REASON, TableArg, row_fault};

/// Runs operations on one backend, remembering the ids it was given (to
/// number them) and the lock guards it holds.
pub struct Runner<'a, B: Backend> {
    backend: &'a B,
    /// Every id the trace was given on a valid table, with the table.
    issued: Vec<(usize, String)>,
    guards: HashMap<String, B::Guard>,
    /// Guards of a lock taken while the trace held it already (a broken
    /// lock), kept so that the next steps see it.
    doubled: Vec<B::Guard>,
    skip_absolute: bool,
}

impl<'a, B: Backend> Runner<'a, B> {
    /// A runner for `backend`, which must start empty.
    pub fn new(backend: &'a B) -> Self {
        Runner {
            backend,
            issued: Vec::new(),
            guards: HashMap::new(),
            doubled: Vec::new(),
            skip_absolute: false,
        }
    }

    /// Skips ([`Obs::Skipped`]) every step that names an absolute table
    /// name or queue id, for a backend that validates nothing and would
    /// use them as they are (the old module).
    pub fn skipping_absolute_names(mut self) -> Self {
        self.skip_absolute = true;
        self
    }

    /// The backend.
    pub fn backend(&self) -> &'a B {
        self.backend
    }

    /// Runs one step; a backend's own operation shows [`Obs::Skipped`] (its
    /// [`OwnOps`](super::OwnOps) runs it instead).
    pub fn step<X>(&mut self, op: &Op<X>) -> Obs {
        let absolute = op.table().is_some_and(TableArg::is_absolute)
            || op.ids().iter().any(|id| id.is_absolute());
        if self.skip_absolute && absolute {
            return Obs::Skipped("an absolute name would leave the test directory");
        }
        let b = self.backend;
        let name = op.table().map_or("", TableArg::name);
        use Op::*;
        let result = match op {
            TryAcquire(_) => match b.try_acquire_lock(name) {
                Ok(Some(guard)) => return self.hold(name, guard),
                other => other.map(|_| Obs::Busy),
            },
            AcquireNow(_) => match b.acquire_lock(name, NOW) {
                Ok(guard) => return self.hold(name, guard),
                Err(error) => Err(error),
            },
            Release(_) => match self.guards.remove(name) {
                Some(_) => Ok(Obs::Released),
                None => Ok(Obs::NothingHeld),
            },
            IsLocked(_) => b.is_locked(name).map(Obs::Locked),
            WaitForUnlockNow(_) => b.wait_for_unlock(name, NOW).map(|()| Obs::Done),
            LockHolder(_) => b
                .lock_holder(name)
                .map(|holder| Obs::Holder(holder.is_some())),
            QueueWrite(t, write) => return self.queue_write_through(b, *t, write),
            GetNext(_) => b
                .get_next_pending(name)
                .map(|next| Obs::Next(next.map(|(id, write)| (self.slot_of(&id), write)))),
            GetBatch(_, max) => b.get_pending_batch(name, *max).map(|batch| {
                Obs::Batch(
                    batch
                        .into_iter()
                        .map(|(id, w)| (self.slot_of(&id), w))
                        .collect(),
                )
            }),
            RemoveHead(_) => match b.get_next_pending(name) {
                Ok(Some((id, _))) => b
                    .remove_from_queue(name, &id)
                    .map(|()| Obs::Removed(self.slot_of(&id))),
                Ok(None) => Ok(Obs::NothingToRemove),
                Err(error) => Err(error),
            },
            Remove(t, id) => {
                let id = self.resolve(*t, *id);
                b.remove_from_queue(name, &id).map(|()| Obs::Done)
            }
            RemoveBatch(t, ids) => {
                let ids: Vec<String> = ids.iter().map(|id| self.resolve(*t, *id)).collect();
                b.remove_batch_from_queue(name, &ids).map(|()| Obs::Done)
            }
            Count(_) => b.count_pending(name).map(Obs::Count),
            IsPending(t, id) => b.is_pending(name, &self.resolve(*t, *id)).map(Obs::Pending),
            MoveAside(t, id) => b
                .move_aside(name, &self.resolve(*t, *id), TRACE_REASON)
                .map(|moved| Obs::Moved(self.slot_of(&moved.id))),
            MovedAside(_) => b.moved_aside(name).map(|moved| {
                let mut moved: Vec<(Slot, MovedReason)> = moved
                    .iter()
                    .map(|m| (self.slot_of(&m.id), reason_of(&m.reason)))
                    .collect();
                moved.sort();
                Obs::MovedList(moved)
            }),
            RecordFailedApply(t, id) => b
                .record_failed_apply(name, &self.resolve(*t, *id))
                .map(Obs::Attempts),
            TablesWithPending => b.tables_with_pending().map(Obs::Tables),
            Submit(t, write, mode) => return self.submit(*t, write, mode),
            Drain(t, mode) => return self.drain(*t, mode),
            DrainAll(mode) => return self.drain_all(mode),
            WaitApplied(t, id) => WriteCoordinator::new(b)
                .wait_applied(name, &self.resolve(*t, *id), NOW)
                .map(|()| Obs::Done),
            Own(_) => Ok(Obs::Skipped("a backend's own operation")),
        };
        match result {
            Ok(obs) => obs,
            Err(error) => Obs::Failed(self.fault(&error)),
        }
    }

    /// Runs `queue_write` through `handle` (this runner's backend, or
    /// another handle on the same storage, such as a second codec) and
    /// numbers the id. A write that every backend should refuse but
    /// `handle` accepted is removed again at once, so that the queues stay
    /// comparable, and shows [`Obs::AcceptedInvalid`].
    pub fn queue_write_through<Q: QueueBackend>(
        &mut self,
        handle: &Q,
        t: TableArg,
        write: &PendingWrite,
    ) -> Obs {
        let name = t.name();
        match (handle.queue_write(name, write), t.valid()) {
            (Ok(id), Ok(i)) if row_fault(write).is_none() => self.issue(i, id),
            (Ok(id), _) => match handle.remove_from_queue(name, &id) {
                Ok(()) => Obs::AcceptedInvalid,
                Err(error) => Obs::Broken(format!(
                    "accepted a write it should refuse, then could not remove it: {error}"
                )),
            },
            (Err(error), _) => Obs::Failed(self.fault(&error)),
        }
    }

    /// The ids of table `TABLES[table]`'s pending entries, in the order
    /// the trace was given them (queue order), as `is_pending` tells.
    ///
    /// # Errors
    ///
    /// The backend's `is_pending` errors.
    pub fn pending_ids(&self, table: usize) -> ReedResult<Vec<String>> {
        let table = table % TABLES.len();
        let mut pending = Vec::new();
        for (_, id) in self.issued.iter().filter(|(t, _)| *t == table) {
            if self.backend.is_pending(TABLES[table], id)? {
                pending.push(id.clone());
            }
        }
        Ok(pending)
    }

    /// An id, normalised: its place among the ids the trace was given.
    pub fn slot_of(&self, id: &str) -> Slot {
        match self.issued.iter().position(|(_, issued)| issued == id) {
            Some(n) => Slot::Issued(n),
            None => Slot::Named(id.to_string()),
        }
    }

    /// Numbers an id the backend gave for a write to table `TABLES[i]`,
    /// checking that it is well formed and new.
    pub(super) fn issue(&mut self, i: usize, id: String) -> Obs {
        if let Err(error) = validate_queue_id(&id) {
            return Obs::Broken(format!("the backend gave a malformed id: {error}"));
        }
        if self.issued.iter().any(|(_, issued)| *issued == id) {
            return Obs::Broken(format!("the backend gave id {id:?} twice"));
        }
        self.issued.push((i, id));
        Obs::Queued(Slot::Issued(self.issued.len() - 1))
    }

    fn hold(&mut self, name: &str, guard: B::Guard) -> Obs {
        match self.guards.insert(name.to_string(), guard) {
            Some(previous) => {
                self.doubled.push(previous);
                Obs::Broken("acquired a lock this trace holds already".to_string())
            }
            None => Obs::Acquired,
        }
    }

    /// The id an argument names on table `t`.
    fn resolve(&self, t: TableArg, id: IdArg) -> String {
        if let Some((malformed, _)) = id.malformed() {
            return malformed.to_string();
        }
        let picked = match (id, t.valid()) {
            (IdArg::Issued(pick), _) if !self.issued.is_empty() => {
                Some(self.issued[IdArg::index(pick, self.issued.len())].1.clone())
            }
            (IdArg::Pending(pick), Ok(i)) => {
                let pending = self.pending_ids(i).unwrap_or_default();
                (!pending.is_empty()).then(|| pending[IdArg::index(pick, pending.len())].clone())
            }
            _ => None,
        };
        picked.unwrap_or_else(|| id.unknown().to_string())
    }

    /// An error, normalised.
    pub(super) fn fault(&self, error: &ReedError) -> Fault {
        match error {
            ReedError::InvalidTableName { name, rule } => Fault::InvalidTableName {
                name: name.clone(),
                rule: *rule,
            },
            ReedError::InvalidQueueId { id, rule } => Fault::InvalidQueueId {
                id: id.clone(),
                rule: *rule,
            },
            ReedError::InvalidRow { key, field, rule } => Fault::InvalidRow {
                key: key.clone(),
                field: *field,
                rule: *rule,
            },
            ReedError::LockTimeout { table, .. } => Fault::LockTimeout(table.clone()),
            ReedError::QueueFull { table, size } => Fault::QueueFull(table.clone(), *size),
            ReedError::QueueEntryNotFound { table, queue_id } => {
                Fault::NotFound(table.clone(), self.slot_of(queue_id))
            }
            ReedError::CorruptEntry {
                table, queue_id, ..
            } => Fault::MovedAside(table.clone(), self.slot_of(queue_id)),
            ReedError::WaitTimeout {
                table, queue_id, ..
            } => Fault::WaitTimeout(table.clone(), self.slot_of(queue_id)),
            ReedError::LockLost { table, .. } => Fault::LockLost(table.clone()),
            other => {
                let debug = format!("{other:?}");
                let variant = debug.split(|c: char| !c.is_alphanumeric()).next();
                Fault::Other(variant.unwrap_or("?").to_string())
            }
        }
    }
}

/// Why an entry was moved aside, by its reason's text.
fn reason_of(reason: &str) -> MovedReason {
    if reason.contains(TRACE_REASON) {
        MovedReason::Trace
    } else if reason.contains(APPLY_REFUSAL) {
        MovedReason::DeadLetter
    } else {
        MovedReason::Unreadable
    }
}
