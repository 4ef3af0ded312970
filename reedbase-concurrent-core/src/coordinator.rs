// SPDX-License-Identifier: Apache-2.0
//! The write flow of ReedBase, implemented once for every backend.
//!
//! ```text
//! submit(table, write, timeout, apply)
//!   acquire_lock(table, timeout)
//!     ok      -> apply every queued write of the table, oldest first,
//!                removing each only after its apply succeeded;
//!                then apply this write; release            => Applied
//!     timeout -> queue_write(table, write)                 => Queued(id)
//!                queue full as well                        => Err, write handed back
//! drain(table, timeout, apply)
//!   acquire_lock, then apply and remove queued writes in FIFO order
//! ```
//!
//! # Delivery guarantee
//!
//! Delivery is **at least once, in order**. A queued write is never
//! overtaken: whoever takes the lock applies every older queued write before
//! its own. Each queued write is removed from the queue only after its
//! `apply` returned `Ok`, so a crash (or a SIGKILL) between `apply` and the
//! removal leaves the entry at the head of the queue, and the next lock
//! holder applies it again. To make that replay harmless, `apply` receives an
//! [`ApplyKey`]: for a queued write, its queue id, which is unique for the
//! life of the queue and never reused. A table writer that must not apply a
//! write twice records the keys it has applied in the same atomic step as the
//! rows (for example in the same temporary file that is renamed over the
//! table) and skips a key it has already recorded. A direct write
//! ([`ApplyKey::Direct`]) is applied at most once: it never entered the queue,
//! and if its `apply` fails the write is handed back to the caller.
//!
//! Writes queued while nobody takes the lock afterwards stay queued until
//! the next `submit` or `drain` of that table; call [`WriteCoordinator::drain`]
//! at start-up and from a background task.

use std::fmt;
use std::time::Duration;

use crate::backend::{LockBackend, QueueBackend};
use crate::error::ReedError;
use crate::types::PendingWrite;
use crate::validation::{validate_table_name, validate_write};

/// The idempotency key handed to `apply` with each write.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApplyKey<'a> {
    /// The write came straight from `submit`; it is applied at most once.
    Direct,
    /// The write came from the queue under this id; it may be applied again
    /// after a crash between apply and removal.
    Queued(&'a str),
}

impl<'a> ApplyKey<'a> {
    /// The queue id, for a queued write.
    pub fn queue_id(&self) -> Option<&'a str> {
        match self {
            ApplyKey::Direct => None,
            ApplyKey::Queued(id) => Some(id),
        }
    }
}

/// What [`WriteCoordinator::submit`] did with a write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubmitOutcome {
    /// The write was applied, after `drained` older queued writes.
    Applied {
        /// How many queued writes were applied (and removed) before it.
        drained: usize,
    },
    /// The lock was busy past the timeout; the write is queued under this id
    /// and will be applied by a later lock holder.
    Queued(String),
}

/// Why a coordinator operation failed.
#[derive(Debug)]
pub enum CoordinatorError<E> {
    /// The backend failed (lock, queue, validation, I/O).
    Backend(ReedError),
    /// `apply` failed. For a queued write, the entry is still first in the
    /// queue.
    Apply {
        /// The queue id of the write whose apply failed; `None` for the
        /// direct write.
        queue_id: Option<String>,
        /// The error `apply` returned.
        source: E,
    },
}

impl<E: fmt::Display> fmt::Display for CoordinatorError<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoordinatorError::Backend(error) => error.fmt(f),
            CoordinatorError::Apply {
                queue_id: Some(id),
                source,
            } => write!(
                f,
                "applying queued write '{id}' failed (it stays queued): {source}"
            ),
            CoordinatorError::Apply {
                queue_id: None,
                source,
            } => write!(f, "applying the write failed: {source}"),
        }
    }
}

impl<E: std::error::Error + 'static> std::error::Error for CoordinatorError<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CoordinatorError::Backend(error) => Some(error),
            CoordinatorError::Apply { source, .. } => Some(source),
        }
    }
}

impl<E> From<ReedError> for CoordinatorError<E> {
    fn from(error: ReedError) -> Self {
        CoordinatorError::Backend(error)
    }
}

/// A write that [`WriteCoordinator::submit`] could neither apply nor queue,
/// handed back so that nothing is lost.
#[derive(Debug)]
pub struct RejectedWrite<E> {
    /// The write, unchanged.
    pub write: PendingWrite,
    /// Why it was rejected.
    pub error: CoordinatorError<E>,
}

impl<E: fmt::Display> fmt::Display for RejectedWrite<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "write rejected, handed back to the caller: {}",
            self.error
        )
    }
}

impl<E: std::error::Error + 'static> std::error::Error for RejectedWrite<E> {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

/// Takes a table's lock or queues, and drains the queue in order; see the
/// [module docs](self) for the flow and the delivery guarantee.
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use std::time::Duration;
/// use reedbase_concurrent_core::{
///     ApplyKey, CsvRow, PendingWrite, SubmitOutcome, WriteCoordinator, WriteOperation,
/// };
/// use reedbase_concurrent_mem::MemBackend;
///
/// let coordinator = WriteCoordinator::new(MemBackend::new());
/// let mut table: Vec<String> = Vec::new();
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", vec!["Alice"])]);
/// let outcome = coordinator
///     .submit("users", write, Duration::from_secs(1), |_key: ApplyKey<'_>, w: &PendingWrite| {
///         table.extend(w.rows.iter().map(|row| row.to_csv()));
///         Ok::<(), Infallible>(())
///     })
///     .map_err(|rejected| rejected.error.to_string())?;
/// assert_eq!(outcome, SubmitOutcome::Applied { drained: 0 });
/// assert_eq!(table, vec!["user:1|Alice".to_string()]);
/// # Ok::<(), String>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct WriteCoordinator<B> {
    backend: B,
}

impl<B: LockBackend + QueueBackend> WriteCoordinator<B> {
    /// Wraps a backend.
    pub fn new(backend: B) -> Self {
        WriteCoordinator { backend }
    }

    /// The backend, for direct queries such as `count_pending`.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    /// Applies `write` under the table's lock after every older queued
    /// write, or queues it if the lock is busy past `timeout`.
    ///
    /// `apply` is called with each write's [`ApplyKey`]; queued writes come
    /// first, oldest first, and each is removed from the queue only after its
    /// apply returned `Ok`.
    ///
    /// # Errors
    ///
    /// A [`RejectedWrite`] that hands `write` back, unapplied and unqueued:
    /// - invalid table name or rows, checked before anything is touched;
    /// - the lock timed out and the queue is full ([`ReedError::QueueFull`]);
    /// - an I/O failure of the backend;
    /// - `apply` failed for an older queued write (which stays queued; this
    ///   write is not applied, so it cannot overtake it) or for this write.
    // The error hands the write back by value, which is the point of it; it
    // is the rare path, so its size costs nothing worth a Box.
    #[allow(clippy::result_large_err)]
    pub fn submit<F, E>(
        &self,
        table_name: &str,
        write: PendingWrite,
        timeout: Duration,
        mut apply: F,
    ) -> Result<SubmitOutcome, RejectedWrite<E>>
    where
        F: FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), E>,
    {
        let checked = validate_table_name(table_name).and_then(|()| validate_write(&write));
        if let Err(error) = checked {
            return Err(reject(write, error.into()));
        }
        let guard = match self.backend.acquire_lock(table_name, timeout) {
            Ok(guard) => guard,
            Err(ReedError::LockTimeout { .. }) => {
                return match self.backend.queue_write(table_name, &write) {
                    Ok(id) => Ok(SubmitOutcome::Queued(id)),
                    Err(error) => Err(reject(write, error.into())),
                };
            }
            Err(error) => return Err(reject(write, error.into())),
        };
        let drained = match self.drain_held(table_name, &mut apply) {
            Ok(drained) => drained,
            Err(error) => return Err(reject(write, error)),
        };
        if let Err(source) = apply(ApplyKey::Direct, &write) {
            let error = CoordinatorError::Apply {
                queue_id: None,
                source,
            };
            return Err(reject(write, error));
        }
        drop(guard);
        Ok(SubmitOutcome::Applied { drained })
    }

    /// Takes the table's lock (waiting at most `timeout`) and applies and
    /// removes its queued writes in FIFO order; returns how many.
    ///
    /// # Errors
    ///
    /// - [`CoordinatorError::Backend`] for a lock timeout, an invalid table
    ///   name or an I/O failure;
    /// - [`CoordinatorError::Apply`] when `apply` fails: the drain stops
    ///   there, and that entry stays first in the queue.
    pub fn drain<F, E>(
        &self,
        table_name: &str,
        timeout: Duration,
        mut apply: F,
    ) -> Result<usize, CoordinatorError<E>>
    where
        F: FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), E>,
    {
        let _guard = self.backend.acquire_lock(table_name, timeout)?;
        self.drain_held(table_name, &mut apply)
    }

    /// The drain loop; the caller holds the table's lock.
    fn drain_held<F, E>(
        &self,
        table_name: &str,
        apply: &mut F,
    ) -> Result<usize, CoordinatorError<E>>
    where
        F: FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), E>,
    {
        let mut drained = 0;
        while let Some((queue_id, queued)) = self.backend.get_next_pending(table_name)? {
            if let Err(source) = apply(ApplyKey::Queued(&queue_id), &queued) {
                return Err(CoordinatorError::Apply {
                    queue_id: Some(queue_id),
                    source,
                });
            }
            self.backend.remove_from_queue(table_name, &queue_id)?;
            drained += 1;
        }
        Ok(drained)
    }
}

fn reject<E>(write: PendingWrite, error: CoordinatorError<E>) -> RejectedWrite<E> {
    RejectedWrite { write, error }
}
