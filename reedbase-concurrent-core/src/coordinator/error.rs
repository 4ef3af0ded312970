// SPDX-License-Identifier: Apache-2.0
//! [`WriteError`]: the one error of [`submit`](super::WriteCoordinator::submit),
//! [`drain`](super::WriteCoordinator::drain), their batch forms and
//! [`submit_grouped`](super::WriteCoordinator::submit_grouped).

use std::fmt;

use crate::error::ReedError;
use crate::types::PendingWrite;

/// The error an `apply` function returns: any error, boxed, so that `?` works
/// on I/O and most library errors inside the closure and `Ok(())` needs no
/// type annotation.
///
/// ```
/// use reedbase_concurrent_core::ApplyError;
///
/// let from_io: ApplyError = std::io::Error::other("disk on fire").into();
/// let from_text: ApplyError = "table file is read-only".into();
/// assert_eq!(from_text.to_string(), "table file is read-only");
/// # let _ = from_io;
/// ```
pub type ApplyError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What went wrong in a [`WriteError`].
#[derive(Debug)]
#[non_exhaustive]
pub enum WriteFailure {
    /// The backend failed: lock timeout (drain), queue full or busy, lost
    /// lock, invalid input, I/O.
    Backend(ReedError),
    /// An `apply` call failed.
    Apply {
        /// The queued write whose apply failed, which stays first in the
        /// queue and blocks the table; `None` for the caller's own write.
        queue_id: Option<String>,
        /// How many times applying that queued write has failed, counted
        /// durably by the backend across processes (`None` for the caller's
        /// write, or when the count could not be recorded).
        attempts: Option<u32>,
        /// The error `apply` returned.
        source: ApplyError,
    },
}

/// Why a coordinator call did not finish, for which table, and (for
/// `submit`) the caller's write handed back unapplied and unqueued, so that
/// nothing is lost; except after [`is_outcome_unknown`](Self::is_outcome_unknown),
/// when it was queued and may be applied, so it must not be submitted again.
///
/// Small (one pointer) so that wrappers returning it stay cheap; ask it with
/// the predicates instead of matching through layers.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{CsvRow, LockBackend, PendingWrite, WriteCoordinator, WriteOperation};
/// use reedbase_concurrent_mem::MemBackend;
///
/// let coordinator = WriteCoordinator::new(MemBackend::with_capacity(0));
/// let _held = coordinator.backend().acquire_lock("users", Duration::from_secs(1))?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
/// let error = coordinator
///     .submit("users", write.clone(), Duration::ZERO, |_, _| Ok(()))
///     .unwrap_err();
/// assert!(error.is_queue_full());
/// assert_eq!(error.table(), "users");
/// assert_eq!(error.into_write(), Some(write));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct WriteError {
    inner: Box<Inner>,
}

struct Inner {
    table: String,
    failure: WriteFailure,
    write: Option<PendingWrite>,
    drained: usize,
    /// `submit_grouped`: the id the caller's write is queued under.
    queued_as: Option<String>,
}

impl WriteError {
    pub(crate) fn new(table: &str, failure: WriteFailure, write: Option<PendingWrite>) -> Self {
        WriteError {
            inner: Box::new(Inner {
                table: table.to_string(),
                failure,
                write,
                drained: 0,
                queued_as: None,
            }),
        }
    }

    /// The same error, recording that `drained` queued writes were applied
    /// and removed before the call stopped.
    pub(crate) fn after_draining(mut self, drained: usize) -> Self {
        self.inner.drained = drained;
        self
    }

    /// The same error, recording that the caller's write is queued as `id`
    /// (and not handed back).
    pub(crate) fn with_queued_as(mut self, id: String) -> Self {
        self.inner.queued_as = Some(id);
        self
    }

    /// The id the caller's write was queued under, when the call stopped
    /// after queueing it ([`submit_grouped`](super::WriteCoordinator::submit_grouped)):
    /// it was not handed back and must not be submitted again. It stays
    /// queued for a later lock holder ([`QueueBackend::is_pending`](crate::QueueBackend::is_pending)
    /// tells), unless the error came after it had left the queue.
    pub fn queued_as(&self) -> Option<&str> {
        self.inner.queued_as.as_deref()
    }

    /// How many queued writes the call applied and removed before it
    /// stopped; they stay applied. A drain that stopped at a failing entry
    /// reports here the writes before it.
    pub fn drained(&self) -> usize {
        self.inner.drained
    }

    /// The table the call was about.
    pub fn table(&self) -> &str {
        &self.inner.table
    }

    /// What went wrong.
    pub fn failure(&self) -> &WriteFailure {
        &self.inner.failure
    }

    /// What went wrong, by value.
    pub fn into_failure(self) -> WriteFailure {
        self.inner.failure
    }

    /// The backend's error, when the backend failed.
    pub fn backend_error(&self) -> Option<&ReedError> {
        match &self.inner.failure {
            WriteFailure::Backend(error) => Some(error),
            WriteFailure::Apply { .. } => None,
        }
    }

    /// True when the queue was full: retry later, drain, or raise the
    /// backend's capacity.
    pub fn is_queue_full(&self) -> bool {
        self.backend_error().is_some_and(ReedError::is_queue_full)
    }

    /// True when the lock could not be had in time (only `drain` reports
    /// this; `submit` queues instead).
    pub fn is_lock_timeout(&self) -> bool {
        self.backend_error().is_some_and(ReedError::is_lock_timeout)
    }

    /// True when other producers kept the queue busy past the backend's
    /// bound.
    pub fn is_queue_busy(&self) -> bool {
        self.backend_error().is_some_and(ReedError::is_queue_busy)
    }

    /// True when the lock was lost while held; nothing more was applied or
    /// removed under it.
    pub fn is_lock_lost(&self) -> bool {
        self.backend_error().is_some_and(ReedError::is_lock_lost)
    }

    /// True for a bad table name or row, rejected before anything was
    /// touched.
    pub fn is_invalid_input(&self) -> bool {
        self.backend_error()
            .is_some_and(ReedError::is_invalid_input)
    }

    /// True when the write was queued but the call failed after that (for
    /// example the fsync that makes its entry durable): it may be applied
    /// or still pending, and the write handed back must not be queued
    /// again; [`backend_error`](Self::backend_error) names its queue id.
    pub fn is_outcome_unknown(&self) -> bool {
        self.backend_error()
            .is_some_and(ReedError::is_outcome_unknown)
    }

    /// True when an `apply` call failed.
    pub fn is_apply_failure(&self) -> bool {
        matches!(self.inner.failure, WriteFailure::Apply { .. })
    }

    /// The queued write whose failing apply blocks the table, if that is
    /// what stopped the call.
    pub fn blocking_entry(&self) -> Option<&str> {
        match &self.inner.failure {
            WriteFailure::Apply {
                queue_id: Some(id), ..
            } => Some(id),
            _ => None,
        }
    }

    /// How many times the blocking queued write has failed to apply.
    pub fn attempts(&self) -> Option<u32> {
        match &self.inner.failure {
            WriteFailure::Apply { attempts, .. } => *attempts,
            WriteFailure::Backend(_) => None,
        }
    }

    /// The caller's write, handed back unapplied and unqueued (`submit`
    /// only).
    pub fn handed_back(&self) -> Option<&PendingWrite> {
        self.inner.write.as_ref()
    }

    /// The caller's write, by value (`submit` only).
    pub fn into_write(self) -> Option<PendingWrite> {
        self.inner.write
    }
}

impl fmt::Debug for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteError")
            .field("table", &self.inner.table)
            .field("failure", &self.inner.failure)
            .field("write", &self.inner.write)
            .field("drained", &self.inner.drained)
            .field("queued_as", &self.inner.queued_as)
            .finish()
    }
}

impl fmt::Display for WriteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let table = &self.inner.table;
        if self.inner.write.is_some() && self.is_outcome_unknown() {
            write!(f, "write to table '{table}' is handed back to the caller: ")?;
        } else if self.inner.write.is_some() {
            write!(
                f,
                "write to table '{table}' was not applied and is handed back to the caller: "
            )?;
        } else if let Some(id) = &self.inner.queued_as {
            write!(
                f,
                "write to table '{table}' stays queued as '{id}' (not handed back): "
            )?;
        } else {
            write!(f, "draining table '{table}' stopped: ")?;
        }
        match &self.inner.failure {
            WriteFailure::Backend(error) => error.fmt(f),
            WriteFailure::Apply {
                queue_id: None,
                source,
                ..
            } => write!(f, "applying it failed: {source}"),
            WriteFailure::Apply {
                queue_id: Some(id),
                attempts,
                source,
            } => {
                write!(
                    f,
                    "queued write '{id}' blocks the table: applying it failed"
                )?;
                if let Some(attempts) = attempts {
                    write!(
                        f,
                        " ({attempts} time{})",
                        if *attempts == 1 { "" } else { "s" }
                    )?;
                }
                write!(
                    f,
                    ": {source}; it stays first in the queue until it applies, or until a \
                     DeadLetterPolicy moves it aside"
                )
            }
        }
    }
}

impl std::error::Error for WriteError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.failure {
            WriteFailure::Backend(error) => Some(error),
            WriteFailure::Apply { source, .. } => Some(source.as_ref()),
        }
    }
}
