// SPDX-License-Identifier: Apache-2.0
//! The two contracts every backend keeps: [`LockBackend`] and
//! [`QueueBackend`].
//!
//! Method names follow the old module's free functions. Every method
//! validates its table name (and queue id) with
//! [`validate_table_name`] and
//! [`validate_queue_id`] before it touches any
//! state, and reports a bad one as
//! [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName) or
//! [`ReedError::InvalidQueueId`](crate::ReedError::InvalidQueueId).
//!
//! The crate `reedbase-concurrent-conformance` checks all of this against a
//! backend; a backend is done when it passes its suite unchanged.

use std::time::Duration;

use crate::diagnostics::{LockHolder, MovedAside};
use crate::error::ReedResult;
use crate::types::PendingWrite;
use crate::validation::{validate_queue_id, validate_table_name};

/// The longest pause of the default
/// [`QueueBackend::wait_while_pending`] before it looks again.
pub const PENDING_POLL: Duration = Duration::from_millis(1);

/// The default number of pending writes a table's queue holds.
pub const DEFAULT_QUEUE_CAPACITY: usize = 100;

/// An exclusive write lock per table.
///
/// Exclusion holds across threads, and for backends that say so (the
/// file-system backend) across processes. A lock is released when its
/// [`Guard`](LockBackend::Guard) is dropped; there is no other way to release
/// it, so a lock cannot outlive its holder.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::LockBackend;
/// use reedbase_concurrent_mem::MemBackend;
///
/// let backend = MemBackend::new();
/// {
///     let _guard = backend.acquire_lock("users", Duration::from_secs(1))?;
///     assert!(backend.is_locked("users")?);
///     assert!(backend.try_acquire_lock("users")?.is_none());
/// }
/// assert!(!backend.is_locked("users")?);
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
pub trait LockBackend {
    /// Proof of holding a table's lock; dropping it releases the lock.
    type Guard: LockGuard;

    /// Takes the table's exclusive lock, waiting at most `timeout`.
    ///
    /// A waiter is woken promptly when the lock is released (no coarse
    /// polling): hand-off latency is a backend's measured property, not a
    /// multiple of a sleep interval.
    ///
    /// # Errors
    ///
    /// - [`ReedError::LockTimeout`](crate::ReedError::LockTimeout) carrying
    ///   the `Duration` really waited, when the lock is still held after
    ///   `timeout`;
    /// - [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName)
    ///   for a bad name, before anything is touched;
    /// - [`ReedError::IoError`](crate::ReedError::IoError) naming the path, at
    ///   once, for a failure that is not contention (unwritable directory,
    ///   base path that is a file). It is never reported as a timeout.
    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<Self::Guard>;

    /// Takes the table's lock if it is free, never waiting.
    ///
    /// Returns `Ok(None)` when another holder has it.
    ///
    /// # Errors
    ///
    /// As [`acquire_lock`](LockBackend::acquire_lock), except that there is
    /// no timeout.
    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<Self::Guard>>;

    /// As [`acquire_lock`](LockBackend::acquire_lock), with a timeout
    /// returned as `Ok(None)` instead of an error: for a caller to whom a
    /// busy lock is a normal outcome, such as the
    /// [`WriteCoordinator`](crate::WriteCoordinator), which then queues the
    /// write. A backend may save the work of describing the holder that a
    /// [`ReedError::LockTimeout`](crate::ReedError::LockTimeout) carries (the
    /// fs backend reads `/proc` for it). The default maps `acquire_lock`'s
    /// timeout to `None`.
    ///
    /// # Errors
    ///
    /// As [`acquire_lock`](LockBackend::acquire_lock), except for the
    /// timeout.
    fn try_acquire_lock_for(
        &self,
        table_name: &str,
        timeout: Duration,
    ) -> ReedResult<Option<Self::Guard>> {
        match self.acquire_lock(table_name, timeout) {
            Ok(guard) => Ok(Some(guard)),
            Err(crate::ReedError::LockTimeout { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// Tells whether some holder has the table's lock at this instant.
    ///
    /// A table that was never locked is not locked. The answer may be stale
    /// by the time the caller reads it; use it for diagnostics, not for
    /// deciding to write.
    ///
    /// # Errors
    ///
    /// [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName) for
    /// a bad name; a backend may report I/O failures other than "not found".
    fn is_locked(&self, table_name: &str) -> ReedResult<bool>;

    /// Waits until the table's lock is free (without taking it), at most
    /// `timeout`.
    ///
    /// # Errors
    ///
    /// [`ReedError::LockTimeout`](crate::ReedError::LockTimeout) with the real
    /// wait, and the errors of [`is_locked`](LockBackend::is_locked).
    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()>;

    /// Who holds the table's lock, or `None` when nobody does.
    ///
    /// A snapshot for diagnostics: a backend that cannot tell who holds a
    /// held lock returns [`LockHolder::unknown`]. Never creates anything.
    ///
    /// # Errors
    ///
    /// As [`is_locked`](LockBackend::is_locked).
    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>>;
}

/// What every lock guard can say about itself.
///
/// A lock can be lost while its guard is alive: the file-system backend's
/// lock file replaced or deleted by an operator, a database backend's
/// connection cut. The [`WriteCoordinator`](crate::WriteCoordinator) asks
/// [`is_held`](LockGuard::is_held) before it applies a write and before it
/// removes applied entries, so that nothing more happens under a lost lock
/// (before the first apply, right after the acquisition, the acquisition's
/// own check serves where [`checked_at_acquisition`](LockGuard::checked_at_acquisition)
/// says there was one).
pub trait LockGuard {
    /// The table whose lock this is.
    fn table_name(&self) -> &str;

    /// Whether the lock is still this guard's, checked cheaply (a backend
    /// whose locks cannot be lost answers `Ok(true)` without any work).
    ///
    /// # Errors
    ///
    /// A backend failure while checking; the coordinator treats it like a
    /// lost lock.
    fn is_held(&self) -> ReedResult<bool>;

    /// Whether the acquisition that handed out this guard made, after taking
    /// the lock, the same check as [`is_held`](Self::is_held), and found the
    /// lock held. The coordinator, which checks `is_held` before each batch
    /// it applies, then counts that check as the one before its first
    /// batch, made right after the acquisition, and saves a second one.
    /// The default, `false`, makes the coordinator check.
    ///
    /// A guard that can be handed out already lost (a test double such as
    /// the conformance suite's `LosingLocks`) must answer `false` then.
    fn checked_at_acquisition(&self) -> bool {
        false
    }

    /// Whether the acquisition that handed out this guard knows, from a
    /// look made after it took the lock, that the table's queue held no
    /// entry then. The coordinator, which fetches the queued writes before
    /// it applies one of its own, then skips its first fetch: it would find
    /// nothing queued before the lock was taken, which is all it must apply
    /// first. The default, `false`, makes the coordinator fetch.
    ///
    /// Only a backend that learns this for less than a fetch costs says
    /// `true` (fs: a table with no queue directory, known without a system
    /// call while the table's directory has not changed since it last
    /// looked; pg: an `EXISTS` in the acquisition's own statement). An answer of `true` must never hide an entry that was
    /// queued before the acquisition took the lock.
    fn queue_empty_at_acquisition(&self) -> bool {
        false
    }

    /// A number that grows with every acquisition of this table's lock, for
    /// backends that hand one out (see the backend's docs for what it
    /// protects). A table writer that stores the highest token it has seen
    /// can refuse a write from a holder whose lock was taken over since.
    fn fencing_token(&self) -> Option<u64> {
        None
    }
}

/// A durable FIFO queue of pending writes per table.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, WriteOperation};
/// use reedbase_concurrent_mem::MemBackend;
///
/// let backend = MemBackend::new();
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])]);
/// let id = backend.queue_write("users", &write)?;
/// let (next_id, next) = backend.get_next_pending("users")?.expect("one entry");
/// assert_eq!((next_id.as_str(), &next), (id.as_str(), &write));
/// backend.remove_from_queue("users", &id)?;
/// assert_eq!(backend.count_pending("users")?, 0);
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
pub trait QueueBackend {
    /// Appends a write to the table's queue and returns its id.
    ///
    /// The entry is durable when this returns (for backends with storage,
    /// unless the caller chose relaxed durability), and no reader ever sees
    /// it partially written. Capacity holds under any number of concurrent
    /// producers: with `capacity()` free places, exactly that many writes
    /// succeed. Ids are unique for the life of the queue (never reused), so
    /// they can serve as idempotency keys.
    ///
    /// The call is bounded in time whatever other producers do: a backend
    /// that serialises producers waits for the others at most a documented
    /// bound and then fails with
    /// [`ReedError::QueueBusy`](crate::ReedError::QueueBusy), having written
    /// nothing.
    ///
    /// # Errors
    ///
    /// - [`ReedError::QueueFull`](crate::ReedError::QueueFull) when
    ///   `capacity()` entries are pending;
    /// - [`ReedError::QueueBusy`](crate::ReedError::QueueBusy) past the
    ///   backend's bound on waiting for other producers;
    /// - [`ReedError::InvalidRow`](crate::ReedError::InvalidRow) when a row
    ///   would corrupt the table ([`validate_write`](crate::validate_write));
    /// - [`ReedError::QueueOutcomeUnknown`](crate::ReedError::QueueOutcomeUnknown)
    ///   when the entry became visible but could not be made durable (a
    ///   failed fsync of the queue directory): it may be applied, so the
    ///   write must not be queued again; ask
    ///   [`is_pending`](Self::is_pending) with the id the error carries;
    /// - invalid table name, I/O and serialisation errors.
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String>;

    /// Queues `write` as [`queue_write`](Self::queue_write) does, unless
    /// `instead` returns `true`. A backend that can prepare the entry
    /// without making it visible (the fs backend writes it, and syncs it
    /// when durable, under a temporary name) does so, then calls `instead`
    /// once: on `true` it discards what it prepared and returns `Ok(None)`,
    /// having queued nothing; on `false` it makes the entry visible as
    /// `queue_write` would and returns its id. A backend with nothing to
    /// prepare never calls `instead` and queues the write; that is the
    /// default.
    ///
    /// The [`WriteCoordinator`](crate::WriteCoordinator) calls it when a
    /// table's lock stays busy, with an `instead` that takes the lock if it
    /// comes free by the end of the timeout (or at the one attempt it makes
    /// when preparing took longer): the entry is prepared during the last
    /// part of the wait, so that a write that must be queued is queued about
    /// when its timeout ends instead of a whole `queue_write` later.
    ///
    /// # Errors
    ///
    /// As [`queue_write`](Self::queue_write). A backend that fails before
    /// it called `instead` returns the error without calling it.
    fn queue_write_unless(
        &self,
        table_name: &str,
        write: &PendingWrite,
        instead: &mut dyn FnMut() -> bool,
    ) -> ReedResult<Option<String>> {
        let _ = instead;
        self.queue_write(table_name, write).map(Some)
    }

    /// The oldest entry, in enqueue order, without removing it.
    ///
    /// Returns `Ok(None)` for an empty (or never used) queue. An entry that
    /// cannot be read or parsed never blocks the queue: the backend moves it
    /// aside, reports it in its own way, and returns the next entry.
    ///
    /// # Errors
    ///
    /// Invalid table name and I/O errors.
    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>>;

    /// Removes one entry by id.
    ///
    /// # Errors
    ///
    /// - [`ReedError::InvalidQueueId`](crate::ReedError::InvalidQueueId) for
    ///   an id that is not well formed, before anything is touched;
    /// - [`ReedError::QueueEntryNotFound`](crate::ReedError::QueueEntryNotFound)
    ///   for a well-formed id that is not queued (removing twice is an error,
    ///   as in the old module);
    /// - invalid table name and I/O errors.
    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()>;

    /// The number of pending entries (0 for a never used queue).
    ///
    /// # Errors
    ///
    /// Invalid table name and I/O errors.
    fn count_pending(&self, table_name: &str) -> ReedResult<usize>;

    /// The most entries one table's queue holds.
    fn capacity(&self) -> usize;

    /// The oldest `max` entries (fewer only if fewer are pending), in
    /// enqueue order, without removing them; what
    /// [`get_next_pending`](QueueBackend::get_next_pending) returns first is
    /// the first of them. Unreadable entries are moved aside on the way, as
    /// there. `max == 0` gives an empty batch (after the table name is
    /// checked).
    ///
    /// The default returns at most the head entry: correct for the
    /// [`WriteCoordinator`](crate::WriteCoordinator), which then checks
    /// [`count_pending`](QueueBackend::count_pending) before it takes a short
    /// batch for the whole queue, but it makes batches of one. Every backend
    /// of this workspace overrides it, and the conformance suite checks that
    /// a batch holds `min(max, pending)` entries.
    ///
    /// # Errors
    ///
    /// As [`get_next_pending`](QueueBackend::get_next_pending).
    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        validate_table_name(table_name)?;
        if max == 0 {
            return Ok(Vec::new());
        }
        Ok(self.get_next_pending(table_name)?.into_iter().collect())
    }

    /// Whether a batch from [`get_pending_batch`](QueueBackend::get_pending_batch)
    /// that holds fewer entries than asked for holds every entry that was
    /// pending when the batch was read, save entries it had to leave in
    /// place (an old-module entry still being written, one that could not be
    /// moved aside), which a second fetch would leave there as well.
    ///
    /// The [`WriteCoordinator`](crate::WriteCoordinator) then takes such a
    /// batch, fetched under the lock, for the end of what was queued before
    /// the lock was taken, without asking
    /// [`count_pending`](QueueBackend::count_pending). The default, `false`,
    /// suits the default `get_pending_batch`, which returns one entry at
    /// most. The fs, pg and mem backends say `true`: each reads its batch
    /// from one look at the whole queue (a checked listing, one query, the
    /// queue itself).
    fn short_batch_holds_all(&self) -> bool {
        false
    }

    /// Removes several entries by id, in the order given.
    ///
    /// The table name and every id are checked first: a bad one is reported
    /// before anything is removed. Then it stops at the first failure and
    /// returns it; the entries before it are removed, the rest are not. The
    /// default removes them one by one; backends override it to save work
    /// (one directory sync, one transaction).
    ///
    /// # Errors
    ///
    /// [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName)
    /// and [`ReedError::InvalidQueueId`](crate::ReedError::InvalidQueueId)
    /// before anything is touched; otherwise as
    /// [`remove_from_queue`](QueueBackend::remove_from_queue), for the first
    /// id that fails.
    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        validate_table_name(table_name)?;
        queue_ids.iter().try_for_each(|id| validate_queue_id(id))?;
        queue_ids
            .iter()
            .try_for_each(|id| self.remove_from_queue(table_name, id))
    }

    /// Whether an entry with this id is pending (neither removed nor moved
    /// aside).
    ///
    /// # Errors
    ///
    /// Invalid table name or queue id, I/O errors.
    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool>;

    /// Waits at most `timeout` for the queued write `queue_id` to leave the
    /// queue (applied and removed by a lock holder, or moved aside), and
    /// returns whether it is still pending.
    ///
    /// It may return while the write is still pending, sooner than
    /// `timeout`, when the table's lock may have come free: the caller
    /// ([`WriteCoordinator::submit_grouped`](crate::WriteCoordinator::submit_grouped))
    /// then tries the lock and applies the queue itself. The default looks
    /// with [`is_pending`](QueueBackend::is_pending) after a pause of at
    /// most [`PENDING_POLL`]; the fs backend sleeps until the queue or the
    /// lock changes instead.
    ///
    /// # Errors
    ///
    /// As [`is_pending`](QueueBackend::is_pending).
    fn wait_while_pending(
        &self,
        table_name: &str,
        queue_id: &str,
        timeout: Duration,
    ) -> ReedResult<bool> {
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        std::thread::sleep(timeout.min(PENDING_POLL));
        self.is_pending(table_name, queue_id)
    }

    /// Moves a pending entry out of the queue, with `reason`, as the backend
    /// moves an unreadable entry aside; it is listed by
    /// [`moved_aside`](QueueBackend::moved_aside) and never deleted. Used for
    /// dead letters (writes whose apply keeps failing).
    ///
    /// # Errors
    ///
    /// Invalid table name or queue id;
    /// [`ReedError::CorruptEntry`](crate::ReedError::CorruptEntry) when the
    /// entry was moved aside already, `QueueEntryNotFound` when it is
    /// otherwise not pending; I/O errors.
    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside>;

    /// The entries of the table's queue that were moved aside, oldest id
    /// first; empty when there are none.
    ///
    /// # Errors
    ///
    /// Invalid table name, I/O errors.
    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>>;

    /// Records, durably and visibly to every process, that applying a
    /// pending entry failed, and returns how many times that has happened
    /// for this entry (1 after the first failure).
    ///
    /// # Errors
    ///
    /// Invalid table name or queue id; `QueueEntryNotFound` when the entry
    /// is not pending (removed, moved aside, or never queued); I/O errors.
    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32>;

    /// The tables whose queues hold at least one pending entry, sorted by
    /// name: what a service drains at start-up.
    ///
    /// # Errors
    ///
    /// I/O errors.
    fn tables_with_pending(&self) -> ReedResult<Vec<String>>;
}

/// Both contracts at once: the bound for code that locks and queues.
///
/// Implemented for every type that implements [`LockBackend`] and
/// [`QueueBackend`]; write `B: Backend` instead of
/// `B: LockBackend + QueueBackend`.
///
/// ```
/// use reedbase_concurrent_core::{Backend, ReedResult};
///
/// fn depth<B: Backend>(backend: &B, table: &str) -> ReedResult<usize> {
///     backend.count_pending(table)
/// }
/// # assert_eq!(depth(&reedbase_concurrent_mem::MemBackend::new(), "t").unwrap(), 0);
/// ```
pub trait Backend: LockBackend + QueueBackend {}

impl<T: LockBackend + QueueBackend + ?Sized> Backend for T {}

// A shared reference or an `Arc` of a backend is a backend.
mod forward;
