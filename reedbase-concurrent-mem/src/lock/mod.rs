// SPDX-License-Identifier: Apache-2.0
//! A table's lock in memory: a flag in the table's slot, taken under the
//! slot's mutex, released by dropping [`MemGuard`], which wakes every
//! sleeper on the slot's condvar.
//!
//! Invariants: `locked` is true exactly while one `MemGuard` of the table
//! lives; a sleeper counts itself in `waiters` under the mutex before it
//! sleeps, and a release notifies whenever that count is not zero, so no
//! wake-up is lost.

use std::fmt;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_core::{LockGuard, LockHolder, ReedResult};

use crate::slot::{TableSlot, TableState, lock_ignoring_poison};
use crate::sync::{Arc, Instant, MutexGuard};

/// Holds a table's lock in a [`MemBackend`](crate::MemBackend); dropping it
/// releases the lock and wakes the waiters.
///
/// Returned by [`acquire_lock`](reedbase_concurrent_core::LockBackend::acquire_lock) and
/// [`try_acquire_lock`](reedbase_concurrent_core::LockBackend::try_acquire_lock). A panic that unwinds
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

impl fmt::Debug for MemGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemGuard")
            .field("table_name", &self.table_name)
            .finish_non_exhaustive()
    }
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

/// Takes the lock of `slot`, waiting up to `timeout` for a release; the
/// time waited if it stays held.
pub(crate) fn acquire(
    slot: Arc<TableSlot>,
    table_name: &str,
    timeout: Duration,
) -> Result<MemGuard, Duration> {
    let mut state = wait_until(&slot, timeout, |state| !state.locked)?;
    state.locked = true;
    state.held_since = Some(SystemTime::now());
    drop(state);
    Ok(MemGuard {
        slot,
        table_name: table_name.to_string(),
    })
}

/// Takes the lock of `slot` if it is free, without waiting.
pub(crate) fn try_acquire(slot: Arc<TableSlot>, table_name: &str) -> Option<MemGuard> {
    let mut state = lock_ignoring_poison(&slot.state);
    if state.locked {
        return None;
    }
    state.locked = true;
    state.held_since = Some(SystemTime::now());
    drop(state);
    Some(MemGuard {
        slot,
        table_name: table_name.to_string(),
    })
}

/// Whether the lock of `slot` is held.
pub(crate) fn is_locked(slot: &TableSlot) -> bool {
    lock_ignoring_poison(&slot.state).locked
}

/// Waits up to `timeout` until the lock of `slot` is free; the time waited
/// if it stays held.
pub(crate) fn wait_for_release(slot: &TableSlot, timeout: Duration) -> Result<(), Duration> {
    wait_until(slot, timeout, |state| !state.locked).map(drop)
}

/// Who holds the lock of `slot`: always this process, with its pid and the
/// time the lock was taken (no host: the lock never leaves the process).
pub(crate) fn holder(slot: &TableSlot) -> Option<LockHolder> {
    let state = lock_ignoring_poison(&slot.state);
    state
        .locked
        .then(|| LockHolder::new(Some(std::process::id()), None, state.held_since))
}
