// SPDX-License-Identifier: Apache-2.0
//! [`MemBackend`]: per-table lock flag and queue under a `Mutex`, with a
//! `Condvar` for release. The lock side is in `lock.rs`, the queue side in
//! `queue.rs`.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::io;
use std::path::Path;
use std::time::SystemTime;

use reedbase_concurrent_core::{
    DEFAULT_QUEUE_CAPACITY, MovedAside, PendingWrite, ReedError, ReedResult, validate_table_name,
};

use crate::sync::{Arc, AtomicU64, Condvar, Mutex, MutexGuard, Ordering};

mod inspect;
mod lock;
mod queue;

pub use lock::MemGuard;

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
    shared: Arc<Shared>,
}

struct Shared {
    capacity: usize,
    tables: Mutex<HashMap<String, Arc<TableSlot>>>,
    next_id: AtomicU64,
    /// The process that made the backend; see [`MemBackend::check_process`].
    owner: u32,
}

#[derive(Default)]
struct TableSlot {
    state: Mutex<TableState>,
    released: Condvar,
}

#[derive(Default)]
struct TableState {
    locked: bool,
    /// Threads asleep on `released` (acquirers and `wait_for_unlock`
    /// callers), so that a release with nobody waiting skips the notify,
    /// which on Linux is a system call.
    waiters: usize,
    queue: VecDeque<(String, PendingWrite)>,
    /// When the current holder took the lock.
    held_since: Option<SystemTime>,
    /// Entries moved aside, in the order they were moved.
    moved: Vec<MovedAside>,
    /// Failed applies per pending entry.
    failures: HashMap<String, u32>,
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

/// A poisoned mutex only means another thread panicked while holding it;
/// the state it guards (a flag and a queue) is never left half-changed, so
/// carrying on is sound and keeps a release in `Drop` from panicking.
fn lock_ignoring_poison<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[cfg(all(test, not(loom)))]
#[path = "backend_test.rs"]
mod tests;
