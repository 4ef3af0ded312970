// SPDX-License-Identifier: Apache-2.0
//! Looking at a lock without taking it: [`is_locked`] and
//! [`wait_for_unlock`].

use std::fs::File;
use std::path::Path;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{ReedError, ReedResult};

use super::flock::{self, TryLock};
use super::open::open_existing;
use super::wait::{Polled, poll_until};
use crate::paths::TablePaths;

/// Tells whether some holder, in this or another process, has the lock of
/// `table_name` at this instant.
///
/// Opens the lock file read-only and tries a *shared* lock on it: that
/// conflicts only with a writer's exclusive lock, so two probes never see
/// each other as holders (the old module probed with an exclusive lock, so
/// two simultaneous probes could each report the other). A probe that
/// succeeds is released at once. The answer may be stale by the time it is
/// read; use it for diagnostics, not to decide to write.
///
/// Never creates a file or a directory: a missing lock file or table
/// directory means "not locked".
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`] for a bad name, before anything is
///   touched;
/// - [`ReedError::IoError`] `open_lock_file` (with its kind) when the lock
///   file exists but cannot be opened, or a path above it is not a
///   directory. The old module answered `false` here; an error tells the
///   caller that nothing is known;
/// - [`ReedError::IoError`] `lock_file` when the probe fails other than by
///   contention.
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
    let paths = TablePaths::new(base_path, table_name)?;
    match open_existing(&paths)? {
        Some(file) => probe_held(&file, &paths.lock_file),
        None => Ok(false),
    }
}

/// Waits until the lock of `table_name` is free, without taking it, for at
/// most `timeout`.
///
/// Returns at once when the lock is free (or the table was never locked).
/// Otherwise it probes as [`is_locked`] does, on one descriptor opened once,
/// with the same back-off as [`acquire_lock`](super::acquire_lock), so a
/// release is noticed as promptly. The lock may be taken again by someone
/// else before the caller acts.
///
/// # Errors
///
/// - [`ReedError::LockTimeout`] carrying the time really waited when the
///   lock is still held after `timeout`;
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
    let start = Instant::now();
    let paths = TablePaths::new(base_path, table_name)?;
    let Some(file) = open_existing(&paths)? else {
        return Ok(());
    };
    let free = || Ok((!probe_held(&file, &paths.lock_file)?).then_some(()));
    match poll_until(start, timeout, free)? {
        Polled::Ready(()) => Ok(()),
        Polled::TimedOut(waited) => Err(ReedError::lock_timeout(table_name, waited).with_holder(
            super::holder::lock_holder(base_path, table_name)
                .ok()
                .flatten(),
        )),
    }
}

/// Whether an exclusive lock is held on `file` by another open file
/// description, probed with a shared lock that is released at once.
pub(crate) fn probe_held(file: &File, path: &Path) -> ReedResult<bool> {
    match flock::try_lock_shared(file) {
        Ok(TryLock::Acquired) => {
            flock::unlock(file).map_err(|error| ReedError::io("unlock_file", path, &error))?;
            Ok(false)
        }
        Ok(TryLock::Contended) => Ok(true),
        Err(error) => Err(ReedError::io("lock_file", path, &error)),
    }
}
