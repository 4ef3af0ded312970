// SPDX-License-Identifier: Apache-2.0
//! The old module's table locks: an `fs2` exclusive lock on
//! `<base>/tables/<table_name>/write.lock`, taken by polling every 100 ms.
//!
//! Reproduced flaws: `table_name` is joined with `Path::join` unchecked (so
//! `..` and absolute names escape the base directory); any error of the
//! try-lock, not only contention, counts as "held" and is retried until the
//! timeout; the timeout reports whole seconds of the timeout asked for, not
//! the time waited; a waiter notices a release only at its next 100 ms poll.

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, Instant};

use crate::error::{ReedError, ReedResult};

/// How long a waiter sleeps between two attempts.
const POLL_INTERVAL: Duration = Duration::from_millis(100);

/// A held table lock; dropping it unlocks the file.
///
/// The lock file is never deleted and holds no information about the holder.
#[derive(Debug)]
pub struct TableLock {
    file: File,
    path: PathBuf,
    table_name: String,
}

impl TableLock {
    /// The lock file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The table's name, as given to [`acquire_lock`].
    pub fn table_name(&self) -> &str {
        &self.table_name
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        let _ = fs2::FileExt::unlock(&self.file);
    }
}

/// The lock file of a table: `<base>/tables/<table_name>/write.lock`.
fn lock_path(base_path: &Path, table_name: &str) -> PathBuf {
    base_path.join("tables").join(table_name).join("write.lock")
}

/// Takes the exclusive lock of `table_name`, polling every 100 ms for at
/// most `timeout`.
///
/// Creates the table directory and the lock file if needed.
///
/// # Errors
///
/// - `IoError` `create_lock_dir` or `create_lock_file` when the directory or
///   the file cannot be created or opened;
/// - `LockTimeout` with `timeout_secs = timeout.as_secs()` when the try-lock
///   still fails (for whatever reason) after `timeout`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_last::concurrent::{acquire_lock, is_locked};
///
/// let dir = tempfile::tempdir()?;
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// assert!(is_locked(dir.path(), "users")?);
/// drop(guard);
/// assert!(!is_locked(dir.path(), "users")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn acquire_lock(
    base_path: &Path,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<TableLock> {
    let table_dir = base_path.join("tables").join(table_name);
    fs::create_dir_all(&table_dir).map_err(|e| ReedError::IoError {
        operation: "create_lock_dir".to_string(),
        reason: e.to_string(),
    })?;

    let path = lock_path(base_path, table_name);
    let file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(&path)
        .map_err(|e| ReedError::IoError {
            operation: "create_lock_file".to_string(),
            reason: e.to_string(),
        })?;

    let start = Instant::now();
    loop {
        match fs2::FileExt::try_lock_exclusive(&file) {
            Ok(()) => {
                return Ok(TableLock {
                    file,
                    path,
                    table_name: table_name.to_string(),
                });
            }
            Err(_) => {
                if start.elapsed() < timeout {
                    thread::sleep(POLL_INTERVAL);
                } else {
                    return Err(ReedError::LockTimeout {
                        table: table_name.to_string(),
                        timeout_secs: timeout.as_secs(),
                    });
                }
            }
        }
    }
}

/// Tells whether some holder has the lock of `table_name`.
///
/// Opens the lock file read-only (never creating it); if that fails for any
/// reason, the answer is `false`. Otherwise tries the exclusive lock:
/// success means free (the lock is released at once), failure means held.
///
/// # Errors
///
/// None in practice; the `Result` is the old module's signature.
///
/// # Examples
///
/// ```
/// use reedbase_last::concurrent::is_locked;
///
/// let dir = tempfile::tempdir()?;
/// assert!(!is_locked(dir.path(), "never_locked")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn is_locked(base_path: &Path, table_name: &str) -> ReedResult<bool> {
    let file = match File::open(lock_path(base_path, table_name)) {
        Ok(file) => file,
        Err(_) => return Ok(false),
    };
    match fs2::FileExt::try_lock_exclusive(&file) {
        Ok(()) => {
            let _ = fs2::FileExt::unlock(&file);
            Ok(false)
        }
        Err(_) => Ok(true),
    }
}

/// Waits, polling [`is_locked`] every 100 ms, until the lock of
/// `table_name` is free, for at most `timeout`. Does not take the lock.
///
/// # Errors
///
/// `LockTimeout` with `timeout_secs = timeout.as_secs()` when the lock is
/// still held after `timeout`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_last::concurrent::wait_for_unlock;
///
/// let dir = tempfile::tempdir()?;
/// wait_for_unlock(dir.path(), "users", Duration::from_millis(200))?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wait_for_unlock(base_path: &Path, table_name: &str, timeout: Duration) -> ReedResult<()> {
    let start = Instant::now();
    while is_locked(base_path, table_name)? {
        if start.elapsed() >= timeout {
            return Err(ReedError::LockTimeout {
                table: table_name.to_string(),
                timeout_secs: timeout.as_secs(),
            });
        }
        thread::sleep(POLL_INTERVAL);
    }
    Ok(())
}

#[cfg(test)]
#[path = "lock_test.rs"]
mod tests;
