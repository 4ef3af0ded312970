// SPDX-License-Identifier: Apache-2.0
//! [`LosingLocks`]: a backend wrapper whose lock guards can be made to
//! report that their lock was lost, so that the coordinator's behaviour
//! under a lost lock can be checked on any backend.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use reedbase_concurrent_core::PendingWrite;
use reedbase_concurrent_core::ReedResult;
use reedbase_concurrent_core::{Backend, SubmitOutcome, WriteCoordinator};
use reedbase_concurrent_core::{LockBackend, LockGuard, QueueBackend};
use reedbase_concurrent_core::{LockHolder, MovedAside};

/// Wraps a backend and forwards every call to it; the guards it hands out
/// report [`LockGuard::is_held`] `== Ok(false)` once
/// [`lose_held_locks`](Self::lose_held_locks) was called after they were
/// taken (the lock itself stays held until the guard is dropped, as a real
/// lost lock may be held by someone else).
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::LockGuard;
/// use reedbase_concurrent_core::LockBackend;
/// use reedbase_concurrent_conformance::LosingLocks;
/// use reedbase_concurrent_mem::MemBackend;
///
/// let backend = LosingLocks::new(MemBackend::new());
/// let guard = backend.acquire_lock("users", Duration::from_secs(1))?;
/// assert!(guard.is_held()?);
/// backend.lose_held_locks();
/// assert!(!guard.is_held()?);
/// drop(guard);
/// assert!(backend.acquire_lock("users", Duration::from_secs(1))?.is_held()?);
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
#[derive(Debug, Clone)]
pub struct LosingLocks<B> {
    inner: B,
    counters: Arc<Counters>,
}

#[derive(Debug, Default)]
struct Counters {
    /// Guards handed out so far; a guard's number is the count at its birth.
    handed_out: AtomicU64,
    /// Guards numbered up to this have lost their lock.
    lost_up_to: AtomicU64,
    /// Calls of `is_held` on the guards handed out.
    held_checks: AtomicU64,
    /// Calls of `get_pending_batch`.
    fetches: AtomicU64,
}

/// Submits `write` to `table` through `coordinator` and returns the key of
/// the first row of each write applied by that call, in the order applied
/// (queued writes first, then `write`). Panics unless the call applied.
pub fn keys_applied_by_submit<B: Backend>(
    coordinator: &WriteCoordinator<B>,
    table: &str,
    write: PendingWrite,
    timeout: Duration,
) -> Vec<String> {
    let mut applied = Vec::new();
    let outcome = coordinator
        .submit(table, write, timeout, |_, w| {
            applied.push(w.rows[0].key.clone());
            Ok(())
        })
        .unwrap();
    assert!(
        matches!(outcome, SubmitOutcome::Applied { .. }),
        "{outcome:?}"
    );
    applied
}

impl<B> LosingLocks<B> {
    /// Wraps `inner`; no lock is lost until one of the methods below says so.
    pub fn new(inner: B) -> Self {
        LosingLocks {
            inner,
            counters: Arc::default(),
        }
    }

    /// Every guard handed out so far loses its lock.
    pub fn lose_held_locks(&self) {
        let handed_out = self.counters.handed_out.load(Ordering::SeqCst);
        self.counters
            .lost_up_to
            .fetch_max(handed_out, Ordering::SeqCst);
    }

    /// Every guard, including those handed out from now on, has lost its
    /// lock.
    pub fn lose_every_lock(&self) {
        self.counters.lost_up_to.store(u64::MAX, Ordering::SeqCst);
    }

    /// How many times [`LockGuard::is_held`] was called on the guards
    /// handed out so far: how often a coordinator checked its lock.
    pub fn held_checks(&self) -> u64 {
        self.counters.held_checks.load(Ordering::SeqCst)
    }

    /// How many times [`QueueBackend::get_pending_batch`] was called
    /// through this wrapper: how often a coordinator fetched queued writes.
    pub fn fetches(&self) -> u64 {
        self.counters.fetches.load(Ordering::SeqCst)
    }

    /// The wrapped backend.
    pub fn inner(&self) -> &B {
        &self.inner
    }

    fn wrap<G>(&self, inner: G) -> LosingGuard<G> {
        let number = self.counters.handed_out.fetch_add(1, Ordering::SeqCst) + 1;
        LosingGuard {
            inner,
            number,
            counters: Arc::clone(&self.counters),
        }
    }
}

/// A guard of [`LosingLocks`]: the wrapped backend's guard and its number.
#[derive(Debug)]
pub struct LosingGuard<G> {
    inner: G,
    number: u64,
    counters: Arc<Counters>,
}

impl<G: LockGuard> LockGuard for LosingGuard<G> {
    fn table_name(&self) -> &str {
        self.inner.table_name()
    }

    fn is_held(&self) -> ReedResult<bool> {
        self.counters.held_checks.fetch_add(1, Ordering::SeqCst);
        if self.number <= self.counters.lost_up_to.load(Ordering::SeqCst) {
            return Ok(false);
        }
        self.inner.is_held()
    }

    /// The wrapped guard's answer, unless this guard has lost its lock
    /// (also one handed out after [`LosingLocks::lose_every_lock`]).
    fn checked_at_acquisition(&self) -> bool {
        self.number > self.counters.lost_up_to.load(Ordering::SeqCst)
            && self.inner.checked_at_acquisition()
    }

    /// The wrapped guard's answer.
    fn queue_empty_at_acquisition(&self) -> bool {
        self.inner.queue_empty_at_acquisition()
    }

    fn fencing_token(&self) -> Option<u64> {
        self.inner.fencing_token()
    }
}

impl<B: LockBackend> LockBackend for LosingLocks<B> {
    type Guard = LosingGuard<B::Guard>;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<Self::Guard> {
        Ok(self.wrap(self.inner.acquire_lock(table_name, timeout)?))
    }

    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<Self::Guard>> {
        Ok(self
            .inner
            .try_acquire_lock(table_name)?
            .map(|guard| self.wrap(guard)))
    }

    fn try_acquire_lock_for(
        &self,
        table_name: &str,
        timeout: Duration,
    ) -> ReedResult<Option<Self::Guard>> {
        Ok(self
            .inner
            .try_acquire_lock_for(table_name, timeout)?
            .map(|guard| self.wrap(guard)))
    }

    fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
        self.inner.is_locked(table_name)
    }

    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        self.inner.wait_for_unlock(table_name, timeout)
    }

    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        self.inner.lock_holder(table_name)
    }
}

impl<B: QueueBackend> QueueBackend for LosingLocks<B> {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        self.inner.queue_write(table_name, write)
    }

    fn queue_write_unless(
        &self,
        table_name: &str,
        write: &PendingWrite,
        instead: &mut dyn FnMut() -> bool,
    ) -> ReedResult<Option<String>> {
        self.inner.queue_write_unless(table_name, write, instead)
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        self.inner.get_next_pending(table_name)
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        self.inner.remove_from_queue(table_name, queue_id)
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        self.inner.count_pending(table_name)
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        self.counters.fetches.fetch_add(1, Ordering::SeqCst);
        self.inner.get_pending_batch(table_name, max)
    }

    fn short_batch_holds_all(&self) -> bool {
        self.inner.short_batch_holds_all()
    }

    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        self.inner.remove_batch_from_queue(table_name, queue_ids)
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        self.inner.is_pending(table_name, queue_id)
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        self.inner.move_aside(table_name, queue_id, reason)
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        self.inner.moved_aside(table_name)
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        self.inner.record_failed_apply(table_name, queue_id)
    }

    fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
        self.inner.tables_with_pending()
    }
}

#[cfg(test)]
#[path = "losing_locks_test.rs"]
mod tests;
