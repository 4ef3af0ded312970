// SPDX-License-Identifier: Apache-2.0
//! [`FsBackend`]: core's traits over the [`lock`](crate::lock) and
//! [`queue`](crate::queue) modules.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reedbase_concurrent_core::{
    LockBackend, LockHolder, MovedAside, PendingWrite, QueueBackend, ReedResult,
};

use crate::lock::{self, TableLock};
use crate::options::FsOptions;
use crate::queue;

/// The file-system backend: locks and queues under one base directory.
///
/// Cheap to clone; clones share nothing but the base path and options, and
/// every guarantee holds across threads and processes alike.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{CsvRow, LockBackend, PendingWrite, QueueBackend, WriteOperation};
/// use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};
///
/// let dir = tempfile::tempdir()?;
/// let backend = FsBackend::with_options(dir.path(), FsOptions::new().durability(Durability::Relaxed));
/// {
///     let _guard = backend.acquire_lock("users", Duration::from_secs(1))?;
///     assert!(backend.is_locked("users")?);
/// }
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", vec!["Alice"])]);
/// let id = backend.queue_write("users", &write)?;
/// assert_eq!(backend.get_next_pending("users")?, Some((id, write)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FsBackend {
    base_path: PathBuf,
    options: FsOptions,
}

impl FsBackend {
    /// A backend on `base_path` with the default options (durable, capacity
    /// 100, JSON). Nothing is created until a table is used.
    pub fn new(base_path: impl Into<PathBuf>) -> Self {
        FsBackend::with_options(base_path, FsOptions::default())
    }

    /// A backend on `base_path` with the given options.
    pub fn with_options(base_path: impl Into<PathBuf>, options: FsOptions) -> Self {
        FsBackend {
            base_path: base_path.into(),
            options,
        }
    }

    /// The base directory.
    pub fn base_path(&self) -> &Path {
        &self.base_path
    }

    /// The options.
    pub fn options(&self) -> &FsOptions {
        &self.options
    }
}

impl LockBackend for FsBackend {
    type Guard = TableLock;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<TableLock> {
        lock::acquire_lock(&self.base_path, table_name, timeout)
    }

    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<TableLock>> {
        lock::try_acquire_lock(&self.base_path, table_name)
    }

    fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
        lock::is_locked(&self.base_path, table_name)
    }

    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        lock::wait_for_unlock(&self.base_path, table_name, timeout)
    }

    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        lock::lock_holder(&self.base_path, table_name)
    }
}

impl QueueBackend for FsBackend {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        queue::queue_write_with(&self.base_path, table_name, write, &self.options)
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        queue::get_next_pending(&self.base_path, table_name)
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        queue::remove_from_queue(&self.base_path, table_name, queue_id)
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        queue::count_pending(&self.base_path, table_name)
    }

    fn capacity(&self) -> usize {
        self.options.capacity
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        queue::pending_batch(&self.base_path, table_name, max)
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        queue::is_pending(&self.base_path, table_name, queue_id)
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        queue::move_entry_aside(&self.base_path, table_name, queue_id, reason)
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        queue::moved_aside(&self.base_path, table_name)
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        queue::record_failed_apply(&self.base_path, table_name, queue_id)
    }

    fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
        queue::tables_with_pending(&self.base_path)
    }
}
