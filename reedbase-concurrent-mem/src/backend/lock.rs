// SPDX-License-Identifier: Apache-2.0
//! The lock side of [`MemBackend`]: the guard, waiting for a release, and
//! [`LockBackend`].

use std::fmt;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_core::{LockBackend, LockGuard, LockHolder, ReedError, ReedResult};

use super::{MemBackend, TableSlot, TableState, lock_ignoring_poison};
use crate::sync::{Arc, Instant, MutexGuard};

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

impl LockBackend for MemBackend {
    type Guard = MemGuard;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<MemGuard> {
        let slot = self.slot(table_name)?;
        self.check_process("acquire_lock", table_name)?;
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
        self.check_process("try_acquire_lock", table_name)?;
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
