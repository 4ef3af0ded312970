// SPDX-License-Identifier: Apache-2.0
//! The synchronisation primitives the backend uses: loom's under `cfg(loom)`
//! so that loom can check every interleaving, std's otherwise.
//!
//! Loom does not model time: its `Condvar::wait_timeout` is a plain `wait`
//! that never times out, and a model must behave the same way on every run.
//! So under `cfg(loom)` this module also supplies an [`Instant`] whose clock
//! never advances. With it the backend's wait helper behaves
//! deterministically: a zero timeout gives up at once if the lock is held,
//! and any other timeout waits until a notification arrives, which is how
//! loom finds a lost wake-up (every thread blocked is reported as a
//! deadlock). Without `cfg(loom)` the real `std::time::Instant` is used and
//! nothing changes.

#[cfg(loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, Ordering};
#[cfg(loom)]
pub(crate) use loom::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(loom)]
pub(crate) use loom_time::Instant;

#[cfg(not(loom))]
pub(crate) use std::sync::atomic::{AtomicU64, Ordering};
#[cfg(not(loom))]
pub(crate) use std::sync::{Arc, Condvar, Mutex, MutexGuard};
#[cfg(not(loom))]
pub(crate) use std::time::Instant;

#[cfg(loom)]
mod loom_time {
    use std::time::Duration;

    /// A clock that stands still, for loom models (see the module docs).
    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Instant;

    impl Instant {
        /// The one instant there is.
        pub(crate) fn now() -> Instant {
            Instant
        }

        /// Always zero: no time passes in a loom model.
        pub(crate) fn elapsed(&self) -> Duration {
            Duration::ZERO
        }
    }
}
