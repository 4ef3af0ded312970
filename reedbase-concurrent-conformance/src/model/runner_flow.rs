// SPDX-License-Identifier: Apache-2.0
//! The [`Runner`]'s coordinator calls: a [`WriteCoordinator`] over the
//! backend, whose `apply` records every call and refuses the writes the
//! trace marks as refused.

use reedbase_concurrent_core::Backend;
use reedbase_concurrent_core::PendingWrite;
use reedbase_concurrent_core::{
    ApplyError, ApplyKey, BatchItem, SubmitOutcome, WriteCoordinator, WriteError, WriteFailure,
};

use super::obs::{Call, Key, Obs, Outcome, Slot, WriteFault};
use super::op::{APPLY_REFUSAL, Mode, NOW, TableArg, is_refused};
use super::runner::Runner;

/// An `apply` call as made: the table, and each write with its queue id
/// (`None` for the caller's own).
type RawCall = (String, Vec<(Option<String>, PendingWrite)>);

/// Records a call; refuses it if it holds a refused write.
fn record(
    calls: &mut Vec<RawCall>,
    table: &str,
    writes: Vec<(Option<String>, PendingWrite)>,
) -> Result<(), ApplyError> {
    let refuse = writes.iter().any(|(_, write)| is_refused(write));
    calls.push((table.to_string(), writes));
    if refuse {
        Err(APPLY_REFUSAL.into())
    } else {
        Ok(())
    }
}

fn one(key: ApplyKey<'_>, write: &PendingWrite) -> Vec<(Option<String>, PendingWrite)> {
    vec![(key.queue_id().map(str::to_string), write.clone())]
}

fn batch(items: &[BatchItem<'_>]) -> Vec<(Option<String>, PendingWrite)> {
    items
        .iter()
        .map(|item| (item.key.queue_id().map(str::to_string), item.write.clone()))
        .collect()
}

impl<B: Backend> Runner<'_, B> {
    pub(super) fn submit(&mut self, t: TableArg, write: &PendingWrite, mode: &Mode) -> Obs {
        let name = t.name();
        let coordinator = WriteCoordinator::with_options(self.backend(), mode.options());
        let mut raw = Vec::new();
        let result = match mode.batch {
            true => coordinator.submit_batch(name, write.clone(), NOW, |items| {
                record(&mut raw, name, batch(items))
            }),
            false => coordinator.submit(name, write.clone(), NOW, |key, write| {
                record(&mut raw, name, one(key, write))
            }),
        };
        let outcome = match result {
            Ok(SubmitOutcome::Applied { drained }) => Outcome::Applied(drained),
            Ok(SubmitOutcome::Queued(id)) => match t.valid() {
                Ok(i) => match self.issue(i, id) {
                    Obs::Queued(slot) => Outcome::Queued(slot),
                    other => return other,
                },
                Err(_) => Outcome::Queued(Slot::Unnumbered),
            },
            Err(error) => {
                let handed_back = error.handed_back() == Some(write);
                Outcome::Failed(self.write_fault(&error), handed_back)
            }
        };
        Obs::Coordinated(outcome, self.calls(raw))
    }

    pub(super) fn drain(&mut self, t: TableArg, mode: &Mode) -> Obs {
        let name = t.name();
        let coordinator = WriteCoordinator::with_options(self.backend(), mode.options());
        let mut raw = Vec::new();
        let result = match mode.batch {
            true => {
                coordinator.drain_batch(name, NOW, |items| record(&mut raw, name, batch(items)))
            }
            false => coordinator.drain(name, NOW, |key, write| {
                record(&mut raw, name, one(key, write))
            }),
        };
        let outcome = match result {
            Ok(drained) => Outcome::Drained(drained),
            Err(error) => Outcome::Failed(self.write_fault(&error), error.handed_back().is_some()),
        };
        Obs::Coordinated(outcome, self.calls(raw))
    }

    pub(super) fn drain_all(&mut self, mode: &Mode) -> Obs {
        let coordinator = WriteCoordinator::with_options(self.backend(), mode.options());
        let mut raw = Vec::new();
        let result = match mode.batch {
            true => coordinator
                .drain_all_batch(NOW, |table, items| record(&mut raw, table, batch(items))),
            false => coordinator.drain_all(NOW, |table, key, write| {
                record(&mut raw, table, one(key, write))
            }),
        };
        let outcome = match result {
            Ok(report) => {
                let failed = report
                    .failed
                    .iter()
                    .map(|error| (error.table().to_string(), self.write_fault(error)))
                    .collect();
                Outcome::DrainedAll(report.drained, report.tables, report.busy, failed)
            }
            Err(error) => Outcome::NotListed(self.fault(&error)),
        };
        Obs::Coordinated(outcome, self.calls(raw))
    }

    fn write_fault(&self, error: &WriteError) -> WriteFault {
        match error.failure() {
            WriteFailure::Backend(error) => WriteFault::Backend(self.fault(error)),
            WriteFailure::Apply {
                queue_id, attempts, ..
            } => WriteFault::Apply {
                entry: queue_id.as_deref().map(|id| self.slot_of(id)),
                attempts: *attempts,
            },
            // `WriteFailure` is non-exhaustive; a kind added to it must be
            // added to the model before the model can compare it.
            other => panic!("the model does not know this write failure: {other:?}"),
        }
    }

    fn calls(&self, raw: Vec<RawCall>) -> Vec<Call> {
        raw.into_iter()
            .map(|(table, writes)| Call {
                table,
                writes: writes
                    .into_iter()
                    .map(|(id, write)| match id {
                        Some(id) => (Key::Queued(self.slot_of(&id)), write),
                        None => (Key::Direct, write),
                    })
                    .collect(),
            })
            .collect()
    }
}
