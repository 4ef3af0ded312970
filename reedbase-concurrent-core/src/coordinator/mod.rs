// SPDX-License-Identifier: Apache-2.0
//! The write flow of ReedBase, implemented once for every backend.
//!
//! ```text
//! submit(table, write, timeout, apply)
//!   acquire_lock(table, timeout)
//!     ok      -> apply every queued write of the table, oldest first,
//!                removing each only after its apply succeeded;
//!                then apply this write; release            => Applied
//!     timeout -> queue_write(table, write)                 => Queued(id)
//!                (prepared during the last part of the wait,
//!                 taken back if the lock came free meanwhile)
//!                queue full or busy as well                => Err, write handed back
//! drain(table, timeout, apply)
//!   acquire_lock, then apply and remove queued writes in FIFO order
//! ```
//!
//! # Per write or in batches
//!
//! [`submit`](WriteCoordinator::submit) and [`drain`](WriteCoordinator::drain)
//! call `apply` once per write. [`submit_batch`](WriteCoordinator::submit_batch)
//! and [`drain_batch`](WriteCoordinator::drain_batch) call it once per batch:
//! up to [`CoordinatorOptions::max_batch`] queued writes in FIFO order,
//! followed (in the last batch of a submit) by the caller's own write. Use
//! the batch path when `apply` pays a fixed cost per call, such as an fsync
//! of the table file: under contention most writers queue, and the next lock
//! holder then makes one table write durable for the whole batch instead of
//! one per write (group commit). The per-write path is simpler to write and
//! is as fast when `apply` is cheap. Both run the same loop; a batch is
//! removed from the queue only after its `apply` returned `Ok`.
//!
//! [`submit_grouped`](WriteCoordinator::submit_grouped) goes further: every
//! write is queued, and its caller waits until a lock holder has applied it
//! (taking the lock and applying the queue itself when it can). Writers
//! that arrive together share one `apply`, and with a relaxed queue no
//! writer flushes anything of its own: the acknowledgement means the write
//! is applied.
//!
//! # Delivery guarantee
//!
//! Delivery is **at least once, in order**. A queued write is never
//! overtaken: whoever takes the lock applies every older queued write before
//! its own. Each queued write is removed from the queue only after its
//! `apply` returned `Ok`, so a crash (or a SIGKILL) between `apply` and the
//! removal leaves the entry at the head of the queue, and the next lock
//! holder applies it again. To make that replay harmless, `apply` receives an
//! [`ApplyKey`]: for a queued write, its queue id, which is unique for the
//! life of the queue and never reused. A table writer that must not apply a
//! write twice records the keys it has applied in the same durable step as
//! the rows and skips a key it has already recorded. A direct write
//! ([`ApplyKey::is_direct`]) is applied at most once: it never entered the
//! queue, and if its `apply` fails the write is handed back to the caller.
//!
//! Before each apply and before each removal the coordinator asks the guard
//! whether the lock is still held ([`LockGuard::is_held`]); a lost lock stops
//! the call with [`ReedError::LockLost`] and nothing more is applied or
//! removed. Before the first apply of a call, which follows the lock's
//! acquisition at once, the acquisition's own check counts where the guard
//! says it made one ([`LockGuard::checked_at_acquisition`]: fs and pg do).
//! Its first fetch of queued writes is skipped where the guard knows that
//! nothing was queued when the lock was taken
//! ([`LockGuard::queue_empty_at_acquisition`]: fs, for a table without a
//! queue directory; pg, from the acquisition's own statement).
//!
//! # A queued write that cannot be applied
//!
//! Each failure to apply a queued write is counted by the backend, durably
//! and across processes ([`QueueBackend::record_failed_apply`](crate::QueueBackend::record_failed_apply)). With the
//! default [`DeadLetterPolicy::Block`] the entry stays first in the queue and
//! every later `submit` of that table hands its write back, naming the
//! blocking entry and the count, until the entry applies: order is never
//! broken and nothing is skipped without a person deciding it, and a
//! passing failure (a full disk, a table file locked by a backup) heals by
//! itself. [`DeadLetterPolicy::MoveAsideAfter`] moves the entry aside
//! ([`QueueBackend::move_aside`](crate::QueueBackend::move_aside)) once it has failed that many times, with
//! the apply error as its reason, and goes on with the next one: the table
//! keeps moving, and that one write waits in the moved-aside list for an
//! operator.
//!
//! # Writes nobody drains
//!
//! Writes queued while nobody takes the lock afterwards stay queued until
//! the next `submit` or `drain` of that table. A service drains every table
//! with pending writes at start-up ([`drain_all`](WriteCoordinator::drain_all))
//! and runs a [`Drainer`] in the background; a caller that must know when its
//! queued write has landed waits with
//! [`wait_applied`](WriteCoordinator::wait_applied).

mod apply;
mod drainer;
mod error;
mod flow;
mod grouped;
mod options;
mod prepare_time;
mod service;
mod sink;

use std::time::{Duration, Instant};

pub use apply::{ApplyKey, BatchItem, apply_batch, apply_each};
pub use drainer::{Drainer, DrainerStats};
pub use error::{ApplyError, WriteError, WriteFailure};
pub use options::{CoordinatorOptions, DeadLetterPolicy};
pub use service::DrainReport;

use crate::backend::{Backend, LockGuard};
use crate::error::ReedError;
use crate::types::PendingWrite;
use crate::validation::validate_table_name;

use flow::{EachWrite, WholeBatch};
use prepare_time::PrepareTime;

/// How long a write waiting for room waits for the lock before it tries to
/// queue again.
const ROOM_RETRY: Duration = Duration::from_millis(50);

/// What a write whose lock timed out got in the end.
enum Room<G> {
    /// It was queued under this id.
    Queued(String),
    /// The queue was full, and then the lock came free.
    Locked(G),
}

/// What [`WriteCoordinator::submit`] did with a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// The write was applied, after `drained` older queued writes (for
    /// [`submit_grouped`](WriteCoordinator::submit_grouped): applied by
    /// this call or another lock holder, `drained` counting the queued
    /// writes this call applied, its own among them when it applied it).
    Applied {
        /// How many queued writes were applied (and removed) by the call.
        drained: usize,
    },
    /// The lock was busy past the timeout (for `submit_grouped`: the write
    /// was not applied within it); the write is queued under this id and
    /// will be applied by a later lock holder.
    Queued(String),
}

/// Takes a table's lock or queues, and drains the queue in order; see the
/// [module docs](self) for the flow and the delivery guarantee.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, SubmitOutcome, WriteCoordinator, WriteOperation};
/// use reedbase_concurrent_mem::MemBackend;
///
/// let coordinator = WriteCoordinator::new(MemBackend::new());
/// let mut table: Vec<String> = Vec::new();
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
/// let outcome = coordinator.submit("users", write, Duration::from_secs(1), |_key, write| {
///     table.extend(write.rows.iter().map(|row| row.to_csv()));
///     Ok(())
/// })?;
/// assert_eq!(outcome, SubmitOutcome::Applied { drained: 0 });
/// assert_eq!(table, ["user:1|Alice"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct WriteCoordinator<B> {
    backend: B,
    options: CoordinatorOptions,
    /// How long the backend took lately to prepare a queue entry.
    prepare_time: PrepareTime,
}

impl<B: Backend> WriteCoordinator<B> {
    /// Wraps a backend, with the default options.
    pub fn new(backend: B) -> Self {
        WriteCoordinator::with_options(backend, CoordinatorOptions::default())
    }

    /// Wraps a backend, with the given options.
    pub fn with_options(backend: B, options: CoordinatorOptions) -> Self {
        WriteCoordinator {
            backend,
            options,
            prepare_time: PrepareTime::default(),
        }
    }

    /// The backend, for direct queries such as `count_pending`.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// The options.
    pub fn options(&self) -> &CoordinatorOptions {
        &self.options
    }

    /// Applies `write` under the table's lock after every older queued
    /// write, or queues it if the lock is busy past `timeout`.
    ///
    /// `apply` is called once per write with its [`ApplyKey`]: queued writes
    /// first, oldest first, each removed from the queue after its apply
    /// returned `Ok`; then `write`, whose key [`is_direct`](ApplyKey::is_direct). Pass `&mut f`
    /// to reuse one closure across calls.
    ///
    /// The call takes at most `timeout` for the lock, plus the backend's
    /// bound on waiting for other producers when it queues, plus
    /// [`CoordinatorOptions::wait_for_room`] when the queue is full. While
    /// the lock is busy, the queue entry is prepared during the last part of
    /// the wait (as long as preparing one took lately: for the fs backend,
    /// writing and syncing it under a temporary name), so that a write that
    /// must be queued is queued about when its timeout ends; a lock that
    /// comes free meanwhile still takes the write, and the prepared entry is
    /// discarded.
    ///
    /// # Errors
    ///
    /// A [`WriteError`] that hands `write` back, unapplied and unqueued
    /// ([`WriteError::drained`] counts older queued writes it applied first):
    /// - invalid table name or rows, checked before anything is touched;
    /// - the lock timed out and the queue stayed full or busy (for
    ///   [`CoordinatorOptions::wait_for_room`], zero by default);
    /// - the lock was lost, or the backend failed;
    /// - `apply` failed for an older queued write (which stays queued unless
    ///   the [`DeadLetterPolicy`] moves it aside; this write is not applied,
    ///   so it cannot overtake it) or for this write.
    pub fn submit<F>(
        &self,
        table_name: &str,
        write: PendingWrite,
        timeout: Duration,
        apply: F,
    ) -> Result<SubmitOutcome, WriteError>
    where
        F: FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError>,
    {
        self.submit_through(table_name, write, timeout, &mut EachWrite(apply))
    }

    /// As [`submit`](Self::submit), but `apply` receives whole batches: up to
    /// [`CoordinatorOptions::max_batch`] queued writes in FIFO order, the last
    /// batch followed by `write` itself (see the [module docs](self)).
    ///
    /// A batch is removed from the queue only after `apply` returned `Ok`
    /// for it; a failed batch removes nothing and hands `write` back.
    ///
    /// # Errors
    ///
    /// As [`submit`](Self::submit); a failed batch that held queued writes is
    /// reported against its first queued write.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteCoordinator, WriteOperation};
    /// use reedbase_concurrent_mem::MemBackend;
    ///
    /// let coordinator = WriteCoordinator::new(MemBackend::new());
    /// let mut table_file: Vec<String> = Vec::new();
    /// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
    /// coordinator.submit_batch("t", write, Duration::from_secs(1), |batch| {
    ///     for item in batch {
    ///         table_file.extend(item.write.rows.iter().map(|row| row.to_csv()));
    ///     }
    ///     // One fsync of the table file would go here, for the whole batch.
    ///     Ok(())
    /// })?;
    /// assert_eq!(table_file, ["k|v"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn submit_batch<F>(
        &self,
        table_name: &str,
        write: PendingWrite,
        timeout: Duration,
        apply: F,
    ) -> Result<SubmitOutcome, WriteError>
    where
        F: FnMut(&[BatchItem<'_>]) -> Result<(), ApplyError>,
    {
        self.submit_through(table_name, write, timeout, &mut WholeBatch(apply))
    }

    /// Takes the table's lock (waiting at most `timeout`) and applies and
    /// removes its queued writes in FIFO order, one `apply` call per write,
    /// until the queue is empty; returns how many.
    ///
    /// # Errors
    ///
    /// A [`WriteError`] (with no write to hand back): lock timeout, invalid
    /// table name, lost lock, I/O, or a failing `apply`, whose entry stays
    /// first in the queue unless the [`DeadLetterPolicy`] moves it aside.
    pub fn drain<F>(
        &self,
        table_name: &str,
        timeout: Duration,
        apply: F,
    ) -> Result<usize, WriteError>
    where
        F: FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError>,
    {
        self.drain_through(table_name, timeout, &mut EachWrite(apply))
    }

    /// As [`drain`](Self::drain), one `apply` call per batch of up to
    /// [`CoordinatorOptions::max_batch`] queued writes.
    ///
    /// # Errors
    ///
    /// As [`drain`](Self::drain).
    pub fn drain_batch<F>(
        &self,
        table_name: &str,
        timeout: Duration,
        apply: F,
    ) -> Result<usize, WriteError>
    where
        F: FnMut(&[BatchItem<'_>]) -> Result<(), ApplyError>,
    {
        self.drain_through(table_name, timeout, &mut WholeBatch(apply))
    }

    fn submit_through<S: flow::Sink>(
        &self,
        table_name: &str,
        write: PendingWrite,
        timeout: Duration,
        sink: &mut S,
    ) -> Result<SubmitOutcome, WriteError> {
        self.submit_or_hand_back(table_name, write, timeout, sink)
            .inspect_err(|error| warn_handed_back(table_name, error))
    }

    fn submit_or_hand_back<S: flow::Sink>(
        &self,
        table_name: &str,
        write: PendingWrite,
        timeout: Duration,
        sink: &mut S,
    ) -> Result<SubmitOutcome, WriteError> {
        let reject = |write, error: ReedError| {
            WriteError::new(table_name, WriteFailure::Backend(error), Some(write))
        };
        let checked = validate_table_name(table_name).and_then(|()| crate::validate_write(&write));
        if let Err(error) = checked {
            return Err(reject(write, error));
        }
        let guard = match self.lock_or_queue(table_name, &write, timeout) {
            Ok(Room::Locked(guard)) => guard,
            Ok(Room::Queued(id)) => return Ok(SubmitOutcome::Queued(id)),
            Err(error) => return Err(reject(write, error)),
        };
        self.apply_direct(table_name, &guard, write, sink)
    }

    /// Under `guard`, applies the queue and then `write` itself; a failure
    /// hands `write` back.
    fn apply_direct<S: flow::Sink>(
        &self,
        table_name: &str,
        guard: &B::Guard,
        write: PendingWrite,
        sink: &mut S,
    ) -> Result<SubmitOutcome, WriteError> {
        let run = flow::Run::new(&self.backend, &self.options, guard, table_name);
        match run.apply_queued(Some(&write), sink) {
            Ok(drained) => Ok(SubmitOutcome::Applied { drained }),
            Err(stopped) => Err(WriteError::new(table_name, stopped.failure, Some(write))
                .after_draining(stopped.drained)),
        }
    }

    /// Takes the table's lock within `timeout`, or queues `write`.
    ///
    /// While the lock is busy, the queue entry is prepared during the last
    /// part of the wait, as long as preparing one took lately
    /// ([`QueueBackend::queue_write_unless`](crate::QueueBackend::queue_write_unless)):
    /// the lock is waited for until that much before the timeout, then the
    /// backend prepares the entry, and the lock is waited for again for what
    /// is left of the timeout (at least one attempt). A lock taken then
    /// discards the prepared entry; otherwise the entry is queued, about when
    /// the timeout ends rather than a whole `queue_write` after it.
    fn lock_or_queue(
        &self,
        table_name: &str,
        write: &PendingWrite,
        timeout: Duration,
    ) -> Result<Room<B::Guard>, ReedError> {
        let start = Instant::now();
        let first_wait = timeout.saturating_sub(self.prepare_time.get());
        if let Some(guard) = self.backend.try_acquire_lock_for(table_name, first_wait)? {
            return Ok(Room::Locked(guard));
        }
        let mut taken = None;
        let preparing = Instant::now();
        let queued = self.backend.queue_write_unless(table_name, write, &mut || {
            self.prepare_time.record(preparing.elapsed());
            let left = timeout.saturating_sub(start.elapsed());
            match self.backend.try_acquire_lock_for(table_name, left) {
                Ok(None) => false,
                Ok(Some(guard)) => {
                    taken = Some(Ok(guard));
                    true
                }
                Err(error) => {
                    taken = Some(Err(error));
                    true
                }
            }
        });
        let queued = match (queued, taken) {
            // A backend that queued the write although `instead` took the
            // lock: the write is in the queue, so it must not also be
            // applied directly (it would be applied twice); the lock goes,
            // and a holder applies it from the queue.
            (Ok(Some(id)), Some(Ok(guard))) => {
                drop(guard);
                return Ok(Room::Queued(id));
            }
            // Taken by `instead`: the write was not queued, and the lock
            // (or its error) decides.
            (_, Some(Ok(guard))) => return Ok(Room::Locked(guard)),
            (_, Some(Err(error))) => return Err(error),
            (Ok(Some(id)), None) => Ok(id),
            // A backend that queued nothing without being told to: queue
            // the write as `queue_write` would.
            (Ok(None), None) => self.backend.queue_write(table_name, write),
            (Err(error), None) => Err(error),
        };
        match queued {
            Ok(id) => Ok(Room::Queued(id)),
            Err(error) if error.is_queue_full() || error.is_queue_busy() => {
                self.wait_for_room(table_name, write, error)
            }
            Err(error) => Err(error),
        }
    }

    /// After the lock timed out and the queue refused `write` as full or
    /// busy (`refused`): waits for the lock (whose holder drains the queue)
    /// and tries to queue again, for at most
    /// [`CoordinatorOptions::wait_for_room`].
    fn wait_for_room(
        &self,
        table_name: &str,
        write: &PendingWrite,
        refused: ReedError,
    ) -> Result<Room<B::Guard>, ReedError> {
        let start = Instant::now();
        let mut refused = refused;
        loop {
            let left = self.options.wait_for_room.saturating_sub(start.elapsed());
            if left.is_zero() {
                return Err(refused);
            }
            if let Some(guard) = self
                .backend
                .try_acquire_lock_for(table_name, left.min(ROOM_RETRY))?
            {
                return Ok(Room::Locked(guard));
            }
            refused = match self.backend.queue_write(table_name, write) {
                Ok(id) => return Ok(Room::Queued(id)),
                Err(error) if error.is_queue_full() || error.is_queue_busy() => error,
                Err(error) => return Err(error),
            };
        }
    }

    fn drain_through<S: flow::Sink>(
        &self,
        table_name: &str,
        timeout: Duration,
        sink: &mut S,
    ) -> Result<usize, WriteError> {
        let failed = |error| WriteError::new(table_name, WriteFailure::Backend(error), None);
        validate_table_name(table_name).map_err(failed)?;
        let guard = self
            .backend
            .acquire_lock(table_name, timeout)
            .map_err(failed)?;
        debug_assert_eq!(guard.table_name(), table_name);
        flow::Run::new(&self.backend, &self.options, &guard, table_name)
            .apply_queued(None, sink)
            .map_err(|stopped| {
                WriteError::new(table_name, stopped.failure, None).after_draining(stopped.drained)
            })
    }
}

/// The event of a write handed back to its caller.
fn warn_handed_back(table_name: &str, error: &WriteError) {
    tracing::warn!(
        event = crate::events::WRITE_HANDED_BACK,
        table = table_name,
        error = %error,
        "write handed back to the caller"
    );
}
