// SPDX-License-Identifier: Apache-2.0
//! Taking a table's lock: [`TableLock`], [`acquire_lock`] and
//! [`try_acquire_lock`].

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{LockGuard, ReedError, ReedResult};

use super::flock::{self, TryLock};
use super::holder;
use super::open::open_for_locking;
use super::wait::{Polled, poll_until};
use crate::paths::TablePaths;

/// A held table lock: proof that this process, through this value, has the
/// exclusive write lock of one table.
///
/// Dropping it blanks the holder record and releases the lock; the lock file
/// itself is never deleted. If the process dies instead, the kernel releases
/// the lock (see the [module docs](super)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::{acquire_lock, is_locked};
///
/// let dir = tempfile::tempdir()?;
/// {
///     let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
///     assert_eq!(guard.table_name(), "users");
///     assert!(guard.path().ends_with("tables/users/write.lock"));
/// }
/// assert!(!is_locked(dir.path(), "users")?);
/// assert!(dir.path().join("tables/users/write.lock").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct TableLock {
    file: File,
    path: PathBuf,
    table_name: String,
}

impl TableLock {
    /// Wraps a file this process has just locked, and records the holder.
    fn locked(file: File, path: PathBuf, table_name: &str) -> TableLock {
        holder::write_own_record(&file);
        TableLock {
            file,
            path,
            table_name: table_name.to_string(),
        }
    }

    /// The lock file's path, `<base>/tables/<table>/write.lock`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table_name
    }
}

impl LockGuard for TableLock {
    fn table_name(&self) -> &str {
        &self.table_name
    }

    /// True while the locked file is still the file at the lock path: same
    /// device and inode, and not unlinked. An operator who deleted or
    /// replaced `write.lock` while it was held has let a second process lock
    /// a new file at that path, so this guard no longer excludes anyone.
    fn is_held(&self) -> ReedResult<bool> {
        same_file_at_path(&self.file, &self.path)
    }
}

#[cfg(unix)]
fn same_file_at_path(file: &File, path: &Path) -> ReedResult<bool> {
    use std::os::unix::fs::MetadataExt as _;
    let held = file
        .metadata()
        .map_err(|error| ReedError::io("stat_lock_file", path, &error))?;
    match std::fs::symlink_metadata(path) {
        Ok(at_path) => {
            Ok(held.nlink() > 0 && held.dev() == at_path.dev() && held.ino() == at_path.ino())
        }
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(ReedError::io("stat_lock_file", path, &error)),
    }
}

#[cfg(not(unix))]
fn same_file_at_path(_file: &File, _path: &Path) -> ReedResult<bool> {
    Ok(true)
}

impl Drop for TableLock {
    fn drop(&mut self) {
        holder::clear_record(&self.file);
        // A failed unlock still ends with the close that follows, which
        // releases the flock unless a forked child holds a copy of it.
        let _ = flock::unlock(&self.file);
    }
}

/// Takes the exclusive write lock of `table_name`, waiting at most
/// `timeout` for another holder (thread or process) to release it.
///
/// Creates `<base>/tables/<table>/write.lock` (and its directories) if it
/// does not exist. While the lock is held elsewhere, tries again after
/// pauses that grow from 20 us to 1 ms, so a release is noticed within
/// about a millisecond (see the [module docs](super)); one last
/// attempt is made at the deadline, and a zero timeout means one attempt.
/// The lock is not reentrant: a second acquire of the same table in the same
/// process waits for the first guard like any other holder.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`] for a bad name, before anything is
///   touched;
/// - [`ReedError::LockTimeout`] with the real `Duration` waited when the
///   lock is still held after `timeout`;
/// - [`ReedError::IoError`] `create_lock_dir`, `open_lock_file` or
///   `lock_file`, at once, with the path and the error kind, for any failure
///   that is not contention (a base path that is a regular file, an
///   unwritable directory). It is never retried nor reported as a timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::acquire_lock;
///
/// let dir = tempfile::tempdir()?;
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// let err = acquire_lock(dir.path(), "users", Duration::from_millis(20)).unwrap_err();
/// assert!(err.is_lock_timeout());
/// drop(guard);
/// let _again = acquire_lock(dir.path(), "users", Duration::ZERO)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn acquire_lock(
    base_path: &Path,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<TableLock> {
    let start = Instant::now();
    let paths = TablePaths::new(base_path, table_name)?;
    let file = open_for_locking(&paths)?;
    match poll_until(start, timeout, || try_lock(&file, &paths.lock_file))? {
        Polled::Ready(()) => Ok(TableLock::locked(file, paths.lock_file, table_name)),
        Polled::TimedOut(waited) => Err(ReedError::lock_timeout(table_name, waited)
            .with_holder(holder::lock_holder(base_path, table_name).ok().flatten())),
    }
}

/// Takes the exclusive write lock of `table_name` if it is free, never
/// waiting.
///
/// Returns `Ok(None)` when another holder has it. Creates the lock file as
/// [`acquire_lock`] does.
///
/// # Errors
///
/// As [`acquire_lock`], without the timeout.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_fs::lock::try_acquire_lock;
///
/// let dir = tempfile::tempdir()?;
/// let guard = try_acquire_lock(dir.path(), "users")?.expect("free");
/// assert!(try_acquire_lock(dir.path(), "users")?.is_none());
/// drop(guard);
/// assert!(try_acquire_lock(dir.path(), "users")?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn try_acquire_lock(base_path: &Path, table_name: &str) -> ReedResult<Option<TableLock>> {
    let paths = TablePaths::new(base_path, table_name)?;
    let file = open_for_locking(&paths)?;
    Ok(try_lock(&file, &paths.lock_file)?
        .map(|()| TableLock::locked(file, paths.lock_file, table_name)))
}

/// One non-blocking attempt: `Some` when taken, `None` on contention.
fn try_lock(file: &File, path: &Path) -> ReedResult<Option<()>> {
    match flock::try_lock_exclusive(file) {
        Ok(TryLock::Acquired) => Ok(Some(())),
        Ok(TryLock::Contended) => Ok(None),
        Err(error) => Err(ReedError::io("lock_file", path, &error)),
    }
}
