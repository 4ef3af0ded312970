// SPDX-License-Identifier: Apache-2.0
//! The [`Model`]'s coordinator calls: the write flow of the
//! [`WriteCoordinator`](reedbase_concurrent_core::WriteCoordinator) written out plainly over
//! the model's queues, per write and in batches, with both dead-letter
//! policies.

use reedbase_concurrent_core::PendingWrite;

use super::obs::{Call, Fault, Key, MovedReason, Obs, Outcome, Slot, WriteFault};
use super::op::{Mode, TABLES, TableArg, is_refused};
use super::reference::{Model, table_index};

impl Model {
    pub(super) fn submit(&mut self, t: TableArg, write: &PendingWrite, mode: &Mode) -> Obs {
        let back =
            |fault| Obs::Coordinated(Outcome::Failed(WriteFault::Backend(fault), true), vec![]);
        let i = match table_index(t) {
            Ok(i) => i,
            Err(fault) => return back(fault),
        };
        if let Err(fault) = self.check_row(write) {
            return back(fault);
        }
        if self.tables[i].locked {
            return match self.enqueue(i, write) {
                Ok(slot) => Obs::Coordinated(Outcome::Queued(Slot::Issued(slot)), vec![]),
                Err(fault) => back(fault),
            };
        }
        let (mut calls, mut drained) = (Vec::new(), 0);
        let outcome = match self.run(i, Some(write), mode, &mut calls, &mut drained) {
            Ok(()) => Outcome::Applied(drained),
            Err(fault) => Outcome::Failed(fault, true),
        };
        Obs::Coordinated(outcome, calls)
    }

    pub(super) fn drain(&mut self, t: TableArg, mode: &Mode) -> Obs {
        let i = match table_index(t) {
            Ok(i) => i,
            Err(fault) => {
                let fault = WriteFault::Backend(fault);
                return Obs::Coordinated(Outcome::Failed(fault, false), vec![]);
            }
        };
        let (mut calls, mut drained) = (Vec::new(), 0);
        let outcome = match self.drain_table(i, mode, &mut calls, &mut drained) {
            Ok(()) => Outcome::Drained(drained),
            Err(fault) => Outcome::Failed(fault, false),
        };
        Obs::Coordinated(outcome, calls)
    }

    pub(super) fn drain_all(&mut self, mode: &Mode) -> Obs {
        let names = self.tables_with_pending();
        let mut calls = Vec::new();
        let (mut drained, mut busy, mut failed) = (0, Vec::new(), Vec::new());
        for name in &names {
            let Some(i) = TABLES.iter().position(|table| table == name) else {
                continue;
            };
            match self.drain_table(i, mode, &mut calls, &mut drained) {
                Ok(()) => {}
                Err(WriteFault::Backend(Fault::LockTimeout(_))) => busy.push(name.clone()),
                Err(fault) => failed.push((name.clone(), fault)),
            }
        }
        let outcome = Outcome::DrainedAll(drained, names.len(), busy, failed);
        Obs::Coordinated(outcome, calls)
    }

    fn drain_table(
        &mut self,
        i: usize,
        mode: &Mode,
        calls: &mut Vec<Call>,
        drained: &mut usize,
    ) -> Result<(), WriteFault> {
        if self.tables[i].locked {
            return Err(WriteFault::Backend(Fault::LockTimeout(
                TABLES[i].to_string(),
            )));
        }
        self.run(i, None, mode, calls, drained)
    }

    /// The coordinator's loop under the lock of table `i`: queued writes in
    /// FIFO order, batches of at most `max_batch`, a submit's own write
    /// after at most `max(capacity, max_batch)` queued ones; removal after
    /// a successful call; a failure counted against the failed write (a
    /// batch's first) and handled by the dead-letter policy.
    fn run(
        &mut self,
        i: usize,
        direct: Option<&PendingWrite>,
        mode: &Mode,
        calls: &mut Vec<Call>,
        drained: &mut usize,
    ) -> Result<(), WriteFault> {
        let max = mode.max_batch.max(1);
        let bound = direct.map(|_| self.capacity.max(max));
        loop {
            let want = bound.map_or(max, |bound| max.min(bound.saturating_sub(*drained)));
            let entries = self.read_batch(i, want);
            let last = match bound {
                Some(bound) => *drained + entries.len() >= bound || entries.len() < want,
                None => entries.is_empty(),
            };
            let mut items: Vec<(Key, PendingWrite)> = entries
                .iter()
                .map(|(slot, write)| (Key::Queued(slot.clone()), write.clone()))
                .collect();
            let with_direct = match (last, direct) {
                (true, Some(write)) => {
                    items.push((Key::Direct, write.clone()));
                    true
                }
                _ => false,
            };
            if items.is_empty() {
                return Ok(());
            }
            let failed_at = self.apply(i, &items, mode.batch, calls);
            let applied = failed_at.unwrap_or(items.len()).min(entries.len());
            for (slot, _) in &entries[..applied] {
                if let Slot::Issued(slot) = slot {
                    self.remove_slot(i, *slot);
                }
            }
            *drained += applied;
            let Some(index) = failed_at else {
                if with_direct {
                    return Ok(());
                }
                continue;
            };
            let Some((Slot::Issued(slot), write)) = entries.get(index) else {
                return Err(WriteFault::Apply {
                    entry: None,
                    attempts: None,
                });
            };
            let attempts = self.record_failure(i, *slot);
            let blocked = WriteFault::Apply {
                entry: Some(Slot::Issued(*slot)),
                attempts: Some(attempts),
            };
            match mode.move_aside_after {
                Some(limit) if attempts >= limit.max(1) => {}
                _ => return Err(blocked),
            }
            if mode.batch {
                let alone = [(Key::Queued(Slot::Issued(*slot)), write.clone())];
                if self.apply(i, &alone, true, calls).is_none() {
                    self.remove_slot(i, *slot);
                    *drained += 1;
                    continue;
                }
            }
            self.move_aside(i, *slot, MovedReason::DeadLetter);
        }
    }

    /// Records the `apply` calls for `items` (one call, or one per write)
    /// and returns the index at which `apply` refused (0 for a batch).
    fn apply(
        &self,
        i: usize,
        items: &[(Key, PendingWrite)],
        batch: bool,
        calls: &mut Vec<Call>,
    ) -> Option<usize> {
        let table = TABLES[i].to_string();
        if batch {
            calls.push(Call {
                table,
                writes: items.to_vec(),
            });
            return items
                .iter()
                .any(|(_, write)| is_refused(write))
                .then_some(0);
        }
        for (index, item) in items.iter().enumerate() {
            calls.push(Call {
                table: table.clone(),
                writes: vec![item.clone()],
            });
            if is_refused(&item.1) {
                return Some(index);
            }
        }
        None
    }
}
