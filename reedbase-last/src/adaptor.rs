// SPDX-License-Identifier: Apache-2.0
//! [`LastBackend`]: core's [`LockBackend`] and [`QueueBackend`] over the old
//! module's free functions, so that the parity harness and the conformance
//! suite can drive the old behaviour like any backend.
//!
//! The adaptor converts types and nothing else. It validates nothing,
//! retries nothing and fixes no flaw: every call is one call of the old
//! function, and what that function does (or fails to do) is what the
//! caller sees.
//!
//! Conversions:
//! - [`PendingWrite`](reedbase_concurrent_core::PendingWrite) timestamps are
//!   `u128` in core and `u64` in the old module; a core timestamp that does
//!   not fit in `u64` is refused with a core `SerializationError` (the old
//!   module could not have stored it).
//! - The old `LockTimeout { timeout_secs }` becomes core's
//!   `LockTimeout { waited: Duration::from_secs(timeout_secs) }`: whole
//!   seconds of the timeout asked for, not the time really waited.
//! - The old `IoError { operation, reason }` keeps neither the path nor the
//!   `io::ErrorKind`. Core's `IoError` gets the operation, a best-effort
//!   path (the file or directory that operation works on, derived from the
//!   base path, table and id), the kind `io::ErrorKind::Other` whatever the
//!   real cause was, and the old message as its reason.
//! - `QueueFull`, `InvalidQueueFile`, `SerializationError` and
//!   `DeserializationError` map to the core variants of the same names.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use reedbase_concurrent_core as core_api;
use reedbase_concurrent_core::{LockBackend, QueueBackend};

use crate::concurrent::{self, TableLock};
use crate::error::ReedError;

/// The operation names the old module reports in `IoError`, as the
/// `&'static str` core's `IoError` wants.
const OPERATIONS: [&str; 8] = [
    "create_lock_dir",
    "create_lock_file",
    "create_queue_dir",
    "write_queue_file",
    "read_queue_dir",
    "read_queue_file",
    "remove_queue_file",
    "count_queue_dir",
];

/// The old module behind core's backend traits, over one base directory.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{CsvRow, LockBackend, PendingWrite, QueueBackend, WriteOperation};
/// use reedbase_last::LastBackend;
///
/// let dir = tempfile::tempdir()?;
/// let backend = LastBackend::new(dir.path());
/// {
///     let _guard = backend.acquire_lock("users", Duration::from_secs(1))?;
///     assert!(backend.is_locked("users")?);
/// }
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])]);
/// let id = backend.queue_write("users", &write)?;
/// assert_eq!(backend.get_next_pending("users")?, Some((id, write)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct LastBackend {
    base_path: PathBuf,
}

impl LastBackend {
    /// An adaptor over the base directory `base_path` (created on first use
    /// by the old functions, as they did).
    pub fn new(base_path: impl Into<PathBuf>) -> LastBackend {
        LastBackend {
            base_path: base_path.into(),
        }
    }

    /// The base directory.
    pub fn base_path(&self) -> &Path {
        &self.base_path
    }

    /// Converts an old error into core's, for a call on `table_name` (and
    /// `queue_id`, for a removal).
    fn convert(
        &self,
        err: ReedError,
        table_name: &str,
        queue_id: Option<&str>,
    ) -> core_api::ReedError {
        match err {
            ReedError::IoError { operation, reason } => {
                let operation = OPERATIONS
                    .iter()
                    .copied()
                    .find(|known| *known == operation)
                    .unwrap_or("unknown_operation");
                let path = self.operation_path(operation, table_name, queue_id);
                core_api::ReedError::io(operation, &path, &io::Error::other(reason))
            }
            ReedError::LockTimeout {
                table,
                timeout_secs,
            } => core_api::ReedError::lock_timeout(&table, Duration::from_secs(timeout_secs)),
            ReedError::QueueFull { table, size } => core_api::ReedError::queue_full(&table, size),
            ReedError::InvalidQueueFile { path } => core_api::ReedError::InvalidQueueFile {
                path: PathBuf::from(path),
                reason: "reported by the old module, which gives no reason".to_string(),
            },
            ReedError::SerializationError { reason } => {
                core_api::ReedError::SerializationError { reason }
            }
            ReedError::DeserializationError { reason } => {
                core_api::ReedError::DeserializationError { reason }
            }
        }
    }

    /// The path an old operation works on, as far as the adaptor can tell.
    fn operation_path(&self, operation: &str, table_name: &str, queue_id: Option<&str>) -> PathBuf {
        let table_dir = self.base_path.join("tables").join(table_name);
        match (operation, queue_id) {
            ("create_lock_dir", _) => table_dir,
            ("create_lock_file", _) => table_dir.join("write.lock"),
            ("remove_queue_file", Some(id)) => {
                table_dir.join("queue").join(format!("{id}.pending"))
            }
            ("unknown_operation", _) => self.base_path.clone(),
            _ => table_dir.join("queue"),
        }
    }
}

/// Converts a core write into the old type.
fn to_last(
    write: &core_api::PendingWrite,
) -> Result<concurrent::PendingWrite, core_api::ReedError> {
    let timestamp =
        u64::try_from(write.timestamp).map_err(|_| core_api::ReedError::SerializationError {
            reason: format!(
                "timestamp {} does not fit in the old module's u64",
                write.timestamp
            ),
        })?;
    Ok(concurrent::PendingWrite {
        rows: write
            .rows
            .iter()
            .map(|row| concurrent::CsvRow {
                key: row.key.clone(),
                values: row.values.clone(),
            })
            .collect(),
        timestamp,
        operation: match write.operation {
            core_api::WriteOperation::Insert => concurrent::WriteOperation::Insert,
            core_api::WriteOperation::Update => concurrent::WriteOperation::Update,
            core_api::WriteOperation::Delete => concurrent::WriteOperation::Delete,
        },
    })
}

/// Converts an old write into core's type.
fn to_core(write: concurrent::PendingWrite) -> core_api::PendingWrite {
    core_api::PendingWrite {
        rows: write
            .rows
            .into_iter()
            .map(|row| core_api::CsvRow {
                key: row.key,
                values: row.values,
            })
            .collect(),
        timestamp: u128::from(write.timestamp),
        operation: match write.operation {
            concurrent::WriteOperation::Insert => core_api::WriteOperation::Insert,
            concurrent::WriteOperation::Update => core_api::WriteOperation::Update,
            concurrent::WriteOperation::Delete => core_api::WriteOperation::Delete,
        },
    }
}

/// The old module's [`TableLock`] with the table's name, as core's
/// [`LockGuard`](core_api::LockGuard) wants it.
#[derive(Debug)]
pub struct LastGuard {
    /// The old module's guard; dropping it releases the lock.
    pub lock: TableLock,
    table_name: String,
}

impl core_api::LockGuard for LastGuard {
    fn table_name(&self) -> &str {
        &self.table_name
    }

    /// Always `Ok(true)`: the old module never checked whether its lock
    /// file was replaced while held.
    fn is_held(&self) -> core_api::ReedResult<bool> {
        Ok(true)
    }
}

/// The error for what the old module has no notion of.
fn unsupported(operation: &'static str, path: &Path, what: &str) -> core_api::ReedError {
    core_api::ReedError::io(
        operation,
        path,
        &io::Error::new(
            io::ErrorKind::Unsupported,
            format!("the old module has no {what}"),
        ),
    )
}

impl LockBackend for LastBackend {
    type Guard = LastGuard;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> core_api::ReedResult<LastGuard> {
        concurrent::acquire_lock(&self.base_path, table_name, timeout)
            .map(|lock| LastGuard {
                lock,
                table_name: table_name.to_string(),
            })
            .map_err(|e| self.convert(e, table_name, None))
    }

    /// One attempt of the old `acquire_lock` with a zero timeout; its
    /// `LockTimeout` (which any try-lock error gives) reads as `None`.
    fn try_acquire_lock(&self, table_name: &str) -> core_api::ReedResult<Option<LastGuard>> {
        match concurrent::acquire_lock(&self.base_path, table_name, Duration::ZERO) {
            Ok(lock) => Ok(Some(LastGuard {
                lock,
                table_name: table_name.to_string(),
            })),
            Err(ReedError::LockTimeout { .. }) => Ok(None),
            Err(e) => Err(self.convert(e, table_name, None)),
        }
    }

    fn is_locked(&self, table_name: &str) -> core_api::ReedResult<bool> {
        concurrent::is_locked(&self.base_path, table_name)
            .map_err(|e| self.convert(e, table_name, None))
    }

    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> core_api::ReedResult<()> {
        concurrent::wait_for_unlock(&self.base_path, table_name, timeout)
            .map_err(|e| self.convert(e, table_name, None))
    }

    /// The old module writes no holder record: a held lock has an unknown
    /// holder.
    fn lock_holder(&self, table_name: &str) -> core_api::ReedResult<Option<core_api::LockHolder>> {
        Ok(self
            .is_locked(table_name)?
            .then(core_api::LockHolder::unknown))
    }
}

impl QueueBackend for LastBackend {
    fn queue_write(
        &self,
        table_name: &str,
        write: &core_api::PendingWrite,
    ) -> core_api::ReedResult<String> {
        concurrent::queue_write(&self.base_path, table_name, to_last(write)?)
            .map_err(|e| self.convert(e, table_name, None))
    }

    fn get_next_pending(
        &self,
        table_name: &str,
    ) -> core_api::ReedResult<Option<(String, core_api::PendingWrite)>> {
        concurrent::get_next_pending(&self.base_path, table_name)
            .map(|next| next.map(|(id, write)| (id, to_core(write))))
            .map_err(|e| self.convert(e, table_name, None))
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> core_api::ReedResult<()> {
        concurrent::remove_from_queue(&self.base_path, table_name, queue_id)
            .map_err(|e| self.convert(e, table_name, Some(queue_id)))
    }

    fn count_pending(&self, table_name: &str) -> core_api::ReedResult<usize> {
        concurrent::count_pending(&self.base_path, table_name)
            .map_err(|e| self.convert(e, table_name, None))
    }

    /// 100, the old module's fixed limit.
    fn capacity(&self) -> usize {
        crate::concurrent::queue::MAX_QUEUE_SIZE
    }

    /// Whether `<queue>/<id>.pending` exists, which is what the old module's
    /// `remove_from_queue` would find (no validation, as there).
    fn is_pending(&self, table_name: &str, queue_id: &str) -> core_api::ReedResult<bool> {
        let path = self.operation_path("remove_queue_file", table_name, Some(queue_id));
        Ok(path.exists())
    }

    /// The old module never moves an entry aside.
    fn move_aside(
        &self,
        table_name: &str,
        queue_id: &str,
        _reason: &str,
    ) -> core_api::ReedResult<core_api::MovedAside> {
        let path = self.operation_path("remove_queue_file", table_name, Some(queue_id));
        Err(unsupported("move_aside", &path, "moved-aside entries"))
    }

    /// Empty: the old module never moves an entry aside.
    fn moved_aside(&self, _table_name: &str) -> core_api::ReedResult<Vec<core_api::MovedAside>> {
        Ok(Vec::new())
    }

    /// The old module counts no failed applies.
    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> core_api::ReedResult<u32> {
        let path = self.operation_path("remove_queue_file", table_name, Some(queue_id));
        Err(unsupported(
            "record_failed_apply",
            &path,
            "count of failed applies",
        ))
    }

    /// The directories under `<base>/tables/` whose old `count_pending` is
    /// above 0.
    fn tables_with_pending(&self) -> core_api::ReedResult<Vec<String>> {
        let tables_dir = self.base_path.join("tables");
        let listing = match std::fs::read_dir(&tables_dir) {
            Ok(listing) => listing,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(core_api::ReedError::io("read_queue_dir", &tables_dir, &e)),
        };
        let mut tables = Vec::new();
        for entry in listing.flatten() {
            let Ok(name) = entry.file_name().into_string() else {
                continue;
            };
            if self.count_pending(&name)? > 0 {
                tables.push(name);
            }
        }
        tables.sort();
        Ok(tables)
    }
}

#[cfg(test)]
#[path = "adaptor_test.rs"]
mod tests;
