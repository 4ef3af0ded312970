// SPDX-License-Identifier: Apache-2.0
//! [`WriteCoordinator::submit_grouped`]: every write goes through the queue,
//! and its caller waits until some lock holder has applied it.

use std::time::{Duration, Instant};

use super::error::{ApplyError, WriteError, WriteFailure};
use super::flow::{Run, Sink, WholeBatch};
use super::{BatchItem, Room, SubmitOutcome, WriteCoordinator, warn_handed_back};
use crate::backend::Backend;
use crate::error::ReedError;
use crate::types::PendingWrite;
use crate::validation::validate_table_name;

/// The longest a grouped writer waits for its write to leave the queue
/// before it tries the table's lock again, when the backend gives no sign
/// that the lock came free.
const GROUPED_RETRY: Duration = Duration::from_millis(5);

impl<B: Backend> WriteCoordinator<B> {
    /// Group commit: queues `write`, then waits at most `timeout` until a
    /// lock holder has applied it, applying the queue itself whenever it
    /// can take the table's lock.
    ///
    /// Every writer of the table that calls this queues first and then
    /// either takes the lock, or sleeps until its write has left the queue
    /// (or the lock may have come free: see
    /// [`QueueBackend::wait_while_pending`](crate::QueueBackend::wait_while_pending)).
    /// Whoever holds the lock applies the whole queue in FIFO order, one
    /// `apply` call per batch of up to [`CoordinatorOptions::max_batch`](super::CoordinatorOptions::max_batch)
    /// writes, exactly as [`drain_batch`](Self::drain_batch) does, so that
    /// writes that arrive together share one `apply` (one fsync of the table
    /// file). Each write has the key of its queue entry
    /// ([`ApplyKey::queue_id`](super::ApplyKey::queue_id)).
    ///
    /// Returns [`SubmitOutcome::Applied`] once the write has been applied,
    /// by this call or by another lock holder (`drained` counts the queued
    /// writes this call applied, its own among them when it was the one to
    /// apply it); or
    /// [`SubmitOutcome::Queued`] if it is still queued when `timeout` has
    /// passed, to be applied by a later holder as any queued write
    /// (`drained` of an error counts what this call applied before it
    /// stopped).
    ///
    /// An acknowledgement by `Applied` is as durable as `apply` makes it,
    /// whatever the queue's own durability: with a relaxed queue a writer
    /// pays no flush of its own. `Queued` is as durable as the queue. On a
    /// backend whose relaxed queue can lose an entry while its writer lives
    /// (pg's relaxed queue on a server that crashes), a lost entry would
    /// look applied: use a durable queue there.
    ///
    /// # Errors
    ///
    /// Before the write is queued, as [`submit`](Self::submit), with the
    /// write handed back: invalid table name or rows, a queue full or busy
    /// past [`CoordinatorOptions::wait_for_room`](super::CoordinatorOptions::wait_for_room),
    /// a backend failure. After it is queued, a [`WriteError`] whose
    /// [`queued_as`](WriteError::queued_as) names the entry, which stays
    /// queued: a backend failure, a lost lock, an `apply` that failed while
    /// this call held the lock (for this write or an older one). A write
    /// moved aside instead of applied (by a
    /// [`DeadLetterPolicy`](super::DeadLetterPolicy), or as unreadable) is
    /// [`ReedError::CorruptEntry`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use reedbase_concurrent_core::{CsvRow, PendingWrite, SubmitOutcome, WriteCoordinator, WriteOperation};
    /// use reedbase_concurrent_mem::MemBackend;
    ///
    /// let coordinator = WriteCoordinator::new(MemBackend::new());
    /// let mut table_file: Vec<String> = Vec::new();
    /// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
    /// let outcome = coordinator.submit_grouped("t", write, Duration::from_secs(1), |batch| {
    ///     for item in batch {
    ///         table_file.extend(item.write.rows.iter().map(|row| row.to_csv()));
    ///     }
    ///     // One fsync of the table file would go here, for every waiting writer.
    ///     Ok(())
    /// })?;
    /// assert_eq!(outcome, SubmitOutcome::Applied { drained: 1 });
    /// assert_eq!(table_file, ["k|v"]);
    /// assert_eq!(coordinator.backend().count_pending("t")?, 0);
    /// # use reedbase_concurrent_core::QueueBackend;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_grouped<F>(
        &self,
        table_name: &str,
        write: PendingWrite,
        timeout: Duration,
        apply: F,
    ) -> Result<SubmitOutcome, WriteError>
    where
        F: FnMut(&[BatchItem<'_>]) -> Result<(), ApplyError>,
    {
        self.grouped(table_name, write, timeout, &mut WholeBatch(apply))
            .inspect_err(|error| {
                // A write that stays queued is not lost; what stopped the
                // call (a failing apply, a lost lock) has its own event.
                if error.handed_back().is_some() {
                    warn_handed_back(table_name, error);
                }
            })
    }

    fn grouped<S: Sink>(
        &self,
        table_name: &str,
        write: PendingWrite,
        timeout: Duration,
        sink: &mut S,
    ) -> Result<SubmitOutcome, WriteError> {
        let start = Instant::now();
        let reject = |write, error: ReedError| {
            WriteError::new(table_name, WriteFailure::Backend(error), Some(write))
        };
        let checked = validate_table_name(table_name).and_then(|()| crate::validate_write(&write));
        if let Err(error) = checked {
            return Err(reject(write, error));
        }
        let id = match self.backend.queue_write(table_name, &write) {
            Ok(id) => id,
            Err(error) if error.is_queue_full() || error.is_queue_busy() => {
                match self.wait_for_room(table_name, &write, error) {
                    Ok(Room::Queued(id)) => id,
                    // Full, then the lock came free: applied as `submit`
                    // applies it, after the whole queue.
                    Ok(Room::Locked(guard)) => {
                        return self.apply_direct(table_name, &guard, write, sink);
                    }
                    Err(error) => return Err(reject(write, error)),
                }
            }
            Err(error) => return Err(reject(write, error)),
        };
        // Queued: from here on the write is never handed back.
        let queued = |failure: WriteFailure, drained: usize| {
            WriteError::new(table_name, failure, None)
                .after_draining(drained)
                .with_queued_as(id.clone())
        };
        let mut drained = 0;
        let backend_failed =
            |error: ReedError, drained: usize| queued(WriteFailure::Backend(error), drained);
        loop {
            if let Some(guard) = self
                .backend
                .try_acquire_lock(table_name)
                .map_err(|error| backend_failed(error, drained))?
            {
                let run = Run::new(&self.backend, &self.options, &guard, table_name);
                drained += run
                    .apply_queued(None, sink)
                    .map_err(|stopped| queued(stopped.failure, drained + stopped.drained))?;
                drop(guard);
                // The drain went on until nothing was left to apply: this
                // write was applied, by this call or an earlier holder,
                // unless it was moved aside, or left in place behind an
                // entry the backend could not hand out.
                let pending = self
                    .backend
                    .is_pending(table_name, &id)
                    .map_err(|error| backend_failed(error, drained))?;
                if !pending {
                    return self.settled(table_name, &id, drained);
                }
            }
            let left = timeout.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Ok(SubmitOutcome::Queued(id));
            }
            let pending = self
                .backend
                .wait_while_pending(table_name, &id, left.min(GROUPED_RETRY))
                .map_err(|error| backend_failed(error, drained))?;
            if !pending {
                return self.settled(table_name, &id, drained);
            }
        }
    }

    /// The outcome of a queued write that has left the queue: applied,
    /// unless the backend lists it as moved aside.
    fn settled(
        &self,
        table_name: &str,
        id: &str,
        drained: usize,
    ) -> Result<SubmitOutcome, WriteError> {
        let failed = |error: ReedError| {
            WriteError::new(table_name, WriteFailure::Backend(error), None).after_draining(drained)
        };
        let moved = self
            .backend
            .moved_aside(table_name)
            .map_err(|error| failed(error).with_queued_as(id.to_string()))?;
        match moved.iter().find(|moved| moved.id == id) {
            Some(moved) => Err(failed(ReedError::moved_aside(table_name, moved))),
            None => Ok(SubmitOutcome::Applied { drained }),
        }
    }
}
