// SPDX-License-Identifier: Apache-2.0
//! How long before a busy lock's timeout a write starts preparing its
//! queue entry (see [`QueueBackend::queue_write_unless`]).
//!
//! [`QueueBackend::queue_write_unless`]: crate::QueueBackend::queue_write_unless

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The time a backend took lately to prepare a queue entry (the part of
/// `queue_write_unless` before it asks `instead`), as a moving average over
/// about the last four: a write whose lock stays busy starts preparing its
/// entry that long before its timeout ends. An estimate too high only makes
/// a write prepare an entry it may not need (the lock is still waited for
/// until the timeout); too low, it is queued a little after its timeout.
#[derive(Debug, Default)]
pub(super) struct PrepareTime {
    nanos: AtomicU64,
}

impl PrepareTime {
    /// The estimate; zero before anything was measured.
    pub(super) fn get(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Relaxed))
    }

    /// Adds a measured preparation.
    pub(super) fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_nanos()).unwrap_or(u64::MAX);
        // Never fails: the closure always returns a value.
        let _ = self
            .nanos
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |old| {
                Some(match old {
                    0 => took,
                    old => old - old / 4 + took / 4,
                })
            });
    }
}

impl Clone for PrepareTime {
    fn clone(&self) -> Self {
        PrepareTime {
            nanos: AtomicU64::new(self.nanos.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
#[path = "prepare_time_test.rs"]
mod tests;
