// SPDX-License-Identifier: Apache-2.0
//! [`MemBackend`]: per-table lock flag and queue under a `Mutex`, with a
//! `Condvar` for release.

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{
    DEFAULT_QUEUE_CAPACITY, LockBackend, PendingWrite, QueueBackend, ReedError, ReedResult,
    validate_queue_id, validate_table_name, validate_write,
};

use crate::sync::{Arc, AtomicU64, Condvar, Mutex, MutexGuard, Ordering};

/// In-memory backend; see the [crate docs](crate).
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
    queue: VecDeque<(String, PendingWrite)>,
}

/// Holds a table's lock in a [`MemBackend`]; dropping it releases the lock
/// and wakes the waiters.
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct MemGuard {
    slot: Arc<TableSlot>,
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
        f.debug_struct("MemGuard").finish_non_exhaustive()
    }
}

impl Default for MemBackend {
    fn default() -> Self {
        MemBackend::new()
    }
}

impl MemBackend {
    /// A backend whose queues hold [`DEFAULT_QUEUE_CAPACITY`] entries.
    pub fn new() -> Self {
        MemBackend::with_capacity(DEFAULT_QUEUE_CAPACITY)
    }

    /// A backend whose queues hold `capacity` entries each.
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
    fn slot(&self, table_name: &str) -> ReedResult<Arc<TableSlot>> {
        validate_table_name(table_name)?;
        let mut tables = lock_ignoring_poison(&self.shared.tables);
        let slot = tables.entry(table_name.to_string()).or_default();
        Ok(Arc::clone(slot))
    }

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
        state = match slot.released.wait_timeout(state, left) {
            Ok((state, _)) => state,
            Err(poisoned) => poisoned.into_inner().0,
        };
    }
}

impl Drop for MemGuard {
    fn drop(&mut self) {
        let mut state = lock_ignoring_poison(&self.slot.state);
        state.locked = false;
        drop(state);
        // Both acquirers and wait_for_unlock callers wait on this condvar; a
        // notify_one could wake only a wait_for_unlock caller and leave an
        // acquirer asleep on a free lock.
        self.slot.released.notify_all();
    }
}

impl LockBackend for MemBackend {
    type Guard = MemGuard;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<MemGuard> {
        let slot = self.slot(table_name)?;
        let waited = match wait_until(&slot, timeout, |state| !state.locked) {
            Ok(mut state) => {
                state.locked = true;
                None
            }
            Err(waited) => Some(waited),
        };
        match waited {
            None => Ok(MemGuard { slot }),
            Some(waited) => Err(ReedError::LockTimeout {
                table: table_name.to_string(),
                waited,
            }),
        }
    }

    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<MemGuard>> {
        let slot = self.slot(table_name)?;
        let mut state = lock_ignoring_poison(&slot.state);
        if state.locked {
            return Ok(None);
        }
        state.locked = true;
        drop(state);
        Ok(Some(MemGuard { slot }))
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
            Err(waited) => Err(ReedError::LockTimeout {
                table: table_name.to_string(),
                waited,
            }),
        }
    }
}

impl QueueBackend for MemBackend {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        validate_write(write)?;
        let slot = self.slot(table_name)?;
        let mut state = lock_ignoring_poison(&slot.state);
        if state.queue.len() >= self.shared.capacity {
            return Err(ReedError::QueueFull {
                table: table_name.to_string(),
                size: state.queue.len(),
            });
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
        validate_queue_id(queue_id)?;
        let slot = self.slot(table_name)?;
        let mut state = lock_ignoring_poison(&slot.state);
        let position = state.queue.iter().position(|(id, _)| id == queue_id);
        match position {
            Some(index) => {
                state.queue.remove(index);
                Ok(())
            }
            None => Err(ReedError::QueueEntryNotFound {
                table: table_name.to_string(),
                queue_id: queue_id.to_string(),
            }),
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
}
