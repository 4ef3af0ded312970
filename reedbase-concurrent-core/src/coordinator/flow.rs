// SPDX-License-Identifier: Apache-2.0
//! The one loop behind every coordinator call: under a held lock, fetch the
//! oldest queued writes, hand them to the caller's `apply` (per write or per
//! batch, through a [`Sink`]), remove what was applied, and count and
//! possibly move aside a write whose apply failed.

use super::error::{ApplyError, WriteFailure};
pub(super) use super::sink::{EachWrite, EachWriteOf, Sink, SinkStop, WholeBatch, WholeBatchOf};
use super::{ApplyKey, BatchItem, CoordinatorOptions, DeadLetterPolicy};
use crate::backend::{Backend, LockBackend, LockGuard};
use crate::diagnostics::MovedAside;
use crate::error::{ReedError, ReedResult};
use crate::events;
use crate::types::PendingWrite;

/// Why [`Run::apply_queued`] stopped, and how many queued writes it had
/// applied and removed by then.
pub(super) struct Stopped {
    pub(super) drained: usize,
    pub(super) failure: WriteFailure,
}

/// One coordinator call under a lock, made right after the lock was
/// acquired.
pub(super) struct Run<'a, B: LockBackend> {
    backend: &'a B,
    options: &'a CoordinatorOptions,
    guard: &'a B::Guard,
    table: &'a str,
}

impl<'a, B: Backend> Run<'a, B> {
    pub(super) fn new(
        backend: &'a B,
        options: &'a CoordinatorOptions,
        guard: &'a B::Guard,
        table: &'a str,
    ) -> Self {
        Run {
            backend,
            options,
            guard,
            table,
        }
    }

    /// [`apply_queued_held`](Self::apply_queued_held), reporting a lost
    /// lock once per call (it may be noticed at several checks). Returns how
    /// many queued writes were applied and removed, also when the call
    /// stopped early.
    pub(super) fn apply_queued<S: Sink>(
        &self,
        direct: Option<&PendingWrite>,
        sink: &mut S,
    ) -> Result<usize, Stopped> {
        let mut drained = 0;
        match self.apply_queued_held(direct, sink, &mut drained) {
            Ok(()) => Ok(drained),
            Err(failure) => {
                if let WriteFailure::Backend(ReedError::LockLost { reason, .. }) = &failure {
                    tracing::warn!(
                        event = events::LOCK_LOST,
                        table = self.table,
                        reason = %reason,
                        "lock lost while held; nothing more applied or removed"
                    );
                }
                Err(Stopped { drained, failure })
            }
        }
    }

    /// Applies and removes queued writes in FIFO order, then `direct` (if
    /// any) in the last pass; counts the queued writes applied and removed
    /// in `drained` as it goes, so that the count survives a failure.
    ///
    /// A drain (`direct` is `None`) goes on until the queue is empty. A
    /// submit applies at most as many queued writes as the queue can hold
    /// (its capacity, or one batch if that is larger) before its own: every
    /// write queued before it took the lock is applied by then, and a steady
    /// stream of new ones cannot keep it from its own.
    fn apply_queued_held<S: Sink>(
        &self,
        direct: Option<&PendingWrite>,
        sink: &mut S,
        drained: &mut usize,
    ) -> Result<(), WriteFailure> {
        let max = self.options.max_batch.max(1);
        let bound = direct.map(|_| self.backend.capacity().max(max));
        let fence = self.guard.fencing_token();
        // Every `Run` starts right after its guard was acquired: where that
        // acquisition checked the lock as `is_held` would, it is the check
        // before the first batch.
        let mut checked = self.guard.checked_at_acquisition();
        // Likewise, where the acquisition knows that nothing was queued when
        // it took the lock, the first fetch would find nothing to apply
        // first: it is not made.
        let mut known_empty = self.guard.queue_empty_at_acquisition();
        loop {
            if !std::mem::take(&mut checked) {
                self.ensure_held().map_err(WriteFailure::Backend)?;
            }
            let want = bound.map_or(max, |bound| max.min(bound.saturating_sub(*drained)));
            let entries = match want {
                _ if std::mem::take(&mut known_empty) => Vec::new(),
                0 => Vec::new(),
                _ => self
                    .backend
                    .get_pending_batch(self.table, want)
                    .map_err(WriteFailure::Backend)?,
            };
            let last = match bound {
                Some(bound) => {
                    *drained + entries.len() >= bound
                        || self
                            .exhausted(&entries, want)
                            .map_err(WriteFailure::Backend)?
                }
                None => entries.is_empty(),
            };
            let mut items: Vec<BatchItem<'_>> = entries
                .iter()
                .map(|(id, write)| BatchItem {
                    key: ApplyKey::queued(id, fence),
                    write,
                })
                .collect();
            let with_direct = match (last, direct) {
                (true, Some(write)) => {
                    items.push(BatchItem {
                        key: ApplyKey::direct(fence),
                        write,
                    });
                    true
                }
                _ => false,
            };
            if items.is_empty() {
                return Ok(());
            }
            let outcome = sink.apply(self.table, &items, &mut || self.ensure_held());
            let applied = outcome
                .as_ref()
                .map_or_else(SinkStop::applied, |()| items.len());
            let applied_queued = applied.min(entries.len());
            let direct_applied = with_direct && applied == items.len();
            if applied_queued > 0 {
                match self.remove(&entries[..applied_queued]) {
                    Ok(()) => *drained += applied_queued,
                    // The caller's write is applied, so it must not be handed
                    // back (a retry would apply it twice); the entries that
                    // could not be removed are applied again by the next
                    // holder, under the same keys.
                    Err(_) if direct_applied => {
                        *drained += applied_queued;
                        return Ok(());
                    }
                    Err(error) => return Err(WriteFailure::Backend(error)),
                }
            }
            match outcome {
                Ok(()) if with_direct => return Ok(()),
                Ok(()) => {}
                Err(SinkStop::Lost { error, .. }) => return Err(WriteFailure::Backend(error)),
                Err(SinkStop::Apply { index, source }) => {
                    let Some((id, write)) = entries.get(index) else {
                        return Err(WriteFailure::Apply {
                            queue_id: None,
                            attempts: None,
                            source,
                        });
                    };
                    *drained += self.after_failed_apply(id, write, source, sink)?;
                }
            }
        }
    }

    /// After `apply` failed for the queued write `id` (or for a batch that
    /// starts with it): counts the failure and applies the
    /// [`DeadLetterPolicy`]. Returns how many writes it applied (0 or 1)
    /// when the loop may go on, or the failure that stops the call.
    fn after_failed_apply<S: Sink>(
        &self,
        id: &str,
        write: &PendingWrite,
        source: ApplyError,
        sink: &mut S,
    ) -> Result<usize, WriteFailure> {
        // A holder that lost the lock counts nothing: the entry may be
        // another holder's now.
        self.ensure_held().map_err(WriteFailure::Backend)?;
        // A count that cannot be recorded (often for the same reason the
        // apply failed, such as a full disk) is unknown, and an unknown count
        // never moves an entry aside.
        let attempts = self.backend.record_failed_apply(self.table, id).ok();
        tracing::warn!(
            event = events::APPLY_FAILED,
            table = self.table,
            id,
            attempts,
            error = %source,
            "applying a queued write failed"
        );
        let blocked = |source| WriteFailure::Apply {
            queue_id: Some(id.to_string()),
            attempts,
            source,
        };
        let limit = match self.options.dead_letters {
            DeadLetterPolicy::MoveAsideAfter(limit) => limit,
            DeadLetterPolicy::Block => return Err(blocked(source)),
        };
        if attempts.is_none_or(|attempts| attempts < limit) {
            return Err(blocked(source));
        }
        if sink.whole_batches() {
            // A batch failed, which does not say which of its writes is bad:
            // try the first alone before condemning it.
            let alone = [BatchItem {
                key: ApplyKey::queued(id, self.guard.fencing_token()),
                write,
            }];
            self.ensure_held().map_err(WriteFailure::Backend)?;
            if sink.apply(self.table, &alone, &mut || Ok(())).is_ok() {
                self.remove(&[(id.to_string(), write.clone())])
                    .map_err(WriteFailure::Backend)?;
                return Ok(1);
            }
        }
        self.ensure_held().map_err(WriteFailure::Backend)?;
        let attempts = attempts.unwrap_or(limit);
        let reason = MovedAside::dead_letter_reason(attempts, &source);
        let moved = self
            .backend
            .move_aside(self.table, id, &reason)
            .map_err(WriteFailure::Backend)?;
        tracing::warn!(
            event = events::DEAD_LETTER,
            table = self.table,
            id,
            attempts,
            reason = %moved.reason,
            destination = %moved.location,
            "queued write moved aside as a dead letter"
        );
        Ok(0)
    }

    /// Whether a batch of `entries`, asked for `want`, holds every pending
    /// entry. A short batch proves it where the backend says so
    /// ([`short_batch_holds_all`](crate::QueueBackend::short_batch_holds_all):
    /// the batch was read under this lock, after everything this call must
    /// apply first was queued); elsewhere (the trait's default
    /// `get_pending_batch` returns one entry at most) the count decides,
    /// and a count above the batch (entries queued since, or unreadable
    /// ones a backend skipped) means another pass, which is bounded all
    /// the same.
    fn exhausted(&self, entries: &[(String, PendingWrite)], want: usize) -> ReedResult<bool> {
        if entries.is_empty() {
            return Ok(true);
        }
        if entries.len() >= want {
            return Ok(false);
        }
        if self.backend.short_batch_holds_all() {
            return Ok(true);
        }
        Ok(self.backend.count_pending(self.table)? <= entries.len())
    }

    fn remove(&self, entries: &[(String, PendingWrite)]) -> ReedResult<()> {
        self.ensure_held()?;
        let ids: Vec<String> = entries.iter().map(|(id, _)| id.clone()).collect();
        self.backend.remove_batch_from_queue(self.table, &ids)
    }

    fn ensure_held(&self) -> ReedResult<()> {
        if self.guard.is_held()? {
            Ok(())
        } else {
            Err(ReedError::lock_lost(
                self.table,
                "the backend reports that this guard no longer holds the lock",
            ))
        }
    }
}
