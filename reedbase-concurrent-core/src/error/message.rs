// SPDX-License-Identifier: Apache-2.0
//! The messages of [`ReedError`]: each names the table, the path or the
//! operation it is about, and, where the caller can do something, what.

use std::fmt;

use super::ReedError;
use crate::diagnostics::human_duration;

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
            ReedError::ServerError {
                operation,
                server,
                code,
                reason,
            } => {
                write!(f, "{operation} failed on server {server}: {reason}")?;
                match code {
                    Some(code) => write!(f, " (SQLSTATE {code})"),
                    None => Ok(()),
                }
            }
            ReedError::LockTimeout {
                table,
                waited,
                holder,
            } => {
                write!(
                    f,
                    "timed out after {} waiting for the lock of table '{table}'",
                    human_duration(*waited)
                )?;
                match holder {
                    Some(holder) => write!(f, ", held by {holder}"),
                    None => Ok(()),
                }
            }
            ReedError::LockLost { table, reason } => write!(
                f,
                "the lock of table '{table}' was lost while held ({reason}); nothing more is applied or removed under it"
            ),
            ReedError::QueueBusy { table, waited } => write!(
                f,
                "could not queue a write to table '{table}': another producer held the queue's producers' lock for {}; nothing was written, retry later",
                human_duration(*waited)
            ),
            ReedError::QueueFull { table, size } => write!(
                f,
                "write queue of table '{table}' is full ({size} pending writes): retry later, drain the queue, or raise the backend's queue capacity option"
            ),
            ReedError::WaitTimeout {
                table,
                queue_id,
                waited,
            } => write!(
                f,
                "queued write '{queue_id}' of table '{table}' was still pending after {}",
                human_duration(*waited)
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
            ReedError::QueueOutcomeUnknown {
                table,
                queue_id,
                reason,
            } => write!(
                f,
                "write '{queue_id}' to table '{table}' was queued, then {reason}: its outcome is unknown (applied, still pending, or lost in a power cut); do not queue it again, ask whether '{queue_id}' is pending or applied"
            ),
            ReedError::CorruptEntry {
                table,
                queue_id,
                moved_to,
                reason,
            } => write!(
                f,
                "queue entry '{queue_id}' of table '{table}' was moved aside ({reason}); it lies at {moved_to}"
            ),
        }
    }
}
