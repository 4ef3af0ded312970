// SPDX-License-Identifier: Apache-2.0
//! The one error type of the concurrent write layer.
//!
//! Every message names what it is about: the table, the path, the operation.
//! I/O failures keep their [`std::io::ErrorKind`] so that a caller can tell
//! "permission denied" from "no space left on device".

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::validation::{NameRule, RowField, RowRule};

/// Result alias used throughout the workspace.
pub type ReedResult<T> = Result<T, ReedError>;

/// Everything that can go wrong while locking a table or queueing a write.
///
/// The enum is `#[non_exhaustive]`: match the variants you handle and keep a
/// catch-all arm.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::ReedError;
///
/// let err = ReedError::LockTimeout { table: "users".into(), waited: Duration::from_millis(502) };
/// assert!(err.to_string().contains("users"));
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
    /// The table's lock could not be had within the timeout.
    LockTimeout {
        /// The table.
        table: String,
        /// How long the caller really waited (not the whole seconds asked for).
        waited: Duration,
    },
    /// The table's queue already holds its capacity of pending writes.
    QueueFull {
        /// The table.
        table: String,
        /// How many entries were pending when the write was refused.
        size: usize,
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
    /// `remove_from_queue` was given a well-formed id that is not queued.
    QueueEntryNotFound {
        /// The table.
        table: String,
        /// The id asked for.
        queue_id: String,
    },
    /// A queue entry could not be read or parsed and was moved aside so that
    /// the queue could go on. Nothing was deleted.
    CorruptEntry {
        /// The table.
        table: String,
        /// The entry's id.
        queue_id: String,
        /// Where the entry now lies.
        moved_to: PathBuf,
        /// Why it was moved aside.
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
}

impl fmt::Display for ReedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReedError::IoError {
                operation,
                path,
                kind,
                reason,
            } => write!(
                f,
                "{operation} failed on {}: {reason} ({kind:?})",
                path.display()
            ),
            ReedError::LockTimeout { table, waited } => write!(
                f,
                "could not lock table '{table}': still held by another writer after {waited:?}"
            ),
            ReedError::QueueFull { table, size } => write!(
                f,
                "write queue of table '{table}' is full ({size} pending writes)"
            ),
            ReedError::InvalidQueueFile { path, reason } => {
                write!(f, "invalid queue file {}: {reason}", path.display())
            }
            ReedError::SerializationError { reason } => {
                write!(f, "could not serialise pending write: {reason}")
            }
            ReedError::DeserializationError { reason } => {
                write!(f, "could not deserialise pending write: {reason}")
            }
            ReedError::InvalidTableName { name, rule } => {
                write!(f, "invalid table name {name:?}: {rule}")
            }
            ReedError::InvalidQueueId { id, rule } => write!(f, "invalid queue id {id:?}: {rule}"),
            ReedError::InvalidRow { key, field, rule } => {
                write!(f, "invalid row with key {key:?}: {field} {rule}")
            }
            ReedError::QueueEntryNotFound { table, queue_id } => write!(
                f,
                "queue entry '{queue_id}' of table '{table}' does not exist"
            ),
            ReedError::CorruptEntry {
                table,
                queue_id,
                moved_to,
                reason,
            } => write!(
                f,
                "queue entry '{queue_id}' of table '{table}' is corrupt ({reason}); moved aside to {}",
                moved_to.display()
            ),
        }
    }
}

impl std::error::Error for ReedError {}
