// SPDX-License-Identifier: Apache-2.0
//! A table's slot: its lock's state and its queue under one `Mutex`, with
//! the `Condvar` that a release notifies. The lock (`lock/`) and the queue
//! (`queue/`) each change their own fields of it.

use std::collections::{HashMap, VecDeque};
use std::time::SystemTime;

use reedbase_concurrent_core::{MovedAside, PendingWrite};

use crate::sync::{Condvar, Mutex, MutexGuard};

/// A table's lock and queue, under one mutex.
#[derive(Default)]
pub(crate) struct TableSlot {
    pub(crate) state: Mutex<TableState>,
    /// Notified when the lock is released.
    pub(crate) released: Condvar,
}

/// What a table's mutex guards: the lock's side (`locked`, `waiters`,
/// `held_since`) and the queue's (`queue`, `moved`, `failures`).
#[derive(Default)]
pub(crate) struct TableState {
    pub(crate) locked: bool,
    /// Threads asleep on `released` (acquirers and `wait_for_unlock`
    /// callers), so that a release with nobody waiting skips the notify,
    /// which on Linux is a system call.
    pub(crate) waiters: usize,
    pub(crate) queue: VecDeque<(String, PendingWrite)>,
    /// When the current holder took the lock.
    pub(crate) held_since: Option<SystemTime>,
    /// Entries moved aside, in the order they were moved.
    pub(crate) moved: Vec<MovedAside>,
    /// Failed applies per pending entry.
    pub(crate) failures: HashMap<String, u32>,
}

/// A poisoned mutex only means another thread panicked while holding it;
/// the state it guards (a flag and a queue) is never left half-changed, so
/// carrying on is sound and keeps a release in `Drop` from panicking.
pub(crate) fn lock_ignoring_poison<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
