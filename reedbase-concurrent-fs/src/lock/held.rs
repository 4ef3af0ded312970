// SPDX-License-Identifier: Apache-2.0
//! The descriptors of a table's lock: the table directory and its
//! `write.lock`, opened without following a link and checked once, then
//! kept by the process between acquisitions ([`KeptLocks`]).
//!
//! A kept pair is never shared: an acquisition or a probe takes it out of
//! the pool and puts it back when done, so two acquisitions in one process
//! always lock two open file descriptions and exclude each other as two
//! processes do. Before a kept pair is trusted again, [`Held::in_place`]
//! checks with two `statx` calls (identity only) that `tables/<table>` is the kept
//! directory (not a link) and that `write.lock` in it is the kept file with
//! one name, and, at most [`TABLES_CHECK`] after the last look, that
//! `tables` is a directory (not a link); a pair that fails is closed and
//! the acquisition opens the files afresh, as the first one did.

use std::collections::VecDeque;
use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStringExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reedbase_concurrent_core::{ReedError, ReedResult};

use super::flock::{self, LockFile, TryLock};
use super::turn_record::{Claims, read_claims};
use super::turns_seen::TurnsSeen;
use crate::no_follow::{
    Facts, Found, Stamp, facts_of, identity_and_stamp_at, identity_at, is_local,
};
use crate::queue::kept_queue::KeptQueues;
use crate::tables_dir::{BaseDir, Level, TablePaths, tables_dir};

/// The lock file's name in the table directory.
pub(crate) const LOCK_FILE: &str = "write.lock";

/// [`LOCK_FILE`] as the kernel takes it, for the check made on every
/// acquisition and probe.
const LOCK_FILE_C: &CStr = c"write.lock";

/// The queue directory's name in the table directory.
const QUEUE_DIR_C: &CStr = c"queue";

/// How long a look at `<base>/tables` (a directory, not a link) is
/// trusted: a `tables` replaced by a link to where the kept directories
/// were moved is noticed within this time. Exclusion does not depend on
/// it (the lock file checked is the one every locker finds), only where a
/// holder record may be written.
const TABLES_CHECK: Duration = Duration::from_millis(50);

/// How many idle pairs one base directory keeps (two descriptors each);
/// beyond this the least recently used is closed.
const MAX_IDLE: usize = 16;

/// What [`Held::open_existing`] found.
#[derive(Debug)]
pub(crate) enum Existing {
    /// The pair, opened as an acquisition opens it.
    Opened(Box<Held>),
    /// The table directory holds no `write.lock`.
    NoLockFile(File),
    /// `write.lock` cannot be opened for writing by this process.
    NotWritable(File),
}

/// The descriptors of one table's lock, opened but not necessarily locked.
#[derive(Debug)]
pub(crate) struct Held {
    pub(crate) dir: File,
    pub(crate) lock: LockFile,
    /// False where the file system cannot lock a directory (NFS): only the
    /// lock file is locked there.
    pub(crate) dir_locked: bool,
    /// The table's paths (for errors and the next opening).
    pub(crate) paths: TablePaths,
    /// What `fstat` said of the directory when it was opened.
    dir_facts: Facts,
    /// The table's name.
    table: String,
    /// `tables/<table>`, relative to the base directory, and
    /// `<base>/tables/<table>`, as the kernel takes them: made once, so
    /// that the checks of [`Held::in_place`] copy no path.
    relative: CString,
    table_dir: CString,
    /// The process that opened them (a forked child does not use them).
    pub(crate) pid: u32,
    /// What this process's last look for `queue` in the table directory
    /// found, with the directory's stamp then (see [`Held::queue_missing`]).
    queue_look: Mutex<Option<QueueLook>>,
    /// The table directory's stamp at the last look of a probe that found
    /// `write.lock` in place, settled at that look (see
    /// [`Held::in_place_for_probe`]).
    probed: Option<Stamp>,
    /// Whether this file system's times can be trusted (see
    /// [`KeptLocks::stamps_trusted`]), once a probe asked.
    stamps_trusted: Option<bool>,
}

/// A queue directory found without an entry (see
/// [`KeptLocks::note_empty_queue`]).
#[derive(Debug)]
struct EmptyQueue {
    table: String,
    key: (u64, u64),
    stamp: Stamp,
}

/// What a look for the queue directory found, with the table directory's
/// [`Stamp`] at the time: trusted again, without a look, while the stamp
/// is unchanged.
#[derive(Debug, Clone, Copy)]
struct QueueLook {
    stamp: Stamp,
    queue: bool,
}

#[cfg(test)]
thread_local! {
    /// How many looks at `write.lock` this thread's checks of kept pairs
    /// made.
    pub(crate) static LOCK_LOOKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl Held {
    /// Opens (creating them as needed) the table directory and `write.lock`.
    pub(crate) fn open(base: &BaseDir, paths: &TablePaths) -> ReedResult<Box<Held>> {
        let create = crate::options::Durability::Relaxed;
        let dir = File::from(base.create(paths, Level::Table, create, "create_lock_dir")?);
        let lock =
            flock::create_lock_file(dir.as_fd(), LOCK_FILE, &paths.lock_file, tables_dir(paths))?;
        Held::of(dir, lock, paths, "create_lock_dir")
    }

    /// Opens `write.lock` for reading and writing in the already opened
    /// table directory `dir`, creating nothing. A probe keeps what this
    /// gives; the directory comes back when there is no `write.lock`, or
    /// when this process may not open it for writing (permissions, a
    /// read-only file system), for the probe to open it read-only. Other
    /// failures (a link, a FIFO) as [`flock::create_lock_file`] reports them.
    pub(crate) fn open_existing(dir: File, paths: &TablePaths) -> ReedResult<Existing> {
        let opened =
            flock::writable_lock_file(dir.as_fd(), LOCK_FILE, &paths.lock_file, tables_dir(paths));
        match opened {
            Ok(Some(lock)) => Held::of(dir, lock, paths, "open_lock_file").map(Existing::Opened),
            Ok(None) => Ok(Existing::NoLockFile(dir)),
            Err(ReedError::IoError {
                kind: std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem,
                ..
            }) => Ok(Existing::NotWritable(dir)),
            Err(error) => Err(error),
        }
    }

    fn of(
        dir: File,
        lock: LockFile,
        paths: &TablePaths,
        operation: &'static str,
    ) -> ReedResult<Box<Held>> {
        let dir_facts =
            facts_of(&dir).map_err(|e| ReedError::io(operation, &paths.table_dir, &e))?;
        let table = paths.table_dir.file_name().unwrap_or_default();
        // A validated table name and the base's path hold no NUL byte.
        let c_path = |path: PathBuf| {
            CString::new(path.into_os_string().into_vec())
                .map_err(|e| ReedError::io(operation, &paths.table_dir, &e.into()))
        };
        Ok(Box::new(Held {
            dir,
            lock,
            dir_locked: false,
            paths: paths.clone(),
            dir_facts,
            table: table.to_string_lossy().into_owned(),
            relative: c_path(Path::new("tables").join(table))?,
            table_dir: c_path(paths.table_dir.clone())?,
            pid: std::process::id(),
            queue_look: Mutex::new(None),
            probed: None,
            stamps_trusted: None,
        }))
    }

    /// One non-blocking attempt at both locks: `Some` when both are taken
    /// (`Some(false)` where the file system cannot lock a directory), `None`
    /// on contention (holding neither).
    pub(crate) fn try_lock(&self, paths: &TablePaths) -> ReedResult<Option<bool>> {
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

    /// Whether the kept files are still the table's: `tables` a directory
    /// (not a link), `tables/<table>` the kept directory (not a link), and
    /// `write.lock` in it the kept file, with one name.
    pub(crate) fn in_place(
        &self,
        base: &BaseDir,
        _table: &str,
        lock_path: &Path,
    ) -> ReedResult<bool> {
        self.check_in_place(base, lock_path, None)
    }

    /// [`in_place`](Self::in_place) for an acquisition that has just taken
    /// the lock: the same two `statx` calls, the table directory's also
    /// asking for its [`Stamp`] where this file system's times can be
    /// trusted (see [`KeptLocks::stamps_trusted`]; never through a base
    /// that follows its path); `Ok(None)` when the files are not in place.
    pub(crate) fn in_place_stamped(
        &self,
        base: &BaseDir,
        lock_path: &Path,
    ) -> ReedResult<Option<Option<Stamp>>> {
        let mut stamp = None;
        let trusted = !base.follows_path()
            && base
                .kept()
                .stamps_trusted(self.dir.as_fd(), self.dir_facts.dev);
        let wanted = trusted.then_some(&mut stamp);
        Ok(self
            .check_in_place(base, lock_path, wanted)?
            .then_some(stamp))
    }

    /// [`in_place`](Self::in_place) for a probe (`is_locked`,
    /// `wait_for_unlock`, `lock_holder`), which takes and drops shared
    /// locks and writes nothing: the look at `write.lock` is made once per
    /// change of the table directory. The identity check of the table
    /// directory also asks for its [`Stamp`], and while the stamp is the one
    /// of a look that found `write.lock` in place (settled at that look, on
    /// a file system whose times can be trusted, see
    /// [`KeptLocks::stamps_trusted`]), no name in the directory was made,
    /// removed or renamed since: `write.lock` is still the kept file. A
    /// second name given to it elsewhere meanwhile is not seen here; the
    /// next acquisition, which looks every time, refuses it.
    pub(crate) fn in_place_for_probe(&mut self, base: &BaseDir) -> ReedResult<bool> {
        let trusted = *self.stamps_trusted.get_or_insert_with(|| {
            base.kept()
                .stamps_trusted(self.dir.as_fd(), self.dir_facts.dev)
        });
        let lock_path = self.paths.lock_file.as_path();
        if !trusted {
            return self.check_in_place(base, lock_path, None);
        }
        // Taken before the stamp: see `Stamp::settled_before`.
        let look = SystemTime::now();
        let Some(stamp) = self.dir_in_place(base, lock_path, true)? else {
            return Ok(false);
        };
        if stamp.is_some() && stamp == self.probed {
            return Ok(true);
        }
        let in_place = self.lock_in_place(lock_path)?;
        self.probed = stamp.filter(|seen| in_place && seen.settled_before(look));
        Ok(in_place)
    }

    /// See [`in_place`](Self::in_place); with `stamp`, fills it with the
    /// table directory's [`Stamp`].
    fn check_in_place(
        &self,
        base: &BaseDir,
        lock_path: &Path,
        stamp: Option<&mut Option<Stamp>>,
    ) -> ReedResult<bool> {
        let Some(seen) = self.dir_in_place(base, lock_path, stamp.is_some())? else {
            return Ok(false);
        };
        if let Some(stamp) = stamp {
            *stamp = seen;
        }
        self.lock_in_place(lock_path)
    }

    /// Whether `tables` is a directory (not a link) and `tables/<table>`
    /// the kept directory (for a base that follows its path,
    /// `<path>/tables/<table>`, the last step not followed): `None` if not,
    /// else the directory's [`Stamp`] when `stamp` asks for it and the file
    /// system reports it.
    fn dir_in_place(
        &self,
        base: &BaseDir,
        lock_path: &Path,
        stamp: bool,
    ) -> ReedResult<Option<Option<Stamp>>> {
        let stat_error = |e| ReedError::io("stat_lock_file", lock_path, &e);
        let (at, name) = if base.follows_path() {
            if !base.tables_in_place_by_path() {
                return Ok(None);
            }
            (rustix::fs::CWD, self.table_dir.as_c_str())
        } else {
            let Some(base_fd) = base.opened() else {
                return Ok(None);
            };
            if !base.tables_in_place_through(base_fd).map_err(stat_error)? {
                return Ok(None);
            }
            (base_fd, self.relative.as_c_str())
        };
        let found = match stamp {
            true => identity_and_stamp_at(at, name),
            false => identity_at(at, name).map(|found| found.map(|found| (found, None))),
        };
        match found {
            // For a base that follows its path a failure is a no, as the
            // old module's failed open of the path was.
            Ok(Some((found, seen))) if found.is(&self.dir_facts) => Ok(Some(seen)),
            Ok(_) => Ok(None),
            Err(_) if base.follows_path() => Ok(None),
            Err(e) => Err(stat_error(e)),
        }
    }

    /// Whether `write.lock` in the kept directory is the kept file, with
    /// one name.
    fn lock_in_place(&self, lock_path: &Path) -> ReedResult<bool> {
        #[cfg(test)]
        LOCK_LOOKS.with(|looks| looks.set(looks.get() + 1));
        // Its identity only: asking for its times would make the holder
        // record's next `pwrite` update the inode (see `identity_at`).
        let lock = identity_at(&self.dir, LOCK_FILE_C)
            .map_err(|e| ReedError::io("stat_lock_file", lock_path, &e))?;
        Ok(lock.is_some_and(|found| found.is(&self.lock.facts) && found.links == 1))
    }

    /// Whether the table's queue directory is missing, for the holder of
    /// a lock whose acquisition found the table directory's stamp `stamp`
    /// ([`in_place_stamped`](Self::in_place_stamped)). No entry can be
    /// pending without one, and `queue` can only be made in the table
    /// directory, which moves its stamp.
    ///
    /// Told without a system call when the stamp is the one of this
    /// process's last look; otherwise one `statx` of `queue` (identity only)
    /// tells, and the answer is kept with the stamp if the directory's last
    /// change was at least [`Stamp::SETTLE`] before the look (a change made
    /// after it then moves the stamp however coarse the clock). `false`
    /// when it cannot be told: no stamp, a failed look, or anything named
    /// `queue` (a link or a file in its place is for the fetch to refuse).
    pub(crate) fn queue_missing(&self, stamp: Option<Stamp>) -> bool {
        let Some(stamp) = stamp else {
            return false;
        };
        let mut kept = self
            .queue_look
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(look) = *kept
            && look.stamp == stamp
        {
            return !look.queue;
        }
        let looked_at = SystemTime::now();
        let Ok(found) = identity_at(&self.dir, QUEUE_DIR_C) else {
            *kept = None;
            return false;
        };
        let queue = found.is_some();
        *kept = stamp
            .settled_before(looked_at)
            .then_some(QueueLook { stamp, queue });
        !queue
    }

    /// Whether the holder can tell that no entry of the table is queued:
    /// no queue directory ([`queue_missing`](Self::queue_missing)), or a
    /// queue directory that a consumer of this process found without an
    /// entry and whose stamp has not moved since (one `statx` of `queue`,
    /// made only when there is such a note; see
    /// [`KeptLocks::note_empty_queue`]). `false` without a stamp of the
    /// table directory (a file system whose times are not trusted, a base
    /// that follows its path).
    pub(crate) fn queue_known_empty(&self, base: &BaseDir, stamp: Option<Stamp>) -> bool {
        if stamp.is_none() {
            return false;
        }
        if self.queue_missing(stamp) {
            return true;
        }
        let kept = base.kept();
        if !kept.has_empty_queue_note(&self.table) {
            return false;
        }
        match identity_and_stamp_at(&self.dir, QUEUE_DIR_C) {
            Ok(Some((found, Some(queue)))) if found.found == Found::Directory => {
                kept.queue_still_empty(&self.table, (found.dev, found.ino), queue)
            }
            _ => false,
        }
    }

    /// Releases both locks (what is not held is left as it is).
    pub(crate) fn release(&self) {
        // A failed unlock still ends with a close, which releases the flock
        // unless a forked child holds a copy of it.
        let _ = flock::unlock(&self.lock.file);
        if self.dir_locked {
            let _ = flock::unlock(&self.dir);
        }
    }

    /// Tells waiters that the lock was released, and returns the turns
    /// claimed: kept open, `write.lock` is not closed, so a read of its
    /// claim slots (see `turn_record`) makes the `IN_ACCESS` event their
    /// watches wake on (see `notify`). Best effort: no claim is returned
    /// when the read fails.
    pub(crate) fn announce_release(&self) -> Claims {
        read_claims(&self.lock.file).unwrap_or_default()
    }
}

/// The idle lock descriptors of one base directory, at most [`MAX_IDLE`],
/// least recently used first.
#[derive(Debug, Default)]
pub(crate) struct KeptLocks {
    /// Boxed: a pair moves in and out of here on every acquisition and
    /// probe, and moving the whole record cost more than the rest of a probe's
    /// bookkeeping.
    idle: Mutex<VecDeque<Box<Held>>>,
    /// When `tables` must be looked at again ([`TABLES_CHECK`] after it
    /// was last seen to be a directory); `None` before the first look.
    tables_due: Mutex<Option<Instant>>,
    /// The kept queue directories, for removals.
    queues: KeptQueues,
    /// Whether the file system of each device seen sets its own times
    /// (see [`KeptLocks::stamps_trusted`]).
    local_devices: Mutex<Vec<(u64, bool)>>,
    /// Queue directories a consumer of this process found without an
    /// entry, by table (see [`KeptLocks::note_empty_queue`]).
    empty_queues: Mutex<VecDeque<EmptyQueue>>,
    /// The claimed turns this process knows of.
    turns: TurnsSeen,
}

impl KeptLocks {
    /// Takes the idle pair of the (validated) table out of the pool, if
    /// there is one opened by this process.
    pub(crate) fn take(&self, table: &str) -> Option<Box<Held>> {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.is_empty() {
            return None;
        }
        let at = idle.iter().position(|held| held.table == table)?;
        // Asked only on a hit, so that a probe of a table without a kept
        // pair (a lock file that does not exist) makes no `getpid`.
        let pid = std::process::id();
        if idle[at].pid != pid {
            // Inherited from a parent process: its locks, never ours to use.
            idle.retain(|held| held.pid == pid);
            return None;
        }
        idle.remove(at)
    }

    /// Puts an unlocked pair, taken or opened by this process, back for the
    /// next acquisition or probe.
    pub(crate) fn put(&self, held: Box<Held>) {
        let mut idle = self.idle.lock().unwrap_or_else(PoisonError::into_inner);
        if idle.len() >= MAX_IDLE {
            idle.pop_front();
        }
        idle.push_back(held);
    }

    /// The kept queue directories of the same base directory.
    pub(crate) fn queues(&self) -> &KeptQueues {
        &self.queues
    }

    /// The claimed turns at the locks of this base directory that this
    /// process knows of.
    pub(crate) fn turns(&self) -> &TurnsSeen {
        &self.turns
    }

    /// Whether the times of directories on device `dev` (of which `dir`
    /// is one) move with every change of their entries: a local file
    /// system that this kernel stamps (see `no_follow::is_local`). Asked of
    /// the file system once per device and base directory.
    pub(crate) fn stamps_trusted(&self, dir: BorrowedFd<'_>, dev: u64) -> bool {
        let mut known = self
            .local_devices
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(&(_, local)) = known.iter().find(|(seen, _)| *seen == dev) {
            return local;
        }
        let local = is_local(dir);
        known.push((dev, local));
        local
    }

    /// Notes that a consumer found the queue directory of `table` (device
    /// and inode `key`) without an entry, having taken its stamp `stamp`
    /// at `seen_at`, before it read the directory: while the directory's
    /// stamp stays `stamp`, no entry has arrived since (every name made or
    /// renamed in it moves the stamp). Kept only if the directory's last
    /// change was at least [`Stamp::SETTLE`] before `seen_at`, so that a
    /// later change moves it however coarse the clock; otherwise any note
    /// of the table is dropped. At most [`MAX_IDLE`] tables are noted.
    pub(crate) fn note_empty_queue(
        &self,
        table: &str,
        key: (u64, u64),
        stamp: Stamp,
        seen_at: SystemTime,
    ) {
        let mut noted = self
            .empty_queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        noted.retain(|empty| empty.table != table);
        if stamp.settled_before(seen_at) {
            if noted.len() >= MAX_IDLE {
                noted.pop_front();
            }
            noted.push_back(EmptyQueue {
                table: table.to_string(),
                key,
                stamp,
            });
        }
    }

    /// Whether `table`'s queue directory was noted empty
    /// ([`note_empty_queue`](Self::note_empty_queue)), so that a look at
    /// its stamp may tell it still is.
    pub(crate) fn has_empty_queue_note(&self, table: &str) -> bool {
        self.empty_queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|empty| empty.table == table)
    }

    /// Whether the queue directory of `table`, now device and inode `key`
    /// with stamp `stamp`, is the one noted empty and unchanged since; a
    /// note that no longer holds is dropped.
    pub(crate) fn queue_still_empty(&self, table: &str, key: (u64, u64), stamp: Stamp) -> bool {
        let mut noted = self
            .empty_queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(at) = noted.iter().position(|empty| empty.table == table) else {
            return false;
        };
        if noted[at].key == key && noted[at].stamp == stamp {
            return true;
        }
        noted.remove(at);
        false
    }

    /// Whether `tables` must be looked at again ([`TABLES_CHECK`]).
    pub(crate) fn tables_check_due(&self) -> bool {
        let due = self
            .tables_due
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        due.is_none_or(|due| Instant::now() >= due)
    }

    /// Notes that `tables` was just seen to be a directory.
    pub(crate) fn tables_checked(&self) {
        *self
            .tables_due
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now() + TABLES_CHECK);
    }

    /// Closes every idle pair and every kept queue directory.
    pub(crate) fn close_idle(&self) {
        let closed = std::mem::take(&mut *self.idle.lock().unwrap_or_else(PoisonError::into_inner));
        drop(closed);
        self.queues.close_idle();
    }

    /// How many pairs are idle (for tests).
    #[cfg(test)]
    pub(crate) fn idle(&self) -> usize {
        self.idle
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
