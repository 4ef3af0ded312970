// SPDX-License-Identifier: Apache-2.0
//! Polling with a short exponential back-off, bounded by a deadline.
//!
//! See the [module docs](super) for why waiting is polling and how the
//! constants were chosen.

use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedResult;

/// The first pause after a failed attempt.
pub(crate) const FIRST_PAUSE: Duration = Duration::from_micros(20);

/// The longest pause between two attempts. It bounds the hand-off latency
/// (a release is noticed at most this long after it happens, plus the timer
/// slack and the scheduler's wake-up delay) and sets the cost of waiting
/// (one wake-up, about 20-25 us of CPU on the machine it was tuned on, per
/// pause). See the [module docs](super) for the measurements behind it.
pub(crate) const MAX_PAUSE: Duration = Duration::from_millis(1);

/// Pauses that double from [`FIRST_PAUSE`] up to [`MAX_PAUSE`].
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// A back-off whose first pause is [`FIRST_PAUSE`].
    pub(crate) fn new() -> Self {
        Backoff { next: FIRST_PAUSE }
    }

    /// The next pause; every call doubles it until [`MAX_PAUSE`].
    pub(crate) fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(MAX_PAUSE);
        pause
    }
}

/// How a deadline-bounded poll ended without an error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled<T> {
    /// An attempt succeeded.
    Ready(T),
    /// The last attempt, made at or after the deadline, failed; this long
    /// had passed since `start`.
    TimedOut(Duration),
}

/// Calls `attempt` until it returns `Some`, it fails, or `timeout` has
/// passed since `start`.
///
/// The first attempt is made at once, and one more is made at the deadline,
/// so a zero timeout means exactly one attempt. Pauses never overshoot the
/// deadline by more than the scheduler's wake-up delay. An error from
/// `attempt` is returned at once: only `None` ("try again") is retried.
pub(crate) fn poll_until<T>(
    start: Instant,
    timeout: Duration,
    mut attempt: impl FnMut() -> ReedResult<Option<T>>,
) -> ReedResult<Polled<T>> {
    let mut backoff = Backoff::new();
    loop {
        if let Some(value) = attempt()? {
            return Ok(Polled::Ready(value));
        }
        let elapsed = start.elapsed();
        let Some(left) = timeout.checked_sub(elapsed).filter(|left| !left.is_zero()) else {
            return Ok(Polled::TimedOut(elapsed));
        };
        thread::sleep(backoff.next_pause().min(left));
    }
}
