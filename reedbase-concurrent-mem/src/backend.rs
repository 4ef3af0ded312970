// SPDX-License-Identifier: Apache-2.0
//! [`MemBackend`]: per-table lock flag and queue under a `Mutex`, with a
//! `Condvar` for release.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_core::{
    DEFAULT_QUEUE_CAPACITY, LockBackend, LockGuard, LockHolder, MovedAside, PendingWrite,
    QueueBackend, ReedError, ReedResult, validate_queue_id, validate_table_name, validate_write,
};

use crate::sync::{Arc, AtomicU64, Condvar, Instant, Mutex, MutexGuard, Ordering};

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

/// Holds a table's lock in a [`MemBackend`]; dropping it releases the lock
/// and wakes the waiters.
///
/// Returned by [`acquire_lock`](LockBackend::acquire_lock) and
/// [`try_acquire_lock`](LockBackend::try_acquire_lock). A panic that unwinds
/// past the guard drops it, so a panicking holder releases the lock too.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::LockBackend;
/// use reedbase_concurrent_mem::MemBackend;
///
/// let backend = MemBackend::new();
/// let guard = backend.acquire_lock("users", Duration::from_secs(1))?;
/// assert!(backend.is_locked("users")?);
/// drop(guard);
/// assert!(!backend.is_locked("users")?);
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MemGuard {
    slot: Arc<TableSlot>,
    table_name: String,
}

impl LockGuard for MemGuard {
    fn table_name(&self) -> &str {
        &self.table_name
    }

    /// Always `Ok(true)`: an in-memory lock cannot be lost while its guard
    /// lives.
    fn is_held(&self) -> ReedResult<bool> {
        Ok(true)
    }
}

impl fmt::Debug for MemBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemBackend")
            .field("capacity", &self.shared.capacity)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for MemGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemGuard")
            .field("table_name", &self.table_name)
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
    /// [`queue_write`](QueueBackend::queue_write) is refused.
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
        MemBackend {
            shared: Arc::new(Shared {
                capacity,
                tables: Mutex::new(HashMap::new()),
                next_id: AtomicU64::new(0),
            }),
        }
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

/// Waits on `slot` until `done(state)` holds or `timeout` has passed; returns
/// the state guard on success and the time waited on timeout.
///
/// A sleeper counts itself in `waiters` before `wait_timeout` releases the
/// mutex, and a release reads the count under the same mutex: either the
/// release sees the sleeper and notifies, or the sleeper sees the lock free
/// and never sleeps. No wake-up is lost (the loom tests check this).
fn wait_until<'a>(
    slot: &'a TableSlot,
    timeout: Duration,
    mut done: impl FnMut(&TableState) -> bool,
) -> Result<MutexGuard<'a, TableState>, Duration> {
    let start = Instant::now();
    let mut state = lock_ignoring_poison(&slot.state);
    loop {
        if done(&state) {
            return Ok(state);
        }
        let waited = start.elapsed();
        let Some(left) = timeout.checked_sub(waited).filter(|d| !d.is_zero()) else {
            return Err(waited);
        };
        state.waiters += 1;
        state = match slot.released.wait_timeout(state, left) {
            Ok((state, _)) => state,
            Err(poisoned) => poisoned.into_inner().0,
        };
        state.waiters -= 1;
    }
}

impl Drop for MemGuard {
    fn drop(&mut self) {
        let mut state = lock_ignoring_poison(&self.slot.state);
        state.locked = false;
        state.held_since = None;
        let anyone_waiting = state.waiters > 0;
        drop(state);
        // Both acquirers and wait_for_unlock callers wait on this condvar; a
        // notify_one could wake only a wait_for_unlock caller and leave an
        // acquirer asleep on a free lock.
        if anyone_waiting {
            self.slot.released.notify_all();
        }
    }
}

impl LockBackend for MemBackend {
    type Guard = MemGuard;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<MemGuard> {
        let slot = self.slot(table_name)?;
        let waited = match wait_until(&slot, timeout, |state| !state.locked) {
            Ok(mut state) => {
                state.locked = true;
                state.held_since = Some(SystemTime::now());
                None
            }
            Err(waited) => Some(waited),
        };
        match waited {
            None => Ok(MemGuard {
                slot,
                table_name: table_name.to_string(),
            }),
            Some(waited) => Err(ReedError::lock_timeout(table_name, waited)
                .with_holder(self.lock_holder(table_name)?)),
        }
    }

    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<MemGuard>> {
        let slot = self.slot(table_name)?;
        let mut state = lock_ignoring_poison(&slot.state);
        if state.locked {
            return Ok(None);
        }
        state.locked = true;
        state.held_since = Some(SystemTime::now());
        drop(state);
        Ok(Some(MemGuard {
            slot,
            table_name: table_name.to_string(),
        }))
    }

    fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
        let slot = self.slot(table_name)?;
        let locked = lock_ignoring_poison(&slot.state).locked;
        Ok(locked)
    }

    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        match wait_until(&slot, timeout, |state| !state.locked) {
            Ok(_) => Ok(()),
            Err(waited) => Err(ReedError::lock_timeout(table_name, waited)
                .with_holder(self.lock_holder(table_name)?)),
        }
    }

    /// The holder is always this process: its pid and the time the lock was
    /// taken (no host: the lock never leaves the process).
    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        let slot = self.slot(table_name)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(state
            .locked
            .then(|| LockHolder::new(Some(std::process::id()), None, state.held_since)))
    }
}

impl QueueBackend for MemBackend {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        // The table name (in `slot`) first, then the rest: every backend
        // reports the same error for a call with more than one bad input.
        let slot = self.slot(table_name)?;
        validate_write(write)?;
        let mut state = lock_ignoring_poison(&slot.state);
        if state.queue.len() >= self.shared.capacity {
            return Err(ReedError::queue_full(table_name, state.queue.len()));
        }
        let id = self.next_queue_id();
        state.queue.push_back((id.clone(), write.clone()));
        Ok(id)
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        let slot = self.slot(table_name)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(state.queue.front().cloned())
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let mut state = lock_ignoring_poison(&slot.state);
        let position = state.queue.iter().position(|(id, _)| id == queue_id);
        match position {
            Some(index) => {
                state.queue.remove(index);
                state.failures.remove(queue_id);
                Ok(())
            }
            None => Err(not_pending(&state, table_name, queue_id)),
        }
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        let slot = self.slot(table_name)?;
        let count = lock_ignoring_poison(&slot.state).queue.len();
        Ok(count)
    }

    fn capacity(&self) -> usize {
        self.shared.capacity
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        let slot = self.slot(table_name)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(state.queue.iter().take(max).cloned().collect())
    }

    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        queue_ids.iter().try_for_each(|id| validate_queue_id(id))?;
        let mut state = lock_ignoring_poison(&slot.state);
        for queue_id in queue_ids {
            match state.queue.iter().position(|(id, _)| id == queue_id) {
                Some(index) => {
                    state.queue.remove(index);
                    state.failures.remove(queue_id);
                }
                None => return Err(not_pending(&state, table_name, queue_id)),
            }
        }
        Ok(())
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(state.queue.iter().any(|(id, _)| id == queue_id))
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let mut state = lock_ignoring_poison(&slot.state);
        let Some(index) = state.queue.iter().position(|(id, _)| id == queue_id) else {
            return Err(not_pending(&state, table_name, queue_id));
        };
        state.queue.remove(index);
        state.failures.remove(queue_id);
        let moved = MovedAside::new(queue_id, reason, format!("memory:{table_name}/{queue_id}"));
        state.moved.push(moved.clone());
        Ok(moved)
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        let slot = self.slot(table_name)?;
        let mut moved = lock_ignoring_poison(&slot.state).moved.clone();
        moved.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(moved)
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let mut state = lock_ignoring_poison(&slot.state);
        if !state.queue.iter().any(|(id, _)| id == queue_id) {
            return Err(not_pending(&state, table_name, queue_id));
        }
        let count = state.failures.entry(queue_id.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        Ok(*count)
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

/// The error for an id that is not pending: `CorruptEntry` if it was moved
/// aside, `QueueEntryNotFound` otherwise.
fn not_pending(state: &TableState, table_name: &str, queue_id: &str) -> ReedError {
    match state.moved.iter().find(|moved| moved.id == queue_id) {
        Some(moved) => ReedError::moved_aside(table_name, moved),
        None => ReedError::entry_not_found(table_name, queue_id),
    }
}

#[cfg(all(test, not(loom)))]
impl MemBackend {
    /// How many threads sleep on the table's condvar, so that a test can
    /// release only once its waiters really wait.
    pub(crate) fn waiters_for_test(&self, table_name: &str) -> ReedResult<usize> {
        let slot = self.slot(table_name)?;
        let waiters = lock_ignoring_poison(&slot.state).waiters;
        Ok(waiters)
    }

    /// Poisons the table map's mutex and the table's state mutex, by
    /// panicking in a thread that holds both.
    pub(crate) fn poison_for_test(&self, table_name: &str) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        let shared = Arc::clone(&self.shared);
        let panicked = std::thread::spawn(move || {
            let _tables = shared.tables.lock();
            let _state = slot.state.lock();
            panic!("poisoning the mem backend's mutexes on purpose");
        })
        .join();
        assert!(panicked.is_err(), "the poisoning thread should panic");
        Ok(())
    }
}
