// SPDX-License-Identifier: Apache-2.0
//! The old module's own error type, reproduced as it was: every field is a
//! `String` (or a number), so the underlying `io::Error` kind and the path
//! are lost.
//!
//! The workspace's real error type is
//! [`reedbase_concurrent_core::ReedError`]; [`LastBackend`](crate::LastBackend)
//! converts this one into that one.

use std::fmt;

/// Result alias of the old module.
pub type ReedResult<T> = Result<T, ReedError>;

/// The errors the old concurrent module reports.
///
/// # Examples
///
/// ```
/// use reedbase_last::error::ReedError;
///
/// let err = ReedError::LockTimeout { table: "users".to_string(), timeout_secs: 0 };
/// assert_eq!(err.to_string(), "Lock timeout for table 'users' after 0s");
/// ```
#[derive(Debug, Clone)]
pub enum ReedError {
    /// A file-system operation failed.
    IoError {
        /// What was being done: `create_lock_dir`, `create_lock_file`,
        /// `create_queue_dir`, `write_queue_file`, `read_queue_dir`,
        /// `read_queue_file`, `remove_queue_file` or `count_queue_dir`.
        operation: String,
        /// The underlying error's message (its kind and path are not kept).
        reason: String,
    },
    /// The table's lock could not be had within the timeout.
    LockTimeout {
        /// The table.
        table: String,
        /// The whole seconds of the timeout asked for (`timeout.as_secs()`),
        /// so a 500 ms timeout reads as 0. Not the time really waited.
        timeout_secs: u64,
    },
    /// The table's queue already holds 100 or more pending writes.
    QueueFull {
        /// The table.
        table: String,
        /// How many `.pending` files were counted.
        size: usize,
    },
    /// A queue file whose name could not be read as a queue id.
    InvalidQueueFile {
        /// The file.
        path: String,
    },
    /// A pending write could not be serialised.
    SerializationError {
        /// The serialiser's message.
        reason: String,
    },
    /// A queue file could not be deserialised.
    DeserializationError {
        /// The deserialiser's message.
        reason: String,
    },
}

impl fmt::Display for ReedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReedError::IoError { operation, reason } => {
                write!(f, "I/O error during '{operation}': {reason}")
            }
            ReedError::LockTimeout {
                table,
                timeout_secs,
            } => write!(f, "Lock timeout for table '{table}' after {timeout_secs}s"),
            ReedError::QueueFull { table, size } => {
                write!(f, "Queue full for table '{table}' ({size} pending)")
            }
            ReedError::InvalidQueueFile { path } => write!(f, "Invalid queue file: {path}"),
            ReedError::SerializationError { reason } => {
                write!(f, "Serialisation error: {reason}")
            }
            ReedError::DeserializationError { reason } => {
                write!(f, "Deserialisation error: {reason}")
            }
        }
    }
}

/// The old module has no `source()`: the cause survives only as text.
impl std::error::Error for ReedError {}

/// As the old module had it, so that old callers can use `?` on I/O
/// results: the operation is `"unknown"` and the reason the error's text.
///
/// ```
/// use reedbase_last::error::ReedError;
///
/// let err = ReedError::from(std::io::Error::other("disk on fire"));
/// assert_eq!(err.to_string(), "I/O error during 'unknown': disk on fire");
/// ```
impl From<std::io::Error> for ReedError {
    fn from(err: std::io::Error) -> ReedError {
        ReedError::IoError {
            operation: "unknown".to_string(),
            reason: err.to_string(),
        }
    }
}

#[cfg(test)]
#[path = "error_test.rs"]
mod tests;
