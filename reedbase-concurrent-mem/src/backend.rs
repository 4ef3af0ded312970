// SPDX-License-Identifier: Apache-2.0
//! [`MemBackend`]: a slot per table (lock flag and queue under one `Mutex`,
//! with a `Condvar` for release), and the two traits, which check their
//! inputs and the process here and leave the lock to `lock/` and the queue
//! to `queue/`.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::{
    DEFAULT_QUEUE_CAPACITY, LockBackend, LockHolder, MovedAside, PendingWrite, QueueBackend,
    ReedError, ReedResult, validate_queue_id, validate_table_name, validate_write,
};

use crate::lock::{self, MemGuard};
use crate::queue;
use crate::slot::{TableSlot, lock_ignoring_poison};
use crate::sync::{Arc, AtomicU64, Mutex, Ordering};

/// The in-memory backend: an exclusive lock and a FIFO queue per table,
/// within one process; see the [crate docs](crate).
///
/// Cloning is cheap and shares the state: every clone sees the same locks and
/// queues. Tables come into being on first use, under any name that
/// [`validate_table_name`] accepts.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, WriteOperation};
/// use reedbase_concurrent_mem::MemBackend;
///
/// let backend = MemBackend::new();
/// let producer = backend.clone();
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])]);
/// std::thread::spawn(move || producer.queue_write("users", &write)).join().unwrap()?;
/// assert_eq!(backend.count_pending("users")?, 1);
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
#[derive(Clone)]
pub struct MemBackend {
    pub(crate) shared: Arc<Shared>,
}

pub(crate) struct Shared {
    capacity: usize,
    pub(crate) tables: Mutex<HashMap<String, Arc<TableSlot>>>,
    next_id: AtomicU64,
    /// The process that made the backend; see [`MemBackend::check_process`].
    pub(crate) owner: u32,
}

impl fmt::Debug for MemBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemBackend")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

impl Default for MemBackend {
    fn default() -> Self {
        MemBackend::new()
    }
}

impl MemBackend {
    /// A backend whose queues hold [`DEFAULT_QUEUE_CAPACITY`] entries.
    ///
    /// ```
    /// use reedbase_concurrent_core::{DEFAULT_QUEUE_CAPACITY, QueueBackend};
    /// use reedbase_concurrent_mem::MemBackend;
    ///
    /// assert_eq!(MemBackend::new().capacity(), DEFAULT_QUEUE_CAPACITY);
    /// ```
    pub fn new() -> Self {
        MemBackend::with_capacity(DEFAULT_QUEUE_CAPACITY)
    }

    /// A backend whose queues hold `capacity` entries each; with 0, every
    /// [`queue_write`](reedbase_concurrent_core::QueueBackend::queue_write) is refused.
    ///
    /// ```
    /// use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, WriteOperation};
    /// use reedbase_concurrent_mem::MemBackend;
    ///
    /// let backend = MemBackend::with_capacity(1);
    /// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])]);
    /// backend.queue_write("users", &write)?;
    /// assert!(backend.queue_write("users", &write).unwrap_err().is_queue_full());
    /// # Ok::<(), reedbase_concurrent_core::ReedError>(())
    /// ```
    pub fn with_capacity(capacity: usize) -> Self {
        MemBackend::owned_by(std::process::id(), capacity)
    }

    /// A backend that belongs to process `owner`.
    fn owned_by(owner: u32, capacity: usize) -> Self {
        MemBackend {
            shared: Arc::new(Shared {
                capacity,
                tables: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
                owner,
            }),
        }
    }

    /// Refuses to take a lock or queue a write in another process than the
    /// one that made the backend: a child forked with a copy of it would hold
    /// locks and queues that no other process sees. Checked where it is
    /// cheap (one `getpid`) and where it matters; reads are not checked.
    fn check_process(&self, operation: &'static str, table_name: &str) -> ReedResult<()> {
        let here = std::process::id();
        if here == self.shared.owner {
            return Ok(());
        }
        let reason = format!(
            "this MemBackend was made by process {} and is used by process {here} (a forked \
             child?): it keeps locks and queues in one process's memory and excludes nobody \
             else; use the file-system backend across processes",
            self.shared.owner
        );
        let path = format!("memory:{table_name}");
        Err(ReedError::io(
            operation,
            Path::new(&path),
            &io::Error::new(io::ErrorKind::Unsupported, reason),
        ))
    }

    /// The slot of a table, created on first use.
    ///
    /// Looks the name up as `&str` first, so that only the first use of a
    /// table allocates its key.
    fn slot(&self, table_name: &str) -> ReedResult<Arc<TableSlot>> {
        validate_table_name(table_name)?;
        let mut tables = lock_ignoring_poison(&self.shared.tables);
        if let Some(slot) = tables.get(table_name) {
            return Ok(Arc::clone(slot));
        }
        let slot = Arc::new(TableSlot::default());
        tables.insert(table_name.to_string(), Arc::clone(&slot));
        Ok(slot)
    }

    /// A fresh queue id, unique across all tables for the life of the
    /// backend and accepted by `validate_queue_id`.
    fn next_queue_id(&self) -> String {
        let n = self.shared.next_id.fetch_add(1, Ordering::Relaxed);
        format!("mem-{n:020}")
    }
}

impl LockBackend for MemBackend {
    type Guard = MemGuard;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<MemGuard> {
        let slot = self.slot(table_name)?;
        self.check_process("acquire_lock", table_name)?;
        lock::acquire(slot, table_name, timeout).or_else(|waited| {
            Err(ReedError::lock_timeout(table_name, waited)
                .with_holder(self.lock_holder(table_name)?))
        })
    }

    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<MemGuard>> {
        let slot = self.slot(table_name)?;
        self.check_process("try_acquire_lock", table_name)?;
        Ok(lock::try_acquire(slot, table_name))
    }

    fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
        let slot = self.slot(table_name)?;
        Ok(lock::is_locked(&slot))
    }

    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        lock::wait_for_release(&slot, timeout).or_else(|waited| {
            Err(ReedError::lock_timeout(table_name, waited)
                .with_holder(self.lock_holder(table_name)?))
        })
    }

    /// The holder is always this process: its pid and the time the lock was
    /// taken (no host: the lock never leaves the process).
    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        let slot = self.slot(table_name)?;
        Ok(lock::holder(&slot))
    }
}

impl QueueBackend for MemBackend {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        // The table name (in `slot`) first, then the rest: every backend
        // reports the same error for a call with more than one bad input.
        let slot = self.slot(table_name)?;
        validate_write(write)?;
        self.check_process("queue_write", table_name)?;
        let mut state = lock_ignoring_poison(&slot.state);
        queue::push(&mut state, table_name, self.shared.capacity, write, || {
            self.next_queue_id()
        })
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        let slot = self.slot(table_name)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(queue::oldest(&state, 1).pop())
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        queue::remove(&mut lock_ignoring_poison(&slot.state), table_name, queue_id)
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        let slot = self.slot(table_name)?;
        let count = lock_ignoring_poison(&slot.state).queue.len();
        Ok(count)
    }

    fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// `true`: a batch is read from the queue itself, under its lock.
    fn short_batch_holds_all(&self) -> bool {
        true
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        let slot = self.slot(table_name)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(queue::oldest(&state, max))
    }

    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        queue_ids.iter().try_for_each(|id| validate_queue_id(id))?;
        queue::remove_each(
            &mut lock_ignoring_poison(&slot.state),
            table_name,
            queue_ids,
        )
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let pending = queue::contains(&lock_ignoring_poison(&slot.state), queue_id);
        Ok(pending)
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let mut state = lock_ignoring_poison(&slot.state);
        queue::move_aside(&mut state, table_name, queue_id, reason)
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        let slot = self.slot(table_name)?;
        let moved = queue::moved_aside(&lock_ignoring_poison(&slot.state));
        Ok(moved)
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        queue::record_failure(&mut lock_ignoring_poison(&slot.state), table_name, queue_id)
    }

    fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
        let slots: Vec<(String, Arc<TableSlot>)> = lock_ignoring_poison(&self.shared.tables)
            .iter()
            .map(|(name, slot)| (name.clone(), Arc::clone(slot)))
            .collect();
        let mut tables: Vec<String> = slots
            .into_iter()
            .filter(|(_, slot)| !lock_ignoring_poison(&slot.state).queue.is_empty())
            .map(|(name, _)| name)
            .collect();
        tables.sort();
        Ok(tables)
    }
}

#[cfg(all(test, not(loom)))]
#[path = "backend_test.rs"]
mod tests;
