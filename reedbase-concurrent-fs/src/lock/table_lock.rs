// SPDX-License-Identifier: Apache-2.0
//! A table's lock: opening it, taking it and waiting for it, the guard
//! ([`TableLock`]), and probing it without taking it (is it locked, who
//! holds it). The public functions in the [module above](super) call these.
//!
//! The lock is two `flock`s, taken in this order and released together:
//! `write.lock` (the old module's lock, for exclusion with its processes)
//! and the table directory itself, each on a descriptor opened for this
//! acquisition. After both are taken, the lock file must still be the file
//! named `write.lock` in that directory, and that directory still the one at
//! `<base>/tables/<table>`; if not, both are dropped and the acquisition
//! starts again. See the [module docs](super) for what this protects.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{LockGuard, LockHolder, ReedError, ReedResult, events};

use super::flock::{self, LockFile, Polled, TryLock};
use super::holder;
use super::notify::wait_until;
use crate::no_follow::stat_at;
use crate::tables_dir::TablePaths;
use crate::tables_dir::{BaseDir, Level, tables_dir};

/// The lock file's name in the table directory.
const LOCK_FILE: &str = "write.lock";

/// How often an acquisition starts again, past its deadline, when the lock
/// file keeps being replaced under it, before it gives up with a timeout.
const MAX_LATE_REOPENS: u32 = 3;

/// A held table lock: proof that this process, through this value, has the
/// exclusive write lock of one table.
///
/// Dropping it blanks the holder record and releases both `flock`s; the lock
/// file itself is never deleted. If the process dies instead, the kernel
/// releases them (see the [module docs](super)).
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::LockGuard;
/// use reedbase_concurrent_fs::{acquire_lock, is_locked};
///
/// let dir = tempfile::tempdir()?;
/// {
///     let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
///     assert_eq!(guard.table_name(), "users");
///     assert!(guard.path().ends_with("tables/users/write.lock"));
///     assert!(guard.is_held()?);
/// }
/// assert!(!is_locked(dir.path(), "users")?);
/// assert!(dir.path().join("tables/users/write.lock").exists());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[must_use = "the lock is released as soon as the guard is dropped"]
pub struct TableLock {
    held: Held,
    base: Arc<BaseDir>,
    path: PathBuf,
    table_name: String,
}

impl TableLock {
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

    /// True while the locked `write.lock` is still the file of that name in
    /// the locked directory, and that directory still the one at
    /// `<base>/tables/<table>` (two `fstatat` calls). An operator who
    /// deleted, replaced or hard-linked `write.lock`, or renamed the table
    /// directory, has made this guard unable to exclude every other writer
    /// (an old-module process locks whatever file has that name), so the
    /// coordinator stops with `LockLost`.
    fn is_held(&self) -> ReedResult<bool> {
        self.held.in_place(&self.base, &self.table_name, &self.path)
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        holder::clear_record(&self.held.lock.file);
        self.held.release();
    }
}

/// The descriptors of one acquisition: the table directory and its lock
/// file, opened but not necessarily locked.
#[derive(Debug)]
struct Held {
    dir: File,
    lock: LockFile,
    /// False where the file system cannot lock a directory (NFS): only the
    /// lock file is locked there.
    dir_locked: bool,
}

impl Held {
    /// Opens (creating them as needed) the table directory and `write.lock`.
    fn open(base: &BaseDir, paths: &TablePaths) -> ReedResult<Held> {
        let create = crate::options::Durability::Relaxed;
        let dir = File::from(base.create(paths, Level::Table, create, "create_lock_dir")?);
        let lock = flock::create_lock_file(
            std::os::fd::AsFd::as_fd(&dir),
            LOCK_FILE,
            &paths.lock_file,
            tables_dir(paths),
        )?;
        Ok(Held {
            dir,
            lock,
            dir_locked: false,
        })
    }

    /// One non-blocking attempt at both locks: `Some` when both are taken
    /// (`Some(false)` where the file system cannot lock a directory), `None`
    /// on contention (holding neither).
    fn try_lock(&self, paths: &TablePaths) -> ReedResult<Option<bool>> {
        let locked = flock::try_lock_exclusive(&self.lock.file)
            .map_err(|e| ReedError::io("lock_file", &paths.lock_file, &e))?;
        if locked == TryLock::Contended {
            return Ok(None);
        }
        match flock::try_lock_exclusive(&self.dir) {
            Ok(TryLock::Acquired) => Ok(Some(true)),
            Ok(TryLock::Contended) => {
                let _ = flock::unlock(&self.lock.file);
                Ok(None)
            }
            Err(e) if flock::cannot_lock_directories(&e) => Ok(Some(false)),
            Err(e) => {
                let _ = flock::unlock(&self.lock.file);
                Err(ReedError::io("lock_table_dir", &paths.table_dir, &e))
            }
        }
    }

    /// Whether the locked file is still `write.lock` in the locked
    /// directory, and that directory still the one at the table's path:
    /// the file has one name, it is in our directory, and the path leads
    /// to it.
    fn in_place(&self, base: &BaseDir, table: &str, lock_path: &Path) -> ReedResult<bool> {
        let stat_error = |e| ReedError::io("stat_lock_file", lock_path, &e);
        let in_dir = stat_at(&self.dir, LOCK_FILE).map_err(stat_error)?;
        if !in_dir.is_some_and(|found| found.same_file(&self.lock.facts)) {
            return Ok(false);
        }
        let Some(base_fd) = base.opened() else {
            return Ok(false);
        };
        let relative = Path::new("tables").join(table).join(LOCK_FILE);
        let at_path = stat_at(base_fd, relative).map_err(stat_error)?;
        Ok(at_path.is_some_and(|found| found.same_file(&self.lock.facts) && found.links == 1))
    }

    fn release(&self) {
        // A failed unlock still ends with the close that follows, which
        // releases the flock unless a forked child holds a copy of it.
        let _ = flock::unlock(&self.lock.file);
        if self.dir_locked {
            let _ = flock::unlock(&self.dir);
        }
    }
}

/// Takes the table's lock within `timeout`: `Ok(Err(..))` on a timeout,
/// with the time waited and the handles (to read the holder from).
fn take(
    base: Arc<BaseDir>,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<Result<TableLock, (Duration, Held)>> {
    let start = Instant::now();
    let paths = TablePaths::new(base.path(), table_name)?;
    let mut late_reopens = 0;
    loop {
        let mut held = Held::open(&base, &paths)?;
        let mut prepared = false;
        let polled = wait_until(start, timeout, &held.dir, || {
            let locked = held.try_lock(&paths)?;
            if locked.is_none() && !prepared {
                // Contended: read who we are while the lock is held
                // elsewhere, not after it was handed to us.
                holder::prepare();
                prepared = true;
            }
            Ok(locked)
        })?;
        if let Polled::Ready(dir_locked) = polled {
            held.dir_locked = dir_locked;
        }
        match polled {
            Polled::Ready(_) if held.in_place(&base, table_name, &paths.lock_file)? => {
                holder::write_own_record(&held.lock.file);
                return Ok(Ok(TableLock {
                    held,
                    base,
                    path: paths.lock_file,
                    table_name: table_name.to_string(),
                }));
            }
            // Replaced, deleted or moved between opening and locking: what
            // we locked no longer excludes anyone; start again.
            Polled::Ready(_) => {
                held.release();
                if start.elapsed() >= timeout {
                    late_reopens += 1;
                    if late_reopens > MAX_LATE_REOPENS {
                        return Ok(Err((start.elapsed(), held)));
                    }
                }
            }
            Polled::TimedOut(waited) => return Ok(Err((waited, held))),
        }
    }
}

/// [`acquire_lock`](crate::acquire_lock) on an open base directory.
pub(crate) fn acquire(
    base: Arc<BaseDir>,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<TableLock> {
    take(base, table_name, timeout)?.map_err(|(waited, held)| {
        let holder = holder::holder_in(&held.lock.file).ok();
        tracing::info!(event = events::LOCK_WAIT_TIMED_OUT, table = table_name, waited_ms = events::millis(waited), holder = %events::holder_field(holder.as_ref()), "lock wait timed out");
        ReedError::lock_timeout(table_name, waited).with_holder(holder)
    })
}

/// [`try_acquire_lock`](crate::lock::try_acquire_lock) on an open base directory.
pub(crate) fn try_acquire(base: Arc<BaseDir>, table_name: &str) -> ReedResult<Option<TableLock>> {
    Ok(take(base, table_name, Duration::ZERO)?.ok())
}

/// Who holds the lock, as far as probing tells.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Probed {
    Free,
    /// `write.lock` is locked: by this crate or by the old module.
    ByLockFile,
    /// Only the directory is locked: a holder whose `write.lock` was
    /// deleted or replaced while it held it.
    ByDirectoryOnly,
}

/// The descriptors a probe looks through; `None` for a table that was never
/// locked (nothing is created).
fn open_for_probe(
    base: &BaseDir,
    paths: &TablePaths,
) -> ReedResult<Option<(File, Option<LockFile>)>> {
    let Some(dir) = base.open(paths, Level::Table, "open_lock_file")? else {
        return Ok(None);
    };
    let dir = File::from(dir);
    let lock = flock::existing_lock_file(
        std::os::fd::AsFd::as_fd(&dir),
        LOCK_FILE,
        &paths.lock_file,
        tables_dir(paths),
    )?;
    Ok(Some((dir, lock)))
}

/// Probes both locks with shared, non-blocking `flock`s released at once:
/// they conflict only with a writer's exclusive lock, never with another
/// probe.
fn probe(dir: &File, lock: Option<&LockFile>, paths: &TablePaths) -> ReedResult<Probed> {
    let shared = |file: &File, path: &Path, operation| match flock::try_lock_shared(file) {
        Ok(TryLock::Acquired) => flock::unlock(file)
            .map(|()| false)
            .map_err(|e| ReedError::io("unlock_file", path, &e)),
        Ok(TryLock::Contended) => Ok(true),
        Err(e) if operation == "lock_table_dir" && flock::cannot_lock_directories(&e) => Ok(false),
        Err(e) => Err(ReedError::io(operation, path, &e)),
    };
    if let Some(lock) = lock
        && shared(&lock.file, &paths.lock_file, "lock_file")?
    {
        return Ok(Probed::ByLockFile);
    }
    if shared(dir, &paths.table_dir, "lock_table_dir")? {
        return Ok(Probed::ByDirectoryOnly);
    }
    Ok(Probed::Free)
}

/// [`is_locked`](crate::is_locked) on an open base directory.
pub(crate) fn is_locked(base: &BaseDir, table_name: &str) -> ReedResult<bool> {
    let paths = TablePaths::new(base.path(), table_name)?;
    match open_for_probe(base, &paths)? {
        Some((dir, lock)) => Ok(probe(&dir, lock.as_ref(), &paths)? != Probed::Free),
        None => Ok(false),
    }
}

/// [`wait_for_unlock`](crate::wait_for_unlock) on an open base directory.
pub(crate) fn wait_for_unlock(
    base: &BaseDir,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<()> {
    let start = Instant::now();
    let paths = TablePaths::new(base.path(), table_name)?;
    let Some((dir, lock)) = open_for_probe(base, &paths)? else {
        return Ok(());
    };
    let free = || Ok((probe(&dir, lock.as_ref(), &paths)? == Probed::Free).then_some(()));
    match wait_until(start, timeout, &dir, free)? {
        Polled::Ready(()) => Ok(()),
        Polled::TimedOut(waited) => {
            let holder = lock.and_then(|lock| holder::holder_in(&lock.file).ok());
            tracing::info!(event = events::LOCK_WAIT_TIMED_OUT, table = table_name, waited_ms = events::millis(waited), holder = %events::holder_field(holder.as_ref()), "wait for unlock timed out");
            Err(ReedError::lock_timeout(table_name, waited).with_holder(holder))
        }
    }
}

/// [`lock_holder`](crate::lock_holder) on an open base directory.
pub(crate) fn lock_holder(base: &BaseDir, table_name: &str) -> ReedResult<Option<LockHolder>> {
    let paths = TablePaths::new(base.path(), table_name)?;
    let Some((dir, lock)) = open_for_probe(base, &paths)? else {
        return Ok(None);
    };
    // Probe first, then read: a record read after seeing the lock held is
    // the current holder's or a later one's, never an earlier one's.
    match (probe(&dir, lock.as_ref(), &paths)?, lock) {
        (Probed::Free, _) => Ok(None),
        (Probed::ByLockFile, Some(lock)) => holder::holder_in(&lock.file)
            .map(Some)
            .map_err(|e| ReedError::io("read_lock_file", &paths.lock_file, &e)),
        _ => Ok(Some(LockHolder::unknown())),
    }
}

#[cfg(test)]
#[path = "table_lock_test.rs"]
mod tests;

#[cfg(test)]
#[path = "table_lock_tamper_test.rs"]
mod tamper_tests;
