// SPDX-License-Identifier: Apache-2.0
//! [`Drainer`]: a background thread that drains every table with pending
//! writes, so that writes queued by processes that then went quiet or exited
//! are applied without waiting for the next writer of their table.

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use super::flow::{EachWriteOf, Sink, WholeBatchOf};
use super::{ApplyError, ApplyKey, BatchItem, WriteCoordinator};
use crate::backend::Backend;
use crate::types::PendingWrite;

/// What a [`Drainer`] has done so far.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DrainerStats {
    /// Rounds run (one look at every table with pending writes per round).
    pub rounds: u64,
    /// Queued writes applied and removed.
    pub drained: u64,
    /// Table drains skipped because another holder kept the table's lock
    /// past the round's timeout (that holder drains it); not failures.
    pub busy: u64,
    /// Table drains that failed (a blocking entry, a lost lock, I/O).
    pub failures: u64,
    /// The message of the most recent failure, if any.
    pub last_error: Option<String>,
}

/// The shortest pause between two rounds.
const MIN_PAUSE: Duration = Duration::from_millis(1);

struct Shared {
    stopping: Mutex<bool>,
    wake: Condvar,
    stats: Mutex<DrainerStats>,
}

/// A background thread that drains every table with pending writes, once
/// per `every` (at least 1 ms, so that a zero does not spin a core), until
/// it is stopped (or dropped).
///
/// Each round lists the tables with pending writes and drains each with a
/// lock timeout of at most `every` (a table whose lock is busy is being
/// drained by its holder anyway, and is counted as busy, not as failed).
/// Failures are counted in [`DrainerStats`] and the thread goes on.
///
/// # Examples
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use std::time::Duration;
/// use reedbase_concurrent_core::{CsvRow, Drainer, PendingWrite, QueueBackend, WriteCoordinator, WriteOperation};
/// use reedbase_concurrent_mem::MemBackend;
///
/// let backend = MemBackend::new();
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
/// let id = backend.queue_write("users", &write)?;
/// let coordinator = WriteCoordinator::new(backend.clone());
/// let applied = Arc::new(Mutex::new(Vec::new()));
/// let sink = Arc::clone(&applied);
/// let drainer = Drainer::start(coordinator.clone(), Duration::from_millis(10), move |table, _key, write| {
///     sink.lock().unwrap().push((table.to_string(), write.rows[0].to_csv()));
///     Ok(())
/// });
/// coordinator.wait_applied("users", &id, Duration::from_secs(5))?;
/// let stats = drainer.stop();
/// assert_eq!(stats.drained, 1);
/// assert_eq!(*applied.lock().unwrap(), [("users".to_string(), "k|v".to_string())]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Drainer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Drainer {
    /// Starts a drainer that calls `apply` once per write, with the table's
    /// name.
    pub fn start<B, F>(coordinator: WriteCoordinator<B>, every: Duration, apply: F) -> Drainer
    where
        B: Backend + Send + 'static,
        F: FnMut(&str, ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError> + Send + 'static,
    {
        Drainer::spawn(coordinator, every, EachWriteOf(apply))
    }

    /// Starts a drainer that calls `apply` once per batch, with the table's
    /// name.
    pub fn start_batch<B, F>(coordinator: WriteCoordinator<B>, every: Duration, apply: F) -> Drainer
    where
        B: Backend + Send + 'static,
        F: FnMut(&str, &[BatchItem<'_>]) -> Result<(), ApplyError> + Send + 'static,
    {
        Drainer::spawn(coordinator, every, WholeBatchOf(apply))
    }

    fn spawn<B, S>(coordinator: WriteCoordinator<B>, every: Duration, mut sink: S) -> Drainer
    where
        B: Backend + Send + 'static,
        S: Sink + Send + 'static,
    {
        let shared = Arc::new(Shared {
            stopping: Mutex::new(false),
            wake: Condvar::new(),
            stats: Mutex::new(DrainerStats::default()),
        });
        let worker = Arc::clone(&shared);
        let every = every.max(MIN_PAUSE);
        let lock_timeout = every.min(Duration::from_millis(100));
        let thread = thread::spawn(move || {
            loop {
                let round = coordinator.drain_all_through(lock_timeout, &mut sink);
                {
                    let mut stats = worker.stats.lock().unwrap_or_else(PoisonError::into_inner);
                    stats.rounds += 1;
                    match round {
                        Ok(report) => {
                            stats.drained += report.drained as u64;
                            stats.busy += report.busy.len() as u64;
                            stats.failures += report.failed.len() as u64;
                            if let Some(error) = report.failed.last() {
                                stats.last_error = Some(error.to_string());
                            }
                        }
                        Err(error) => {
                            stats.failures += 1;
                            stats.last_error = Some(error.to_string());
                        }
                    }
                }
                let stopping = worker
                    .stopping
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let (stopping, _) = worker
                    .wake
                    .wait_timeout_while(stopping, every, |stopping| !*stopping)
                    .unwrap_or_else(PoisonError::into_inner);
                if *stopping {
                    return;
                }
            }
        });
        Drainer {
            shared,
            thread: Some(thread),
        }
    }

    /// What the drainer has done so far.
    pub fn stats(&self) -> DrainerStats {
        self.shared
            .stats
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Stops the drainer after its current round and returns its final
    /// statistics.
    pub fn stop(mut self) -> DrainerStats {
        self.shut_down();
        self.stats()
    }

    fn shut_down(&mut self) {
        *self
            .shared
            .stopping
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = true;
        self.shared.wake.notify_all();
        if let Some(thread) = self.thread.take() {
            // A panicking apply ends the thread; its panic stays with it.
            let _ = thread.join();
        }
    }
}

impl Drop for Drainer {
    fn drop(&mut self) {
        self.shut_down();
    }
}

impl std::fmt::Debug for Drainer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drainer")
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}
