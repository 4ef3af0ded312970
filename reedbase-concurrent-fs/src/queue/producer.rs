// SPDX-License-Identifier: Apache-2.0
//! The write path: one entry into the queue.
//!
//! First, without any lock, the entry is written to a temporary of its own
//! (`.incoming-<uuid>.tmp`, created exclusively, held under an exclusive
//! `flock` of its descriptor while it exists) and, when durable, fsynced.
//! Then, under the producers' lock: learn the count and the highest
//! sequence, from the process's watch of the directory when it knows them
//! (see `watch`), else from a listing (count the entries, find the highest
//! sequence number, sweep abandoned temporaries, set aside entries whose
//! sequence no producer writes; a listing during which no entry arrived
//! gives the watch its counts); check the capacity and rename the temporary
//! to `<id>.pending`. After the lock is released, when durable, the
//! directory is fsynced and only then is the write acknowledged.
//!
//! So the lock is held for a rename (and a listing when the watch cannot
//! say), never for writing or fsyncing: a slow disk makes each producer
//! slower, not every producer wait for the slowest, and producers' fsyncs
//! run side by side. A temporary's `flock` tells a live producer's from an
//! abandoned one: the kernel drops it when its producer dies, and a sweep
//! deletes only temporaries it can lock itself (while holding that lock, so
//! their producer cannot be between creating and locking them unnoticed: a
//! producer whose temporary was swept finds it gone at the rename and
//! writes it again).
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reedbase_concurrent_core::{ReedError, ReedResult, events};
use rustix::fs::AtFlags;

use super::consumer::beyond_producers;
use super::corrupt::{move_aside, note_stuck};
use super::entry_id::{
    self, MAX_WRITTEN_SEQUENCE, QUEUE_LOCK_FILE, is_beyond_producers, is_temporary, parse_sequence,
    pending_file_name, pending_stem, temporary_file_name,
};
use super::watch::{self, Counts, DirKey};
use crate::lock::flock::{self, Backoff, LockFile, TryLock};
use crate::no_follow::for_each_name;
use crate::no_follow::{Found, Opened, create_new, facts_of, open_regular};
use crate::options::{Durability, FsOptions};
use crate::tables_dir::TablePaths;
use crate::tables_dir::{BaseDir, Level, sync_dir, tables_dir};

/// How much longer than [`FsOptions::queue_lock_timeout`] a producer waits
/// in all while other producers keep writing (entries keep arriving, see
/// [`Progress`]) before it gives up.
const PATIENCE_WHILE_OTHERS_WRITE: u32 = 8;

/// What a producer learns from one listing of the queue directory.
#[derive(Debug, Default)]
struct Scan {
    pending: usize,
    highest_sequence: Option<u128>,
    temporaries: Vec<OsString>,
    beyond: Vec<(OsString, String, u128)>,
}

/// How many times a producer writes its entry again when its temporary was
/// deleted under it (by a producer of an older release, which sweeps
/// every temporary it sees, or by hand) before it gives up.
const WRITE_ATTEMPTS: usize = 3;

/// How long the watch may count temporaries before a producer lists the
/// directory to sweep the abandoned ones among them. A live producer's
/// temporary exists for the time of a write and an fsync; one that is
/// older belongs to a producer that died, or to one whose disk is very
/// slow, which the sweep leaves alone (its `flock` is still held).
const STALE_TEMPORARY: Duration = if cfg!(test) {
    Duration::from_millis(100)
} else {
    Duration::from_secs(1)
};

/// Writes `bytes` as a new entry of the table's queue and returns its id.
///
/// # Errors
///
/// See [`queue_write_with`](super::queue_write_with).
pub(crate) fn enqueue(
    base: &BaseDir,
    paths: &TablePaths,
    table_name: &str,
    bytes: &[u8],
    options: &FsOptions,
) -> ReedResult<String> {
    let mut attempt = 1;
    let mut check_full_first = options.watch_queues;
    loop {
        // Opened anew for each attempt: a listing reads the directory from
        // the descriptor's position, so a descriptor listed once would list
        // nothing the second time (and count an empty queue).
        let queue =
            File::from(base.create(paths, Level::Queue, options.durability, "create_queue_dir")?);
        let key = watch_key(&queue, options);
        if std::mem::take(&mut check_full_first) && looks_full(&queue, key, options.capacity) {
            // Decided under the lock by a listing before anything is written,
            // so that a refused write costs no temporary and no fsync. Not
            // full after all (the counts overstated): write, through a
            // descriptor that was not listed.
            let _lock = take_producers_lock(&queue, paths, table_name, options)?;
            listed_state(&queue, key, paths, table_name, options)?;
            continue;
        }
        let staged = Staged::write(&queue, paths, bytes, options.durability)?;
        let lock = take_producers_lock(&queue, paths, table_name, options)?;
        let sequence = match known_state(&queue, key, options.capacity) {
            Some(sequence) => sequence,
            None => listed_state(&queue, key, paths, table_name, options)?,
        };
        let id = entry_id::sequenced_id(sequence);
        let entry = pending_file_name(&id);
        match staged.publish(&entry) {
            Ok(()) => {}
            Err(rustix::io::Errno::NOENT) if attempt < WRITE_ATTEMPTS => {
                attempt += 1;
                continue;
            }
            Err(e) => {
                let path = paths.queue_dir.join(&entry);
                return Err(ReedError::io("rename_queue_file", &path, &e.into()));
            }
        }
        drop(lock);
        if options.durability == Durability::Durable
            && let Err(e) = sync_dir(queue.as_fd())
        {
            // Not durable, so not acknowledged: take it back so that an error
            // means "not queued" and a retry does not queue it twice.
            let _ = rustix::fs::unlinkat(&queue, entry.as_str(), AtFlags::empty());
            return Err(ReedError::io("sync_queue_dir", &paths.queue_dir, &e));
        }
        return Ok(id);
    }
}

/// [`ProducersLock::take`], with the event of a producer that gave up.
fn take_producers_lock<'a>(
    queue: &'a File,
    paths: &TablePaths,
    table_name: &str,
    options: &FsOptions,
) -> ReedResult<ProducersLock<'a>> {
    ProducersLock::take(queue, paths, table_name, options).inspect_err(|error| {
        if let ReedError::QueueBusy { waited, .. } = error {
            tracing::warn!(
                event = events::QUEUE_BUSY,
                table = table_name,
                waited_ms = events::millis(*waited),
                "gave up waiting for the queue's producers' lock"
            );
        }
    })
}

/// The queue directory's device and inode, by which the process's watch
/// knows it; `None` when the options turn the watch off.
fn watch_key(queue: &File, options: &FsOptions) -> Option<DirKey> {
    options
        .watch_queues
        .then(|| facts_of(queue).ok())
        .flatten()
        .map(|facts| (facts.dev, facts.ino))
}

/// True when the process's watch counts the queue full (it may overcount;
/// false when it does not know).
fn looks_full(queue: &File, key: Option<DirKey>, capacity: usize) -> bool {
    key.and_then(|key| {
        watch::with_dir(queue.as_fd(), key, |w| {
            w.counts.is_some_and(|counts| counts.pending >= capacity)
        })
    })
    .unwrap_or(false)
}

/// The sequence of the next entry from what the process's watcher knows of
/// the queue (see [`watch`]), without a listing; `None` when the counts are
/// not known, when temporaries have been counted for [`STALE_TEMPORARY`]
/// (one may be abandoned: the listing sweeps it), when they say the queue
/// is full (they may overcount: the listing decides), or when the
/// numbering is at its end.
fn known_state(queue: &File, key: Option<DirKey>, capacity: usize) -> Option<u128> {
    let (counts, top, stale) = watch::with_dir(queue.as_fd(), key?, |w| {
        (w.counts, w.top, w.temporaries_counted_for(STALE_TEMPORARY))
    })?;
    let counts = counts.filter(|c| !stale && c.pending < capacity)?;
    match top {
        _ if counts.pending == 0 => Some(0),
        None => Some(0),
        Some(top) if top < MAX_WRITTEN_SEQUENCE => Some(top + 1),
        Some(_) => None,
    }
}

/// The sequence of the next entry from a listing (counting the entries,
/// sweeping abandoned temporaries, moving aside entries numbered beyond
/// producers), and the watcher's counts taken from it when no entry arrived
/// while it was read (see [`Watched::take_listing`](watch::Watched::take_listing)).
///
/// # Errors
///
/// `QueueFull` at capacity, `InvalidQueueFile` when the numbering is used
/// up, and the I/O errors of the listing and the sweep.
fn listed_state(
    queue: &File,
    key: Option<DirKey>,
    paths: &TablePaths,
    table_name: &str,
    options: &FsOptions,
) -> ReedResult<u128> {
    let capacity = options.capacity;
    let before = key.and_then(|key| watch::with_dir(queue.as_fd(), key, |w| w.listing_mark()));
    let mut scan = scan_names(queue, paths)?;
    if let (Some(key), Some(before)) = (key, before) {
        let counts = Counts {
            pending: scan.pending,
            temporaries: scan.temporaries.len(),
        };
        watch::with_dir(queue.as_fd(), key, |w| {
            w.take_listing(before, counts, scan.highest_sequence);
        });
    }
    sweep(queue, paths, &scan.temporaries);
    if let Some(key) = key {
        // The temporaries left are live (or not ours to delete): count the
        // time to the next sweep from now.
        watch::with_dir(queue.as_fd(), key, |w| w.temporaries_checked());
    }
    for (name, id, sequence) in std::mem::take(&mut scan.beyond) {
        let reason = beyond_producers(sequence);
        match move_aside(queue.as_fd(), paths, &name, &id, &reason) {
            Ok(_) => scan.pending -= 1,
            Err(error) => note_stuck(paths.queue_dir.join(&name), &id, &reason, &error),
        }
    }
    if scan.pending >= capacity {
        tracing::warn!(
            event = events::QUEUE_FULL,
            table = table_name,
            pending = scan.pending,
            capacity = capacity,
            "queue full: write refused"
        );
        return Err(ReedError::queue_full(table_name, scan.pending));
    }
    match scan.highest_sequence {
        None => Ok(0),
        Some(highest) if highest < MAX_WRITTEN_SEQUENCE => Ok(highest + 1),
        Some(_) => Err(ReedError::InvalidQueueFile {
            path: paths.queue_dir.clone(),
            reason: format!(
                "an entry holds sequence number {MAX_WRITTEN_SEQUENCE}, the highest a producer \
                 writes; numbering starts again at 0 once the queue is empty"
            ),
        }),
    }
}

/// The producers' lock of one queue: an exclusive `flock` on the queue
/// directory itself, or on `.queue.lock` where the file system cannot lock
/// a directory. Producers of one process first take turns on an in-process
/// [`Turn`], so that threads wait for each other blocked (and are woken as
/// soon as the turn is free) instead of polling the `flock`. Released when
/// dropped.
#[derive(Debug)]
pub(crate) struct ProducersLock<'a> {
    dir: &'a File,
    file: Option<LockFile>,
    _turn: TurnTaken,
}

impl<'a> ProducersLock<'a> {
    /// Takes the lock, waiting while it is held elsewhere; gives up with
    /// `QueueBusy` once no [`Progress`] has been seen for
    /// `options.queue_lock_timeout` (the holder is stopped or hung: a
    /// producer that completes a write makes an entry arrive), or after
    /// [`PATIENCE_WHILE_OTHERS_WRITE`] times that in all.
    pub(crate) fn take(
        dir: &'a File,
        paths: &TablePaths,
        table: &str,
        options: &FsOptions,
    ) -> ReedResult<Self> {
        let mut wait = Wait::new(dir, options.queue_lock_timeout, options.watch_queues);
        let turn = Turn::take(&paths.queue_dir, &mut wait)
            .map_err(|waited| ReedError::queue_busy(table, waited))?;
        let lock_error = |e: &io::Error| ReedError::io("lock_queue", &paths.queue_dir, e);
        let file = match flock::try_lock_exclusive(dir) {
            Ok(TryLock::Acquired) => {
                return Ok(ProducersLock {
                    dir,
                    file: None,
                    _turn: turn,
                });
            }
            Ok(TryLock::Contended) => None,
            Err(e) if flock::cannot_lock_directories(&e) => {
                let path = paths.queue_dir.join(QUEUE_LOCK_FILE);
                Some(flock::create_lock_file(
                    dir.as_fd(),
                    QUEUE_LOCK_FILE,
                    &path,
                    tables_dir(paths),
                )?)
            }
            Err(e) => return Err(lock_error(&e)),
        };
        // Dropped on an early return without holding the lock: unlocking
        // what is not held does nothing.
        let lock = ProducersLock {
            dir,
            file,
            _turn: turn,
        };
        let mut backoff = Backoff::new();
        loop {
            let target = lock.file.as_ref().map_or(dir, |file| &file.file);
            if flock::try_lock_exclusive(target).map_err(|e| lock_error(&e))? == TryLock::Acquired {
                return Ok(lock);
            }
            let left = wait
                .check()
                .map_err(|waited| ReedError::queue_busy(table, waited))?;
            std::thread::sleep(backoff.next_pause().min(left));
        }
    }
}

impl Drop for ProducersLock<'_> {
    fn drop(&mut self) {
        let _ = flock::unlock(self.file.as_ref().map_or(self.dir, |file| &file.file));
    }
}

/// A producer's wait for the lock: how long, and whether producers made
/// [`Progress`] meanwhile. Nothing is looked at until the first check,
/// so an uncontended producer pays nothing for it.
struct Wait<'a> {
    dir: &'a File,
    patience: Duration,
    /// Whether [`Progress`] may come from the process's watch.
    watch: bool,
    start: Instant,
    /// When progress was last seen, and what it was then; `None` before
    /// the first check.
    last: Option<(Instant, Progress)>,
}

impl<'a> Wait<'a> {
    fn new(dir: &'a File, patience: Duration, watch: bool) -> Self {
        Wait {
            dir,
            patience,
            watch,
            start: Instant::now(),
            last: None,
        }
    }

    /// `Ok` with how long this wait may still last before the next check,
    /// or `Err` with the time waited when the producer must give up.
    fn check(&mut self) -> Result<Duration, Duration> {
        let now = Instant::now();
        let seen = Progress::of(self.dir, self.watch);
        let last_change = match self.last {
            Some((at, before)) if before == seen => at,
            Some(_) => now,
            None => self.start,
        };
        self.last = Some((last_change, seen));
        let stalled = now.duration_since(last_change);
        let waited = now.duration_since(self.start);
        let limit = self.patience * PATIENCE_WHILE_OTHERS_WRITE;
        if stalled >= self.patience || waited >= limit {
            return Err(waited);
        }
        Ok((self.patience - stalled).min(limit - waited))
    }
}

/// What shows that producers get on with their writes: the entries that
/// arrived in the directory as the process's watch counts them (an
/// arrival is a producer's completed write), or where there is no watch
/// the directory's modification time (which a temporary made or deleted
/// and a consumer's removal also move).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// The watch's incarnation and its count of arrivals.
    Arrivals(u64, u64),
    Modified(Option<SystemTime>),
}

impl Progress {
    fn of(dir: &File, watch: bool) -> Progress {
        let facts = facts_of(dir).ok();
        if watch
            && let Some(facts) = &facts
            && let Some((incarnation, arrivals)) =
                watch::with_dir(dir.as_fd(), (facts.dev, facts.ino), |w| {
                    (w.incarnation, w.arrivals_seen)
                })
        {
            return Progress::Arrivals(incarnation, arrivals);
        }
        Progress::Modified(facts.map(|facts| facts.modified))
    }
}

/// The producers of this process on one queue directory, taking turns.
#[derive(Debug, Default)]
struct Turn {
    state: Mutex<TurnState>,
    free: Condvar,
}

/// Whether the turn is taken, and how many wait for it (a free turn with
/// nobody waiting is given back without waking anyone, which costs no
/// system call).
#[derive(Debug, Default)]
struct TurnState {
    taken: bool,
    waiting: usize,
}

/// Every queue directory's [`Turn`] in this process, by path.
static TURNS: Mutex<BTreeMap<PathBuf, Arc<Turn>>> = Mutex::new(BTreeMap::new());

/// How often a producer waiting for its turn looks at the queue directory.
const TURN_CHECK: Duration = Duration::from_millis(25);

impl Turn {
    /// Waits for the turn of the queue at `queue_dir`, within `wait`.
    fn take(queue_dir: &Path, wait: &mut Wait<'_>) -> Result<TurnTaken, Duration> {
        let turn = {
            let mut turns = TURNS.lock().unwrap_or_else(PoisonError::into_inner);
            Arc::clone(turns.entry(queue_dir.to_path_buf()).or_default())
        };
        let mut state = turn.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.taken {
            let slice = match wait.check() {
                Ok(left) => left.min(TURN_CHECK),
                Err(waited) => return Err(waited),
            };
            state.waiting += 1;
            state = turn
                .free
                .wait_timeout(state, slice)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting -= 1;
        }
        state.taken = true;
        drop(state);
        Ok(TurnTaken(turn))
    }
}

/// A producer's turn, given back when dropped.
#[derive(Debug)]
struct TurnTaken(Arc<Turn>);

impl Drop for TurnTaken {
    fn drop(&mut self) {
        let mut state = self.0.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.taken = false;
        if state.waiting > 0 {
            self.0.free.notify_one();
        }
    }
}

/// Lists the queue directory under the producers' lock: counts the entries,
/// finds the highest sequence number a producer wrote, notes the entries
/// beyond it and the abandoned temporaries.
fn scan_names(queue: &File, paths: &TablePaths) -> ReedResult<Scan> {
    let mut scan = Scan::default();
    for_each_name(queue.as_fd(), |name| {
        if let Some(stem) = pending_stem(name) {
            scan.pending += 1;
            let id = stem.to_string_lossy();
            match parse_sequence(&id) {
                Some(sequence) if is_beyond_producers(sequence) => {
                    scan.beyond
                        .push((name.to_os_string(), id.into_owned(), sequence));
                }
                Some(sequence) => scan.highest_sequence = scan.highest_sequence.max(Some(sequence)),
                None => {}
            }
        } else if is_temporary(name) {
            scan.temporaries.push(name.to_os_string());
        }
    })
    .map_err(|e| ReedError::io("read_queue_dir", &paths.queue_dir, &e))?;
    Ok(scan)
}

/// Deletes the abandoned temporaries among those found by [`scan_names`]:
/// each on which a shared `flock` can be taken (its producer died: the
/// kernel dropped its exclusive lock), deleted while that lock is held; and any other file by such a
/// name that is not a regular file or a directory (a link is deleted, never
/// followed). A live producer's temporary (locked), a directory, or a
/// temporary that cannot be opened or deleted is left where it is, the
/// latter two reported: a temporary is not an entry, so leaving one loses
/// nothing and stops no write.
fn sweep(queue: &File, paths: &TablePaths, temporaries: &[OsString]) {
    let table = paths.table_dir.file_name().unwrap_or_default();
    for name in temporaries {
        let path = paths.queue_dir.join(name);
        let left = |error: &dyn std::fmt::Display, why: &str| {
            tracing::warn!(event = events::TEMPORARY_NOT_SWEPT, table = %table.to_string_lossy(), path = %path.display(), error = %error, "{why}; left it");
        };
        let held = match open_regular(queue.as_fd(), name) {
            // Shared: it conflicts with the producer's exclusive lock just
            // the same, and where `flock` is emulated with POSIX locks (NFS)
            // it can be taken through this read-only descriptor.
            Ok(Opened::File(file, _)) => match flock::try_lock_shared(&file) {
                Ok(TryLock::Acquired) => file,
                Ok(TryLock::Contended) => continue,
                Err(error) => {
                    left(
                        &error,
                        "could not tell whether a temporary file's producer is alive",
                    );
                    continue;
                }
            },
            Ok(Opened::Missing) => continue,
            Ok(Opened::NotRegular(Found::Directory)) => {
                left(
                    &"a directory",
                    "a directory has the name of a producer's temporary file",
                );
                continue;
            }
            Ok(Opened::NotRegular(_)) => {
                // Unlinking a name never touches what a link points to.
                let _ = rustix::fs::unlinkat(queue.as_fd(), name, AtFlags::empty());
                continue;
            }
            Err(error) => {
                left(&error, "could not open a temporary file to sweep it");
                continue;
            }
        };
        match rustix::fs::unlinkat(queue.as_fd(), name, AtFlags::empty()) {
            Ok(()) => {
                tracing::info!(event = events::TEMPORARY_SWEPT, table = %table.to_string_lossy(), path = %path.display(), "swept the temporary file of a producer that died mid-write");
            }
            Err(rustix::io::Errno::NOENT) => {}
            Err(error) => left(
                &error,
                "could not delete the temporary file of a producer that died mid-write",
            ),
        }
        drop(held);
    }
}

#[cfg(test)]
thread_local! {
    /// Set by tests: how many of this thread's next publishes find their
    /// temporary deleted (as by a sweep between its creation and its lock).
    static SWEEP_BEFORE_PUBLISH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// How many temporaries this thread created, for tests.
    static STAGED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// An entry written under a temporary name of its own, its `flock` held,
/// not yet in the queue. Dropped unpublished, the temporary is deleted.
#[derive(Debug)]
struct Staged<'a> {
    /// Open (and locked) until dropped.
    file: File,
    name: String,
    queue: &'a File,
    published: bool,
}

impl<'a> Staged<'a> {
    /// Creates a temporary, takes its `flock`, writes `bytes` into it and
    /// fsyncs it when durable. A temporary whose lock a sweeper holds (it
    /// deletes it) is made again under another name; one swept between its
    /// creation and its lock is found gone at [`publish`](Self::publish).
    fn write(
        queue: &'a File,
        paths: &TablePaths,
        bytes: &[u8],
        durability: Durability,
    ) -> ReedResult<Staged<'a>> {
        for _ in 0..WRITE_ATTEMPTS {
            let name = temporary_file_name(&uuid::Uuid::new_v4().simple().to_string());
            let path = paths.queue_dir.join(&name);
            let write_error = |e: &io::Error| ReedError::io("write_queue_file", &path, e);
            let file = create_new(queue.as_fd(), name.as_ref()).map_err(|e| write_error(&e))?;
            #[cfg(test)]
            STAGED.with(|staged| staged.set(staged.get() + 1));
            let mut staged = Staged {
                file,
                name,
                queue,
                published: false,
            };
            let file = &mut staged.file;
            if flock::try_lock_exclusive(file).map_err(|e| write_error(&e))? == TryLock::Contended {
                continue;
            }
            file.write_all(bytes).map_err(|e| write_error(&e))?;
            if durability == Durability::Durable {
                file.sync_data()
                    .map_err(|e| ReedError::io("sync_queue_file", &path, &e))?;
            }
            return Ok(staged);
        }
        Err(ReedError::io(
            "write_queue_file",
            &paths.queue_dir,
            &io::Error::other(format!(
                "the temporary of a new entry was deleted as it was made, {WRITE_ATTEMPTS} times"
            )),
        ))
    }

    /// Renames the temporary to `entry` (a new name: nothing is replaced)
    /// and closes it, which releases its `flock`. `NOENT` when the
    /// temporary was deleted meanwhile.
    fn publish(mut self, entry: &str) -> Result<(), rustix::io::Errno> {
        #[cfg(test)]
        if SWEEP_BEFORE_PUBLISH.with(|left| left.replace(left.get().saturating_sub(1)) > 0) {
            rustix::fs::unlinkat(self.queue, self.name.as_str(), AtFlags::empty())?;
        }
        rustix::fs::renameat(self.queue, self.name.as_str(), self.queue, entry)?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.published {
            let _ = rustix::fs::unlinkat(self.queue, self.name.as_str(), AtFlags::empty());
        }
    }
}

#[cfg(test)]
#[path = "producer_test.rs"]
mod tests;
