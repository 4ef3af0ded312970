// SPDX-License-Identifier: Apache-2.0
//! [`CoordinatorOptions`]: the largest batch and the [`DeadLetterPolicy`].

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
/// let options = CoordinatorOptions::new().max_batch(32).dead_letters(DeadLetterPolicy::MoveAsideAfter(5));
/// assert_eq!(options.max_batch, 32);
/// assert_eq!(CoordinatorOptions::default().dead_letters, DeadLetterPolicy::Block);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CoordinatorOptions {
    /// The most queued writes handed to one batch `apply` call, and fetched
    /// from the backend at a time on the per-write path; default 100.
    pub max_batch: usize,
    /// What to do with a queued write whose apply keeps failing.
    pub dead_letters: DeadLetterPolicy,
}

impl Default for CoordinatorOptions {
    fn default() -> Self {
        CoordinatorOptions {
            max_batch: 100,
            dead_letters: DeadLetterPolicy::Block,
        }
    }
}

impl CoordinatorOptions {
    /// The defaults: batches of up to 100, [`DeadLetterPolicy::Block`].
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
}
