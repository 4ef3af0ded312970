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
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{LockGuard, LockHolder, ReedError, ReedResult, events};

use super::flock::{self, LockFile, Polled, TryLock};
use super::held::{Existing, Held, LOCK_FILE};
use super::holder;
use super::holding;
use super::notify::wait_until;
use super::turn_wait::{Served, Turn, wait_for_turn};
use crate::no_follow::Stamp;
use crate::tables_dir::TablePaths;
use crate::tables_dir::{BaseDir, Level, tables_dir};

/// How often an acquisition starts again, past its deadline, when the lock
/// file keeps being replaced under it, before it gives up with a timeout.
const MAX_LATE_REOPENS: u32 = 3;

/// A held table lock: proof that this process, through this value, has the
/// exclusive write lock of one table.
///
/// Dropping it releases both `flock`s (the holder record stays behind, no
/// one's once the lock is free) and takes back the turn it was claimed on,
/// if any; the lock file itself is never deleted. If the process dies
/// instead, the kernel releases them (see the [module docs](super)).
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
    /// `None` only while it is dropped.
    held: Option<Box<Held>>,
    /// The claimed turn this lock was taken on, taken back at release
    /// (boxed: rare, and the guard stays small).
    served: Option<Box<Served>>,
    base: Arc<BaseDir>,
    table_name: String,
    /// The table directory's stamp, as the acquisition's check found it
    /// (see [`LockGuard::queue_empty_at_acquisition`]).
    stamp: Option<Stamp>,
}

impl TableLock {
    /// The lock file's path, `<base>/tables/<table>/write.lock`.
    pub fn path(&self) -> &Path {
        self.held
            .as_ref()
            .map_or(Path::new(""), |held| &held.paths.lock_file)
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
    /// `<base>/tables/<table>` (two `statx` calls, identity only). An operator who
    /// deleted, replaced or hard-linked `write.lock`, or renamed the table
    /// directory, has made this guard unable to exclude every other writer
    /// (an old-module process locks whatever file has that name), so the
    /// coordinator stops with `LockLost`.
    fn is_held(&self) -> ReedResult<bool> {
        match &self.held {
            Some(held) => held.in_place(&self.base, &self.table_name, &held.paths.lock_file),
            None => Ok(false),
        }
    }

    /// Always `true`: an acquisition hands out a guard only after the
    /// check [`is_held`](Self::is_held) makes found the lock in place.
    fn checked_at_acquisition(&self) -> bool {
        true
    }

    /// True when the table has no queue directory (so no entry), as the
    /// holder can tell: from the table directory's stamp, asked for by the
    /// acquisition's check after it took the lock, when it is the stamp of
    /// this process's last look for `queue`; else from one `statx` now,
    /// still under the lock. Through a base that follows its path, or on
    /// a file system whose times are not known to move with every change
    /// (a network or FUSE file system), always `false`.
    fn queue_empty_at_acquisition(&self) -> bool {
        self.held
            .as_ref()
            .is_some_and(|held| held.queue_known_empty(&self.base, self.stamp))
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        let Some(held) = self.held.take() else {
            return;
        };
        let turns = self.base.kept().turns();
        if let Some(served) = self.served.take() {
            served.withdraw(&held.lock.file, turns, &self.table_name);
        }
        holding::release((held.lock.facts.dev, held.lock.facts.ino));
        held.release();
        let read = turns.begin_read();
        turns.record(&self.table_name, read, held.announce_release());
        self.base.kept().put(held);
    }
}

/// Takes the table's lock within `timeout`: `Ok(Err(..))` on a timeout,
/// with the time waited and the handles (to read the holder from).
fn take(
    base: Arc<BaseDir>,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<Result<TableLock, (Duration, Box<Held>)>> {
    let start = Instant::now();
    // The name is validated by `TablePaths::new` before anything is
    // opened; a kept pair was opened under a validated name, and only the
    // same name finds it.
    let mut late_reopens = 0;
    loop {
        let mut held = match base.kept().take(table_name) {
            Some(held) => held,
            None => Held::open(&base, &TablePaths::new(base.path(), table_name)?)?,
        };
        let mut prepared = false;
        let turn = Turn {
            held: &held,
            base: &base,
            table: table_name,
        };
        let (polled, served) = wait_for_turn(start, timeout, &turn, || {
            let locked = held.try_lock(&held.paths)?;
            if locked.is_none() && !prepared {
                // Contended: read who we are while the lock is held
                // elsewhere, not after it was handed to us.
                holder::prepare();
                prepared = true;
            }
            Ok(locked)
        })?;
        held.dir_locked = match polled {
            Polled::Ready(dir_locked) => dir_locked,
            Polled::TimedOut(waited) => return Ok(Err((waited, held))),
        };
        let in_place = held.in_place_stamped(&base, &held.paths.lock_file);
        if let Ok(Some(stamp)) = in_place {
            holder::write_own_record(&held.lock.file, held.pid);
            holding::hold((held.lock.facts.dev, held.lock.facts.ino));
            return Ok(Ok(TableLock {
                held: Some(held),
                served: served.map(Box::new),
                base,
                table_name: table_name.to_string(),
                stamp,
            }));
        }
        if let Some(served) = served {
            served.withdraw(&held.lock.file, base.kept().turns(), table_name);
        }
        held.release();
        in_place?;
        // Replaced, deleted or moved between opening and locking: what we
        // locked no longer excludes anyone; start again.
        if start.elapsed() >= timeout {
            late_reopens += 1;
            if late_reopens > MAX_LATE_REOPENS {
                return Ok(Err((start.elapsed(), held)));
            }
        }
    }
}

/// [`acquire_lock`](crate::acquire_lock) on an open base directory.
pub(crate) fn acquire(
    base: Arc<BaseDir>,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<TableLock> {
    let kept = Arc::clone(&base);
    take(base, table_name, timeout)?.map_err(|(waited, held)| {
        let holder = holder::holder_in(&held.lock.file).ok();
        kept.kept().put(held);
        tracing::info!(event = events::LOCK_WAIT_TIMED_OUT, table = table_name, waited_ms = events::millis(waited), holder = %events::holder_field(holder.as_ref()), "lock wait timed out");
        ReedError::lock_timeout(table_name, waited).with_holder(holder)
    })
}

/// `try_acquire_lock_for`: as [`acquire`], with a timeout as `None` and
/// without reading who holds the lock (which costs reads of `/proc`).
pub(crate) fn try_acquire_for(
    base: Arc<BaseDir>,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<Option<TableLock>> {
    let kept = Arc::clone(&base);
    Ok(match take(base, table_name, timeout)? {
        Ok(lock) => Some(lock),
        Err((_, held)) => {
            kept.kept().put(held);
            None
        }
    })
}

/// [`try_acquire_lock`](crate::lock::try_acquire_lock) on an open base directory.
pub(crate) fn try_acquire(base: Arc<BaseDir>, table_name: &str) -> ReedResult<Option<TableLock>> {
    try_acquire_for(base, table_name, Duration::ZERO)
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

/// The descriptors a probe looks through: the kept pair of the table
/// (put back by [`Files::done`]), or files opened for this probe.
enum Files {
    Kept(Box<Held>),
    /// Boxed, so that the common case, a kept pair, is returned in two
    /// words rather than copied as the whole of this.
    Opened(Box<(File, Option<LockFile>, TablePaths)>),
}

impl Files {
    fn dir(&self) -> &File {
        match self {
            Files::Kept(held) => &held.dir,
            Files::Opened(opened) => &opened.0,
        }
    }

    fn lock(&self) -> Option<&LockFile> {
        match self {
            Files::Kept(held) => Some(&held.lock),
            Files::Opened(opened) => opened.1.as_ref(),
        }
    }

    fn paths(&self) -> &TablePaths {
        match self {
            Files::Kept(held) => &held.paths,
            Files::Opened(opened) => &opened.2,
        }
    }

    /// Probes through these files (see [`probe`]).
    fn probe(&self) -> ReedResult<Probed> {
        probe(self.dir(), self.lock(), self.paths())
    }

    fn done(self, base: &BaseDir) {
        if let Files::Kept(held) = self {
            base.kept().put(held);
        }
    }
}

/// The descriptors a probe looks through; `None` for a table that was never
/// locked (nothing is created). A kept pair is used only if still in place.
fn open_for_probe(base: &BaseDir, table: &str) -> ReedResult<Option<Files>> {
    // The name is validated by `TablePaths::new` below; a kept pair was
    // opened under a validated name, and only the same name finds it.
    if let Some(mut held) = base.kept().take(table)
        && held.in_place_for_probe(base)?
    {
        return Ok(Some(Files::Kept(held)));
    }
    let paths = TablePaths::new(base.path(), table)?;
    if base.follows_path() && missing_by_path(base, &paths) {
        return Ok(None);
    }
    let Some(dir) = base.open(&paths, Level::Table, "open_lock_file")? else {
        return Ok(None);
    };
    // Opened as an acquisition opens them, so that the pair is kept for
    // the next probe or acquisition (a process that only probes pays the
    // opening once, not on every call); read-only where this process may
    // not write `write.lock`.
    let dir = match Held::open_existing(File::from(dir), &paths)? {
        Existing::Opened(held) => return Ok(Some(Files::Kept(held))),
        Existing::NoLockFile(dir) => return Ok(Some(Files::Opened(Box::new((dir, None, paths))))),
        Existing::NotWritable(dir) => dir,
    };
    let lock = flock::existing_lock_file(
        std::os::fd::AsFd::as_fd(&dir),
        LOCK_FILE,
        &paths.lock_file,
        tables_dir(&paths),
    )?;
    Ok(Some(Files::Opened(Box::new((dir, lock, paths)))))
}

/// For a base that follows its path: true when nothing is at
/// `<path>/tables/<table>` (one `lstat`, as the old module's failed open
/// of the lock file), and `tables` is a directory as far as the base's
/// last look tells (see `BaseDir::tables_in_place_by_path`). Anything else
/// (a path that is not a directory on the way, say) is left to the full
/// opening, which reports it.
fn missing_by_path(base: &BaseDir, paths: &TablePaths) -> bool {
    let missing = matches!(
        rustix::fs::statat(
            rustix::fs::CWD,
            &paths.table_dir,
            rustix::fs::AtFlags::SYMLINK_NOFOLLOW
        ),
        Err(rustix::io::Errno::NOENT)
    );
    missing && base.tables_in_place_by_path()
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
    let Some(files) = open_for_probe(base, table_name)? else {
        return Ok(false);
    };
    let probed = files.probe();
    files.done(base);
    Ok(probed? != Probed::Free)
}

/// [`wait_for_unlock`](crate::wait_for_unlock) on an open base directory.
pub(crate) fn wait_for_unlock(
    base: &BaseDir,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<()> {
    let start = Instant::now();
    let Some(files) = open_for_probe(base, table_name)? else {
        return Ok(());
    };
    let free = || Ok((files.probe()? == Probed::Free).then_some(()));
    let waited = wait_until(start, timeout, files.dir(), free);
    let outcome = match waited {
        Ok(Polled::Ready(())) => Ok(()),
        Ok(Polled::TimedOut(waited)) => {
            let holder = files
                .lock()
                .and_then(|lock| holder::holder_in(&lock.file).ok());
            tracing::info!(event = events::LOCK_WAIT_TIMED_OUT, table = table_name, waited_ms = events::millis(waited), holder = %events::holder_field(holder.as_ref()), "wait for unlock timed out");
            Err(ReedError::lock_timeout(table_name, waited).with_holder(holder))
        }
        Err(error) => Err(error),
    };
    files.done(base);
    outcome
}

/// [`lock_holder`](crate::lock_holder) on an open base directory.
pub(crate) fn lock_holder(base: &BaseDir, table_name: &str) -> ReedResult<Option<LockHolder>> {
    let Some(files) = open_for_probe(base, table_name)? else {
        return Ok(None);
    };
    // Probe first, then read: a record read after seeing the lock held is
    // the current holder's or a later one's, never an earlier one's.
    let found = match (files.probe(), files.lock()) {
        (Err(error), _) => Err(error),
        (Ok(Probed::Free), _) => Ok(None),
        (Ok(Probed::ByLockFile), Some(lock)) => holder::holder_in(&lock.file)
            .map(Some)
            .map_err(|e| ReedError::io("read_lock_file", &files.paths().lock_file, &e)),
        _ => Ok(Some(LockHolder::unknown())),
    };
    files.done(base);
    found
}

#[cfg(test)]
#[path = "table_lock_test.rs"]
mod tests;

#[cfg(test)]
#[path = "table_lock_tamper_test.rs"]
mod tamper_tests;
