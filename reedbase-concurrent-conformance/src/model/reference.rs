// SPDX-License-Identifier: Apache-2.0
//! [`Model`]: the plain reference every backend is compared with, a FIFO
//! queue, a lock flag and a list of entries moved aside per table. The
//! coordinator's calls are in `reference_flow.rs`.

use std::collections::VecDeque;

use reedbase_concurrent_core::PendingWrite;

use super::obs::{Fault, MovedReason, Obs, Slot};
use super::op::{IdArg, Op, TABLES, TableArg, row_fault};

/// A queued entry of the model.
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub(super) slot: usize,
    pub(super) write: PendingWrite,
    /// The backend can no longer read it (a backend's own operation broke
    /// it): the next read that passes it moves it aside.
    pub(super) unreadable: bool,
    /// Failed applies recorded for it.
    pub(super) failures: u32,
}

#[derive(Debug, Default)]
pub(super) struct Table {
    pub(super) queue: VecDeque<Entry>,
    pub(super) moved: Vec<(usize, MovedReason)>,
    pub(super) locked: bool,
}

/// An id as the model resolves it: one it issued, or a name.
pub(super) enum ModelId {
    Slot(usize),
    Named(String),
}

/// The reference model: what every operation should show on a backend that
/// starts empty, with queues of `capacity` entries.
#[derive(Debug)]
pub struct Model {
    pub(super) capacity: usize,
    pub(super) tables: Vec<Table>,
    /// The table of each issued slot.
    pub(super) issued: Vec<usize>,
}

impl Model {
    /// An empty model of a backend whose queues hold `capacity` entries.
    pub fn new(capacity: usize) -> Model {
        Model {
            capacity,
            tables: TABLES.iter().map(|_| Table::default()).collect(),
            issued: Vec::new(),
        }
    }

    /// What `op` should show, updating the model; a backend's own operation
    /// shows [`Obs::Skipped`] (its [`OwnOps`](super::OwnOps) says instead).
    pub fn step<X>(&mut self, op: &Op<X>) -> Obs {
        use Op::*;
        match op {
            TryAcquire(t) | AcquireNow(t) => self.acquire(*t, matches!(op, TryAcquire(_))),
            Release(t) => match t.valid() {
                Ok(i) if self.tables[i].locked => {
                    self.tables[i].locked = false;
                    Obs::Released
                }
                _ => Obs::NothingHeld,
            },
            IsLocked(t) => self.on_table(*t, |_, table| Obs::Locked(table.locked)),
            WaitForUnlockNow(t) => self.on_table(*t, |i, table| match table.locked {
                true => Obs::Failed(Fault::LockTimeout(TABLES[i].to_string())),
                false => Obs::Done,
            }),
            LockHolder(t) => self.on_table(*t, |_, table| Obs::Holder(table.locked)),
            QueueWrite(t, write) => self.queue_write(*t, write),
            GetNext(t) => self.with_table(*t, |model, i| {
                Obs::Next(model.read_batch(i, 1).into_iter().next())
            }),
            GetBatch(t, max) => {
                self.with_table(*t, |model, i| Obs::Batch(model.read_batch(i, *max)))
            }
            RemoveHead(t) => self.with_table(*t, |model, i| {
                match model.read_batch(i, 1).into_iter().next() {
                    Some((Slot::Issued(slot), _)) => {
                        model.remove_slot(i, slot);
                        Obs::Removed(Slot::Issued(slot))
                    }
                    _ => Obs::NothingToRemove,
                }
            }),
            Remove(t, id) => self.with_id(*t, *id, |model, i, id| match model.remove(i, &id) {
                Ok(()) => Obs::Done,
                Err(fault) => Obs::Failed(fault),
            }),
            RemoveBatch(t, ids) => self.remove_batch(*t, ids),
            Count(t) => self.on_table(*t, |_, table| Obs::Count(table.queue.len())),
            IsPending(t, id) => self.with_id(*t, *id, |model, i, id| {
                Obs::Pending(model.pending(i, &id).is_ok())
            }),
            MoveAside(t, id) => self.with_id(*t, *id, |model, i, id| match model.pending(i, &id) {
                Ok(slot) => {
                    model.move_aside(i, slot, MovedReason::Trace);
                    Obs::Moved(Slot::Issued(slot))
                }
                Err(fault) => Obs::Failed(fault),
            }),
            MovedAside(t) => self.on_table(*t, |_, table| {
                let mut moved: Vec<(Slot, MovedReason)> = table
                    .moved
                    .iter()
                    .map(|(slot, reason)| (Slot::Issued(*slot), *reason))
                    .collect();
                moved.sort();
                Obs::MovedList(moved)
            }),
            RecordFailedApply(t, id) => self.with_id(*t, *id, |model, i, id| {
                match model.pending(i, &id) {
                    Ok(slot) => Obs::Attempts(model.record_failure(i, slot)),
                    // Not pending, moved aside or not: not found.
                    Err(_) => Obs::Failed(Fault::NotFound(TABLES[i].to_string(), model.slot(&id))),
                }
            }),
            TablesWithPending => Obs::Tables(self.tables_with_pending()),
            Submit(t, write, mode) => self.submit(*t, write, mode),
            Drain(t, mode) => self.drain(*t, mode),
            DrainAll(mode) => self.drain_all(mode),
            WaitApplied(t, id) => {
                self.with_id(*t, *id, |model, i, id| match model.pending(i, &id) {
                    Ok(slot) => Obs::Failed(Fault::WaitTimeout(
                        TABLES[i].to_string(),
                        Slot::Issued(slot),
                    )),
                    Err(fault @ Fault::MovedAside(..)) => Obs::Failed(fault),
                    Err(_) => Obs::Done,
                })
            }
            Own(_) => Obs::Skipped("a backend's own operation"),
        }
    }

    /// What `queue_write` shows, updating the model; for a backend's own
    /// operations that queue through another handle.
    pub fn queue_write(&mut self, t: TableArg, write: &PendingWrite) -> Obs {
        self.with_table(t, |model, i| match model.check_row(write) {
            Err(fault) => Obs::Failed(fault),
            Ok(()) => match model.enqueue(i, write) {
                Ok(slot) => Obs::Queued(Slot::Issued(slot)),
                Err(fault) => Obs::Failed(fault),
            },
        })
    }

    /// The slots of the table's pending entries, in queue order.
    pub fn pending_slots(&self, table: usize) -> Vec<usize> {
        let queue = &self.tables[table % TABLES.len()].queue;
        queue.iter().map(|entry| entry.slot).collect()
    }

    /// Marks a pending entry as one the backend can no longer read: the
    /// next read that passes it moves it aside.
    pub fn mark_unreadable(&mut self, table: usize, slot: usize) {
        let table = table % TABLES.len();
        if let Some(index) = self.position(table, slot) {
            self.tables[table].queue[index].unreadable = true;
        }
    }

    fn acquire(&mut self, t: TableArg, try_only: bool) -> Obs {
        self.with_table(t, |model, i| {
            let table = &mut model.tables[i];
            match (table.locked, try_only) {
                (false, _) => {
                    table.locked = true;
                    Obs::Acquired
                }
                (true, true) => Obs::Busy,
                (true, false) => Obs::Failed(Fault::LockTimeout(TABLES[i].to_string())),
            }
        })
    }

    fn remove_batch(&mut self, t: TableArg, ids: &[IdArg]) -> Obs {
        self.with_table(t, |model, i| {
            if let Some((id, rule)) = ids.iter().find_map(|id| id.malformed()) {
                let id = id.to_string();
                return Obs::Failed(Fault::InvalidQueueId { id, rule });
            }
            let resolved: Vec<ModelId> = ids.iter().map(|id| model.resolve(i, *id)).collect();
            for id in resolved {
                if let Err(fault) = model.remove(i, &id) {
                    return Obs::Failed(fault);
                }
            }
            Obs::Done
        })
    }

    /// Runs `f` with the table's index, or fails with the table's fault.
    pub(super) fn with_table(
        &mut self,
        t: TableArg,
        f: impl FnOnce(&mut Model, usize) -> Obs,
    ) -> Obs {
        match table_index(t) {
            Ok(i) => f(self, i),
            Err(fault) => Obs::Failed(fault),
        }
    }

    fn on_table(&mut self, t: TableArg, f: impl FnOnce(usize, &Table) -> Obs) -> Obs {
        self.with_table(t, |model, i| f(i, &model.tables[i]))
    }

    /// Runs `f` with the table and the resolved id, or fails with the
    /// table's fault, then the id's.
    pub(super) fn with_id(
        &mut self,
        t: TableArg,
        id: IdArg,
        f: impl FnOnce(&mut Model, usize, ModelId) -> Obs,
    ) -> Obs {
        self.with_table(t, |model, i| match id.malformed() {
            Some((id, rule)) => Obs::Failed(Fault::InvalidQueueId {
                id: id.to_string(),
                rule,
            }),
            None => {
                let resolved = model.resolve(i, id);
                f(model, i, resolved)
            }
        })
    }

    /// An id argument on table `i` (not malformed), as the model sees it.
    pub(super) fn resolve(&self, i: usize, id: IdArg) -> ModelId {
        let picked = match id {
            IdArg::Issued(pick) if !self.issued.is_empty() => {
                Some(IdArg::index(pick, self.issued.len()))
            }
            IdArg::Pending(pick) => {
                let pending = self.pending_slots(i);
                (!pending.is_empty()).then(|| pending[IdArg::index(pick, pending.len())])
            }
            _ => None,
        };
        match picked {
            Some(slot) => ModelId::Slot(slot),
            None => ModelId::Named(id.unknown().to_string()),
        }
    }

    pub(super) fn slot(&self, id: &ModelId) -> Slot {
        match id {
            ModelId::Slot(slot) => Slot::Issued(*slot),
            ModelId::Named(name) => Slot::Named(name.clone()),
        }
    }

    pub(super) fn check_row(&self, write: &PendingWrite) -> Result<(), Fault> {
        match row_fault(write) {
            Some((key, field, rule)) => Err(Fault::InvalidRow { key, field, rule }),
            None => Ok(()),
        }
    }

    /// Queues a valid write on table `i`; returns its slot.
    pub(super) fn enqueue(&mut self, i: usize, write: &PendingWrite) -> Result<usize, Fault> {
        let queue = &mut self.tables[i].queue;
        if queue.len() >= self.capacity {
            return Err(Fault::QueueFull(TABLES[i].to_string(), queue.len()));
        }
        let slot = self.issued.len();
        self.issued.push(i);
        queue.push_back(Entry {
            slot,
            write: write.clone(),
            unreadable: false,
            failures: 0,
        });
        Ok(slot)
    }

    pub(super) fn position(&self, i: usize, slot: usize) -> Option<usize> {
        self.tables[i].queue.iter().position(|e| e.slot == slot)
    }

    /// The id's slot if it is pending on table `i`, or why it is not:
    /// moved aside, or not found.
    pub(super) fn pending(&self, i: usize, id: &ModelId) -> Result<usize, Fault> {
        let table = TABLES[i].to_string();
        match id {
            ModelId::Slot(slot) if self.position(i, *slot).is_some() => Ok(*slot),
            ModelId::Slot(slot) if self.tables[i].moved.iter().any(|(s, _)| s == slot) => {
                Err(Fault::MovedAside(table, Slot::Issued(*slot)))
            }
            other => Err(Fault::NotFound(table, self.slot(other))),
        }
    }

    fn remove(&mut self, i: usize, id: &ModelId) -> Result<(), Fault> {
        let slot = self.pending(i, id)?;
        self.remove_slot(i, slot);
        Ok(())
    }

    pub(super) fn remove_slot(&mut self, i: usize, slot: usize) {
        if let Some(index) = self.position(i, slot) {
            self.tables[i].queue.remove(index);
        }
    }

    pub(super) fn move_aside(&mut self, i: usize, slot: usize, reason: MovedReason) {
        self.remove_slot(i, slot);
        self.tables[i].moved.push((slot, reason));
    }

    pub(super) fn record_failure(&mut self, i: usize, slot: usize) -> u32 {
        let Some(index) = self.position(i, slot) else {
            return 0;
        };
        let entry = &mut self.tables[i].queue[index];
        entry.failures += 1;
        entry.failures
    }

    /// The oldest `max` readable entries of table `i`, moving aside every
    /// unreadable one passed on the way.
    pub(super) fn read_batch(&mut self, i: usize, max: usize) -> Vec<(Slot, PendingWrite)> {
        let table = &mut self.tables[i];
        let mut found = Vec::new();
        let mut index = 0;
        while index < table.queue.len() && found.len() < max {
            let entry = &table.queue[index];
            if entry.unreadable {
                table.moved.push((entry.slot, MovedReason::Unreadable));
                table.queue.remove(index);
            } else {
                found.push((Slot::Issued(entry.slot), entry.write.clone()));
                index += 1;
            }
        }
        found
    }

    pub(super) fn tables_with_pending(&self) -> Vec<String> {
        let mut names: Vec<String> = (0..TABLES.len())
            .filter(|i| !self.tables[*i].queue.is_empty())
            .map(|i| TABLES[i].to_string())
            .collect();
        names.sort();
        names
    }
}

/// The table's index in [`TABLES`], or the fault of its name.
pub(super) fn table_index(t: TableArg) -> Result<usize, Fault> {
    t.valid().map_err(|rule| Fault::InvalidTableName {
        name: t.name().to_string(),
        rule,
    })
}
