// SPDX-License-Identifier: Apache-2.0
//! [`FsBackend`]: core's traits over the [`lock`](crate::lock) and
//! [`queue`](crate::queue) modules.
//!
//! Every method is here. Each lock method calls one function of
//! `lock::table_lock`, each queue method one of `queue::table_queue`; the
//! free functions of the old module's signatures call the same functions.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reedbase_concurrent_core::{
    LockBackend, LockHolder, MovedAside, PendingWrite, QueueBackend, ReedResult,
};

use crate::lock::TableLock;
use crate::lock::table_lock;
use crate::options::FsOptions;
use crate::queue::cache::Listings;
use crate::queue::table_queue;
use crate::tables_dir::BaseDir;

/// The file-system backend: locks and queues under one base directory.
///
/// Cheap to clone: clones share the base directory (kept open once it has
/// been used, so that every call reaches `<base>/tables` relative to it) and
/// copy the options; every guarantee holds across threads and processes
/// alike. The base path is resolved when the backend first uses it (a
/// relative path against the working directory of that moment); a backend
/// keeps working in that directory even if it is renamed, so replacing the
/// base directory itself needs a new backend.
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
    base: Arc<BaseDir>,
    options: FsOptions,
    /// The consumers' kept listings, shared by clones.
    listings: Arc<Listings>,
}

impl FsBackend {
    /// A backend on `base_path` with the default options (durable, capacity
    /// 100, JSON). Nothing is created or opened until a table is used.
    pub fn new(base_path: impl Into<std::path::PathBuf>) -> Self {
        FsBackend::with_options(base_path, FsOptions::default())
    }

    /// A backend on `base_path` with the given options.
    pub fn with_options(base_path: impl Into<std::path::PathBuf>, options: FsOptions) -> Self {
        FsBackend {
            base: Arc::new(BaseDir::new(base_path.into())),
            options,
            listings: Arc::default(),
        }
    }

    /// The base directory.
    pub fn base_path(&self) -> &Path {
        self.base.path()
    }

    /// The options.
    pub fn options(&self) -> &FsOptions {
        &self.options
    }

    /// Closes the descriptors this backend (and its clones) keeps open
    /// between calls for tables not in use now: each table's directory and
    /// `write.lock`, kept after its first acquisition or probe so that the
    /// next one skips opening and checking them. Locks held now keep
    /// theirs; the next call opens them again. It also waits (up to a
    /// second) until the queue entries that lock holders of this process
    /// removed are freed: their descriptors are closed on a thread of the
    /// process after each batch.
    ///
    /// A kept descriptor keeps its file system busy: call this before
    /// remounting it read-only or unmounting it (the base directory itself
    /// stays open as long as the backend lives). The free functions'
    /// descriptors are closed by [`close_idle`](crate::close_idle).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use reedbase_concurrent_core::LockBackend;
    /// use reedbase_concurrent_fs::FsBackend;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let backend = FsBackend::new(dir.path());
    /// drop(backend.acquire_lock("users", Duration::from_secs(1))?);
    /// backend.close_idle();
    /// assert!(!backend.is_locked("users")?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn close_idle(&self) {
        self.base.kept().close_idle();
        crate::queue::wait_for_freeing(self.base.key());
    }
}

impl LockBackend for FsBackend {
    type Guard = TableLock;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<TableLock> {
        table_lock::acquire(Arc::clone(&self.base), table_name, timeout)
    }

    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<TableLock>> {
        table_lock::try_acquire(Arc::clone(&self.base), table_name)
    }

    fn try_acquire_lock_for(
        &self,
        table_name: &str,
        timeout: Duration,
    ) -> ReedResult<Option<TableLock>> {
        table_lock::try_acquire_for(Arc::clone(&self.base), table_name, timeout)
    }

    fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
        table_lock::is_locked(&self.base, table_name)
    }

    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        table_lock::wait_for_unlock(&self.base, table_name, timeout)
    }

    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        table_lock::lock_holder(&self.base, table_name)
    }
}

impl QueueBackend for FsBackend {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        table_queue::queue_write(&self.base, table_name, write, &self.options)
    }

    fn queue_write_unless(
        &self,
        table_name: &str,
        write: &PendingWrite,
        instead: &mut dyn FnMut() -> bool,
    ) -> ReedResult<Option<String>> {
        let mut instead = || instead().then_some(());
        table_queue::queue_write_unless(&self.base, table_name, write, &self.options, &mut instead)
            .map(Result::ok)
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        let batch = table_queue::pending_batch_kept(
            &self.base,
            &self.listings,
            table_name,
            (1, false),
            &self.options,
        )?;
        Ok(batch.into_iter().next())
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        table_queue::remove(&self.base, table_name, queue_id)?;
        self.listings.removed(table_name, &[queue_id]);
        Ok(())
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        table_queue::count(&self.base, table_name)
    }

    fn capacity(&self) -> usize {
        self.options.capacity
    }

    /// `true`: a batch is taken from one listing of the queue directory,
    /// checked by a second (a listing kept from an earlier call is used
    /// only while nothing may sort before its end, and is read again when
    /// it runs out and entries arrived since).
    fn short_batch_holds_all(&self) -> bool {
        true
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        // A lock holder's batch, removed once applied: the descriptors it is
        // read through are kept to pin its entries at their removal.
        table_queue::pending_batch_kept(
            &self.base,
            &self.listings,
            table_name,
            (max, true),
            &self.options,
        )
    }

    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        let removed = table_queue::remove_batch(
            &self.base,
            table_name,
            queue_ids,
            self.options.durability,
            table_queue::Freed::Later,
        );
        match &removed {
            Ok(()) => self.listings.removed(table_name, queue_ids),
            // Which were removed is not said: list again.
            Err(_) => self.listings.forget(table_name),
        }
        removed
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        table_queue::is_pending(&self.base, table_name, queue_id)
    }

    fn wait_while_pending(
        &self,
        table_name: &str,
        queue_id: &str,
        timeout: Duration,
    ) -> ReedResult<bool> {
        table_queue::wait_while_pending(&self.base, table_name, queue_id, timeout)
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        table_queue::move_aside(&self.base, table_name, queue_id, reason)
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        table_queue::moved_aside(&self.base, table_name)
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        table_queue::record_failed_apply(&self.base, table_name, queue_id)
    }

    fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
        table_queue::tables_with_pending(&self.base)
    }
}
