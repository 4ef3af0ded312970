// SPDX-License-Identifier: Apache-2.0
//! [`CoordinatorOptions`]: the largest batch, the [`DeadLetterPolicy`], and
//! how long a write waits for room when the queue is full.

use std::time::Duration;

/// What happens to a queued write whose `apply` keeps failing; see the
/// [coordinator docs](super#a-queued-write-that-cannot-be-applied).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DeadLetterPolicy {
    /// Keep it first in the queue; the table waits for it (the default).
    #[default]
    Block,
    /// Move it aside once it has failed this many times (at least 1).
    MoveAsideAfter(u32),
}

/// Options of a [`WriteCoordinator`](super::WriteCoordinator).
///
/// ```
/// use reedbase_concurrent_core::{CoordinatorOptions, DeadLetterPolicy};
///
/// use std::time::Duration;
///
/// let options = CoordinatorOptions::new()
///     .max_batch(32)
///     .dead_letters(DeadLetterPolicy::MoveAsideAfter(5))
///     .wait_for_room(Duration::from_secs(5));
/// assert_eq!(options.max_batch, 32);
/// assert_eq!(options.wait_for_room, Duration::from_secs(5));
/// assert_eq!(CoordinatorOptions::default().dead_letters, DeadLetterPolicy::Block);
/// assert_eq!(CoordinatorOptions::default().wait_for_room, Duration::ZERO);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoordinatorOptions {
    /// The most queued writes handed to one batch `apply` call, and fetched
    /// from the backend at a time on the per-write path; default 100.
    pub max_batch: usize,
    /// What to do with a queued write whose apply keeps failing.
    pub dead_letters: DeadLetterPolicy,
    /// How long `submit` goes on trying when the lock is busy and the queue
    /// is full or busy, before it hands the write back; default zero (hand
    /// it back at once). See [`wait_for_room`](Self::wait_for_room).
    pub wait_for_room: Duration,
}

impl Default for CoordinatorOptions {
    fn default() -> Self {
        CoordinatorOptions {
            max_batch: 100,
            dead_letters: DeadLetterPolicy::Block,
            wait_for_room: Duration::ZERO,
        }
    }
}

impl CoordinatorOptions {
    /// The defaults: batches of up to 100, [`DeadLetterPolicy::Block`], no
    /// wait for room.
    pub fn new() -> Self {
        CoordinatorOptions::default()
    }

    /// Sets the largest batch (at least 1).
    pub fn max_batch(mut self, max_batch: usize) -> Self {
        self.max_batch = max_batch.max(1);
        self
    }

    /// Sets the dead-letter policy (`MoveAsideAfter(0)` counts as 1).
    pub fn dead_letters(mut self, policy: DeadLetterPolicy) -> Self {
        self.dead_letters = match policy {
            DeadLetterPolicy::MoveAsideAfter(0) => DeadLetterPolicy::MoveAsideAfter(1),
            other => other,
        };
        self
    }

    /// Sets how long a write whose lock is busy and whose queue is full (or
    /// kept busy by other producers) keeps trying before `submit` hands it
    /// back: it waits for the lock, whose holder drains the queue, and tries
    /// to queue again in between, until one of them succeeds or `wait` has
    /// passed. A `submit` then takes at most its lock timeout plus `wait`
    /// (plus the backend's bound on one attempt to queue). Zero, the
    /// default, hands the write back at once.
    pub fn wait_for_room(mut self, wait: Duration) -> Self {
        self.wait_for_room = wait;
        self
    }
}
