// SPDX-License-Identifier: Apache-2.0
//! The one error type of the concurrent write layer.
//!
//! Every message names what it is about: the table, the path, the operation.
//! I/O failures keep their [`std::io::ErrorKind`] so that a caller can tell
//! "permission denied" from "no space left on device".

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::diagnostics::{LockHolder, MovedAside};
use crate::rules::{NameRule, RowField, RowRule};

/// Result alias used throughout the workspace.
pub type ReedResult<T> = Result<T, ReedError>;

/// Everything that can go wrong while locking a table or queueing a write.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a
/// catch-all arm, or ask the predicates ([`is_lock_timeout`](Self::is_lock_timeout),
/// [`is_queue_full`](Self::is_queue_full), ...). Variants that several places
/// raise are built through one constructor each ([`ReedError::io`],
/// [`ReedError::lock_timeout`], [`ReedError::queue_full`], ...).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::ReedError;
///
/// let err = ReedError::lock_timeout("users", Duration::from_millis(502));
/// assert_eq!(err.to_string(), "timed out after 502.0 ms waiting for the lock of table 'users'");
/// assert!(err.is_lock_timeout());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReedError {
    /// A file-system operation failed.
    IoError {
        /// What was being done, e.g. `create_lock_file`, `write_queue_file`.
        operation: &'static str,
        /// The path the operation was applied to.
        path: PathBuf,
        /// The kind of the underlying `io::Error`.
        kind: io::ErrorKind,
        /// The underlying error's message.
        reason: String,
    },
    /// A database server failed or could not be reached (database backends).
    ServerError {
        /// What was being done, e.g. `connect`, `queue_write`.
        operation: &'static str,
        /// The server, without credentials (`host:port/database`).
        server: String,
        /// The server's error code (SQLSTATE for PostgreSQL), if it gave one.
        code: Option<String>,
        /// The error's message.
        reason: String,
    },
    /// The table's lock could not be had within the timeout.
    LockTimeout {
        /// The table.
        table: String,
        /// How long the caller really waited (not the whole seconds asked for).
        waited: Duration,
        /// Who held the lock when the wait ended, if the backend could tell.
        holder: Option<Box<LockHolder>>,
    },
    /// A lock this process held was lost before it was released: the lock
    /// file was replaced or deleted, or the connection holding it died.
    /// Nothing more may be applied or removed under it.
    LockLost {
        /// The table.
        table: String,
        /// What the backend saw.
        reason: String,
    },
    /// Another producer held the queue's producers' lock past the backend's
    /// bound (for example a producer stopped mid-write); nothing was written.
    QueueBusy {
        /// The table.
        table: String,
        /// How long this producer waited.
        waited: Duration,
    },
    /// The table's queue already holds its capacity of pending writes.
    QueueFull {
        /// The table.
        table: String,
        /// How many entries were pending when the write was refused.
        size: usize,
    },
    /// A queued write was still pending when a wait for it ended.
    WaitTimeout {
        /// The table.
        table: String,
        /// The queued write waited for.
        queue_id: String,
        /// How long the caller waited.
        waited: Duration,
    },
    /// A queue file that is not a queue entry (bad name) was given or found.
    InvalidQueueFile {
        /// The file.
        path: PathBuf,
        /// Why it is not a queue entry.
        reason: String,
    },
    /// A value could not be serialised.
    SerializationError {
        /// The serialiser's message.
        reason: String,
    },
    /// Bytes could not be deserialised.
    DeserializationError {
        /// The deserialiser's message.
        reason: String,
    },
    /// A table name broke one of the rules of
    /// [`validate_table_name`](crate::validate_table_name).
    InvalidTableName {
        /// The name as given.
        name: String,
        /// The rule it broke.
        rule: NameRule,
    },
    /// A queue id broke one of the rules of
    /// [`validate_queue_id`](crate::validate_queue_id).
    InvalidQueueId {
        /// The id as given.
        id: String,
        /// The rule it broke.
        rule: NameRule,
    },
    /// A row would corrupt a pipe-delimited table (see
    /// [`validate_row`](crate::validate_row)).
    InvalidRow {
        /// The row's key (possibly itself the offending field).
        key: String,
        /// Which field is at fault.
        field: RowField,
        /// What is wrong with it.
        rule: RowRule,
    },
    /// A well-formed queue id that is not queued.
    QueueEntryNotFound {
        /// The table.
        table: String,
        /// The id asked for.
        queue_id: String,
    },
    /// A queue entry that was moved aside (unreadable, invalid, or a dead
    /// letter) so that the queue could go on. Nothing was deleted.
    CorruptEntry {
        /// The table.
        table: String,
        /// The entry's id.
        queue_id: String,
        /// Where the entry now lies, in the backend's terms (see
        /// [`MovedAside::location`]).
        moved_to: String,
        /// Why it was moved aside.
        reason: String,
    },
    /// A write was put in the queue (visible to consumers, who may already
    /// have applied it) but a later step of the call failed, such as the
    /// fsync that makes the entry durable: whether it stays queued, is
    /// applied, or (after a power cut) is lost is not known. Do not queue it
    /// again; ask for `queue_id` (`is_pending`, `wait_applied`, or the
    /// table's record of applied ids) instead.
    QueueOutcomeUnknown {
        /// The table.
        table: String,
        /// The id the write was queued under.
        queue_id: String,
        /// What failed after the write was queued.
        reason: String,
    },
}

impl ReedError {
    /// Builds an [`ReedError::IoError`] from an `io::Error`, keeping its kind.
    ///
    /// ```
    /// use std::io;
    /// use std::path::Path;
    /// use reedbase_concurrent_core::ReedError;
    ///
    /// let source = io::Error::from(io::ErrorKind::PermissionDenied);
    /// let err = ReedError::io("create_lock_file", Path::new("/data/t/write.lock"), &source);
    /// assert_eq!(err.io_kind(), Some(io::ErrorKind::PermissionDenied));
    /// ```
    pub fn io(operation: &'static str, path: &Path, source: &io::Error) -> ReedError {
        ReedError::IoError {
            operation,
            path: path.to_path_buf(),
            kind: source.kind(),
            reason: source.to_string(),
        }
    }

    /// A [`ReedError::LockTimeout`] after waiting `waited`, holder unknown.
    pub fn lock_timeout(table: &str, waited: Duration) -> ReedError {
        ReedError::LockTimeout {
            table: table.to_string(),
            waited,
            holder: None,
        }
    }

    /// The same error, naming `holder` if it is a
    /// [`ReedError::LockTimeout`] and the holder is known.
    ///
    /// ```
    /// use std::time::Duration;
    /// use reedbase_concurrent_core::{LockHolder, ReedError};
    ///
    /// let err = ReedError::lock_timeout("orders", Duration::from_millis(100))
    ///     .with_holder(Some(LockHolder::new(Some(4242), Some("db-1".into()), None)));
    /// assert_eq!(
    ///     err.to_string(),
    ///     "timed out after 100.0 ms waiting for the lock of table 'orders', held by pid 4242 on db-1"
    /// );
    /// ```
    pub fn with_holder(self, holder: Option<LockHolder>) -> ReedError {
        match (self, holder) {
            (ReedError::LockTimeout { table, waited, .. }, Some(holder))
                if !holder.is_unknown() =>
            {
                ReedError::LockTimeout {
                    table,
                    waited,
                    holder: Some(Box::new(holder)),
                }
            }
            (error, _) => error,
        }
    }

    /// A [`ReedError::QueueFull`] with `size` entries pending.
    pub fn queue_full(table: &str, size: usize) -> ReedError {
        ReedError::QueueFull {
            table: table.to_string(),
            size,
        }
    }

    /// A [`ReedError::QueueBusy`] after waiting `waited`.
    pub fn queue_busy(table: &str, waited: Duration) -> ReedError {
        ReedError::QueueBusy {
            table: table.to_string(),
            waited,
        }
    }

    /// A [`ReedError::LockLost`].
    pub fn lock_lost(table: &str, reason: impl Into<String>) -> ReedError {
        ReedError::LockLost {
            table: table.to_string(),
            reason: reason.into(),
        }
    }

    /// A [`ReedError::QueueEntryNotFound`].
    pub fn entry_not_found(table: &str, queue_id: &str) -> ReedError {
        ReedError::QueueEntryNotFound {
            table: table.to_string(),
            queue_id: queue_id.to_string(),
        }
    }

    /// A [`ReedError::CorruptEntry`] for an entry that was moved aside.
    pub fn moved_aside(table: &str, moved: &MovedAside) -> ReedError {
        ReedError::CorruptEntry {
            table: table.to_string(),
            queue_id: moved.id.clone(),
            moved_to: moved.location.clone(),
            reason: moved.reason.clone(),
        }
    }

    /// A [`ReedError::QueueOutcomeUnknown`]: the write was queued as
    /// `queue_id`, then `reason` failed.
    ///
    /// ```
    /// use reedbase_concurrent_core::ReedError;
    ///
    /// let error = ReedError::outcome_unknown("users", "42", "fsync failed");
    /// assert!(error.is_outcome_unknown());
    /// assert!(error.to_string().contains("42"));
    /// ```
    pub fn outcome_unknown(table: &str, queue_id: &str, reason: impl Into<String>) -> ReedError {
        ReedError::QueueOutcomeUnknown {
            table: table.to_string(),
            queue_id: queue_id.to_string(),
            reason: reason.into(),
        }
    }

    /// The `io::ErrorKind` behind an [`ReedError::IoError`], if this is one.
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            ReedError::IoError { kind, .. } => Some(*kind),
            _ => None,
        }
    }

    /// True for [`ReedError::LockTimeout`].
    pub fn is_lock_timeout(&self) -> bool {
        matches!(self, ReedError::LockTimeout { .. })
    }

    /// True for [`ReedError::QueueFull`].
    pub fn is_queue_full(&self) -> bool {
        matches!(self, ReedError::QueueFull { .. })
    }

    /// True for [`ReedError::QueueBusy`].
    pub fn is_queue_busy(&self) -> bool {
        matches!(self, ReedError::QueueBusy { .. })
    }

    /// True for [`ReedError::LockLost`].
    pub fn is_lock_lost(&self) -> bool {
        matches!(self, ReedError::LockLost { .. })
    }

    /// True for [`ReedError::QueueOutcomeUnknown`]: the write may be queued
    /// or applied; do not queue it again.
    pub fn is_outcome_unknown(&self) -> bool {
        matches!(self, ReedError::QueueOutcomeUnknown { .. })
    }

    /// True for [`ReedError::QueueEntryNotFound`].
    pub fn is_not_found(&self) -> bool {
        matches!(self, ReedError::QueueEntryNotFound { .. })
    }

    /// True for the errors that reject bad input before anything is touched:
    /// invalid table names, queue ids and rows.
    pub fn is_invalid_input(&self) -> bool {
        matches!(
            self,
            ReedError::InvalidTableName { .. }
                | ReedError::InvalidQueueId { .. }
                | ReedError::InvalidRow { .. }
        )
    }

    /// The holder named by a [`ReedError::LockTimeout`], if known.
    pub fn holder(&self) -> Option<&LockHolder> {
        match self {
            ReedError::LockTimeout { holder, .. } => holder.as_deref(),
            _ => None,
        }
    }
}

// The messages, each naming what it is about.
mod message;

impl std::error::Error for ReedError {}

#[cfg(test)]
#[path = "error_test.rs"]
mod tests;
