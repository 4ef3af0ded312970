// SPDX-License-Identifier: Apache-2.0
//! The old module's free functions, with its names and signatures, over
//! the same lock and queue code as [`FsBackend`](crate::FsBackend).
//!
//! Each call finds the base directory's kept descriptors by its path (see
//! [`close_idle`](crate::close_idle)), so a loop of free calls costs what
//! the same calls through one `FsBackend` cost. What differs from the old
//! module on purpose is listed in the crate's
//! [porting notes](crate#porting-from-the-old-module).

use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::{PendingWrite, ReedResult};

use crate::base_cache::base_at;
use crate::lock::TableLock;
use crate::options::FsOptions;

/// Takes the exclusive write lock of `table_name`, waiting at most
/// `timeout` for another holder (thread or process) to release it.
///
/// Creates `<base>/tables/<table>/write.lock` (and its directories) if it
/// does not exist. While the lock is held elsewhere, sleeps on an inotify
/// watch of the table directory and tries again when the holder releases
/// (or at the latest every 50 ms, and with a back-off poll where inotify is
/// unavailable; see [how a waiter waits](crate::lock#how-a-waiter-waits)); one last attempt is
/// made at the deadline, and a zero timeout means one attempt. The lock is
/// not reentrant: a second acquire of the same table in the same process
/// waits for the first guard like any other holder.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName) for a bad name, before anything is
///   touched;
/// - [`ReedError::LockTimeout`](crate::ReedError::LockTimeout) with the real `Duration` waited, and the
///   holder when its record can be read, when the lock is still held after
///   `timeout`;
/// - [`ReedError::IoError`](crate::ReedError::IoError) `create_lock_dir`, `open_lock_file`,
///   `lock_file` or `lock_table_dir`, at once, naming the path and the error
///   kind, for any failure that is not contention: a base path that is a
///   regular file, an unwritable directory, and a symbolic link, hard link,
///   FIFO, socket or directory where a directory or the lock file is
///   expected (see the crate's [threat model](crate#threat-model)). It is
///   never retried nor reported as a timeout.
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
    crate::lock::table_lock::acquire(base_at(base_path), table_name, timeout)
}

/// Tells whether some holder, in this or another process, has the lock of
/// `table_name` at this instant.
///
/// Probes `write.lock` and the table directory with *shared* `flock`s,
/// released at once: they conflict only with a writer's exclusive lock, so
/// two probes never see each other as holders, and a holder whose
/// `write.lock` was deleted while held is still seen through the directory.
/// The answer may be stale by the time it is read; use it for diagnostics,
/// not to decide to write. Never creates anything: a missing table
/// directory or lock file means "not locked".
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName) for a bad name, before anything is
///   touched;
/// - [`ReedError::IoError`](crate::ReedError::IoError) `open_lock_file` when a path on the way is not
///   a directory (a base path that is a regular file) or cannot be opened,
///   or the lock file is a link, FIFO, socket or directory (the old module
///   answered `false` here; an error tells the caller nothing is known);
/// - [`ReedError::IoError`](crate::ReedError::IoError) `lock_file` or `lock_table_dir` when a probe
///   fails other than by contention.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::{acquire_lock, is_locked};
///
/// let dir = tempfile::tempdir()?;
/// assert!(!is_locked(dir.path(), "users")?);
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// assert!(is_locked(dir.path(), "users")?);
/// drop(guard);
/// assert!(!is_locked(dir.path(), "users")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn is_locked(base_path: &Path, table_name: &str) -> ReedResult<bool> {
    crate::lock::table_lock::is_locked(&base_at(base_path), table_name)
}

/// Waits until the lock of `table_name` is free, without taking it, for at
/// most `timeout`.
///
/// Returns at once when the lock is free (or the table was never locked).
/// Otherwise it probes as [`is_locked`] does, through descriptors opened
/// once, waking as [`acquire_lock`] does. The lock may be taken
/// again by someone else before the caller acts.
///
/// # Errors
///
/// - [`ReedError::LockTimeout`](crate::ReedError::LockTimeout) carrying the time really waited (and the
///   holder, when known) when the lock is still held after `timeout`;
/// - the errors of [`is_locked`], at once.
///
/// # Examples
///
/// ```
/// use std::thread;
/// use std::time::Duration;
/// use reedbase_concurrent_fs::{acquire_lock, wait_for_unlock};
///
/// let dir = tempfile::tempdir()?;
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// let err = wait_for_unlock(dir.path(), "users", Duration::from_millis(50)).unwrap_err();
/// assert!(err.is_lock_timeout());
/// let releaser = thread::spawn(move || {
///     thread::sleep(Duration::from_millis(50));
///     drop(guard);
/// });
/// wait_for_unlock(dir.path(), "users", Duration::from_secs(5))?;
/// releaser.join().expect("releaser");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wait_for_unlock(base_path: &Path, table_name: &str, timeout: Duration) -> ReedResult<()> {
    crate::lock::table_lock::wait_for_unlock(&base_at(base_path), table_name, timeout)
}

/// Queues a write with the default options (durable, capacity 100, JSON),
/// with the old module's signature, and returns the entry's id.
///
/// See [`queue_write_with`](crate::queue::queue_write_with).
///
/// # Errors
///
/// As [`queue_write_with`](crate::queue::queue_write_with).
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_fs::{count_pending, queue_write};
///
/// let dir = tempfile::tempdir()?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", vec!["Alice"])]);
/// let id = queue_write(dir.path(), "users", write)?;
/// assert!(dir.path().join(format!("tables/users/queue/{id}.pending")).is_file());
/// assert_eq!(count_pending(dir.path(), "users")?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn queue_write(
    base_path: &Path,
    table_name: &str,
    operation: PendingWrite,
) -> ReedResult<String> {
    crate::queue::queue_write_with(base_path, table_name, &operation, &FsOptions::default())
}

/// The oldest entry of the table's queue, without removing it.
///
/// Returns `Ok(None)` when the queue is empty or was never used (nothing is
/// created). Entries that are corrupt, too large or not regular files are
/// moved aside on the way (see [`moved_aside`](crate::moved_aside)); an entry that cannot be
/// moved aside (a full or read-only disk) is skipped and reported there; an
/// old-module entry still being written is skipped. Reads nothing larger
/// than the default [`FsOptions::max_entry_bytes`].
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`], before any file is touched;
/// - [`ReedError::IoError`] `read_queue_dir` or `read_queue_file` naming the
///   path, for a failure that says nothing about one entry (a base path that
///   is a regular file, a link in place of the queue directory, too many
///   open files).
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_fs::{get_next_pending, queue_write};
///
/// let dir = tempfile::tempdir()?;
/// assert_eq!(get_next_pending(dir.path(), "users")?, None);
/// let first = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["1"])]);
/// let second = PendingWrite::new(WriteOperation::Delete, vec![CsvRow::new("k", vec!["1"])]);
/// let first_id = queue_write(dir.path(), "users", first.clone())?;
/// queue_write(dir.path(), "users", second)?;
/// assert_eq!(get_next_pending(dir.path(), "users")?, Some((first_id, first)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: crate::ReedError::InvalidTableName
/// [`ReedError::IoError`]: crate::ReedError::IoError
pub fn get_next_pending(
    base_path: &Path,
    table_name: &str,
) -> ReedResult<Option<(String, PendingWrite)>> {
    let base = base_at(base_path);
    let batch =
        crate::queue::table_queue::pending_batch(&base, table_name, 1, &FsOptions::default())?;
    Ok(batch.into_iter().next())
}

/// Removes one entry by id.
///
/// The removal is not fsynced (see the [module docs](crate::queue#removal)). Never
/// follows a link: a link named like the entry is removed itself.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`] and [`ReedError::InvalidQueueId`]
///   (for example `../../x`), before any file is touched;
/// - [`ReedError::CorruptEntry`] if the entry was moved aside, with where it
///   lies and why;
/// - [`ReedError::QueueEntryNotFound`] for a well-formed id that is not
///   queued (removing twice is an error, as in the old module);
/// - [`ReedError::IoError`] `remove_queue_file` naming the path.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, ReedError, WriteOperation};
/// use reedbase_concurrent_fs::{count_pending, queue_write, remove_from_queue};
///
/// let dir = tempfile::tempdir()?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])]);
/// let id = queue_write(dir.path(), "users", write)?;
/// remove_from_queue(dir.path(), "users", &id)?;
/// assert_eq!(count_pending(dir.path(), "users")?, 0);
/// let again = remove_from_queue(dir.path(), "users", &id).unwrap_err();
/// assert!(matches!(again, ReedError::QueueEntryNotFound { .. }));
/// assert!(remove_from_queue(dir.path(), "users", "../../x").unwrap_err().is_invalid_input());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: crate::ReedError::InvalidTableName
/// [`ReedError::InvalidQueueId`]: crate::ReedError::InvalidQueueId
/// [`ReedError::CorruptEntry`]: crate::ReedError::CorruptEntry
/// [`ReedError::QueueEntryNotFound`]: crate::ReedError::QueueEntryNotFound
/// [`ReedError::IoError`]: crate::ReedError::IoError
pub fn remove_from_queue(base_path: &Path, table_name: &str, queue_id: &str) -> ReedResult<()> {
    crate::queue::table_queue::remove(&base_at(base_path), table_name, queue_id)
}

/// The number of pending entries (`.pending` files) of the table's queue;
/// 0 when it was never used (nothing is created).
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`], before any file is touched;
/// - [`ReedError::IoError`] `read_queue_dir` naming the path.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_fs::{count_pending, queue_write};
///
/// let dir = tempfile::tempdir()?;
/// assert_eq!(count_pending(dir.path(), "users")?, 0);
/// for n in 0..3 {
///     let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(format!("k{n}"), Vec::<String>::new())]);
///     queue_write(dir.path(), "users", write)?;
/// }
/// assert_eq!(count_pending(dir.path(), "users")?, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: crate::ReedError::InvalidTableName
/// [`ReedError::IoError`]: crate::ReedError::IoError
pub fn count_pending(base_path: &Path, table_name: &str) -> ReedResult<usize> {
    crate::queue::table_queue::count(&base_at(base_path), table_name)
}
