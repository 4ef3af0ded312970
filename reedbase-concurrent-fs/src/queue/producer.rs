// SPDX-License-Identifier: Apache-2.0
//! The write path: one entry into the queue under the producers' lock.
//!
//! Under the lock: learn the count and the highest sequence, from the
//! process's watch of the directory when it knows them (see `watch`), else
//! from a listing (count the entries, find the highest sequence number,
//! sweep abandoned temporaries, set aside entries whose sequence no
//! producer writes; a listing during which nothing changed gives the watch
//! its counts); check the capacity, write the entry to a temporary name,
//! fsync it, rename it to `<id>.pending`, fsync the directory. Every
//! producer of this crate holds the lock from creating its temporary until
//! renaming (or deleting) it, so a temporary seen by a lock holder belongs
//! to a producer that died (and a temporary the watch counts makes the next
//! producer list and sweep).

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
use super::watch::{self, Counts};
use crate::lock::flock::{self, Backoff, LockFile, TryLock};
use crate::no_follow::for_each_name;
use crate::no_follow::{create_new, facts_of};
use crate::options::{Durability, FsOptions};
use crate::tables_dir::TablePaths;
use crate::tables_dir::{BaseDir, Level, sync_dir, tables_dir};

/// How much longer than [`FsOptions::queue_lock_timeout`] a producer waits
/// in all while other producers keep writing (the queue directory keeps
/// changing) before it gives up.
const PATIENCE_WHILE_OTHERS_WRITE: u32 = 8;

/// What a producer learns from one listing of the queue directory.
#[derive(Debug, Default)]
struct Scan {
    pending: usize,
    highest_sequence: Option<u128>,
    temporaries: Vec<OsString>,
    beyond: Vec<(OsString, String, u128)>,
}

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
    let queue =
        File::from(base.create(paths, Level::Queue, options.durability, "create_queue_dir")?);
    let _lock = ProducersLock::take(&queue, paths, table_name, options.queue_lock_timeout)
        .inspect_err(|error| {
            if let ReedError::QueueBusy { waited, .. } = error {
                tracing::warn!(
                    event = events::QUEUE_BUSY,
                    table = table_name,
                    waited_ms = events::millis(*waited),
                    "gave up waiting for the queue's producers' lock"
                );
            }
        })?;
    let known = options
        .watch_queues
        .then(|| known_state(&queue, options.capacity))
        .flatten();
    let sequence = match known {
        Some(sequence) => sequence,
        None => listed_state(&queue, paths, table_name, options)?,
    };
    let id = entry_id::sequenced_id(sequence);
    write_entry(&queue, paths, &id, bytes, options.durability)?;
    Ok(id)
}

/// The sequence of the next entry from what the process's watcher knows of
/// the queue (see [`watch`]), without a listing; `None` when the counts are
/// not known, when a temporary is left over (to be swept), when they say
/// the queue is full (they may overcount: the listing decides), or when
/// the numbering is at its end.
fn known_state(queue: &File, capacity: usize) -> Option<u128> {
    let facts = facts_of(queue).ok()?;
    let (counts, top) =
        watch::with_dir(queue.as_fd(), (facts.dev, facts.ino), |w| (w.counts, w.top))?;
    let counts = counts.filter(|c| c.temporaries == 0 && c.pending < capacity)?;
    match top {
        _ if counts.pending == 0 => Some(0),
        None => Some(0),
        Some(top) if top < MAX_WRITTEN_SEQUENCE => Some(top + 1),
        Some(_) => None,
    }
}

/// The sequence of the next entry from a listing (counting the entries,
/// sweeping abandoned temporaries, moving aside entries numbered beyond
/// producers), and the watcher's counts taken from it when nothing changed
/// in the directory while it was read.
///
/// # Errors
///
/// `QueueFull` at capacity, `InvalidQueueFile` when the numbering is used
/// up, and the I/O errors of the listing and the sweep.
fn listed_state(
    queue: &File,
    paths: &TablePaths,
    table_name: &str,
    options: &FsOptions,
) -> ReedResult<u128> {
    let capacity = options.capacity;
    let key = facts_of(queue)
        .ok()
        .filter(|_| options.watch_queues)
        .map(|facts| (facts.dev, facts.ino));
    let before =
        key.and_then(|key| watch::with_dir(queue.as_fd(), key, |w| (w.incarnation, w.changes)));
    let mut scan = scan_names(queue, paths)?;
    if let (Some(key), Some(before)) = (key, before) {
        watch::with_dir(queue.as_fd(), key, |w| {
            if (w.incarnation, w.changes) == before {
                w.counts = Some(Counts {
                    pending: scan.pending,
                    temporaries: scan.temporaries.len(),
                });
                // Exact: no entry arrived or left while the listing was
                // read. Lowering it is safe for a consumer's kept listing:
                // its entries above the highest pending are all gone.
                w.top = scan.highest_sequence;
            } else {
                w.raise_top(scan.highest_sequence);
            }
        });
    }
    sweep(queue, paths, &scan.temporaries)?;
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
    /// `QueueBusy` once the queue directory has not changed for `patience`
    /// (its holder is stopped or hung: a producer that completes a write
    /// changes the directory), or after [`PATIENCE_WHILE_OTHERS_WRITE`]
    /// times `patience` in all.
    pub(crate) fn take(
        dir: &'a File,
        paths: &TablePaths,
        table: &str,
        patience: Duration,
    ) -> ReedResult<Self> {
        let mut wait = Wait::new(dir, patience);
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

/// A producer's wait for the lock: how long, and whether the queue
/// directory changed meanwhile. Nothing is looked at until the first check,
/// so an uncontended producer pays nothing for it.
struct Wait<'a> {
    dir: &'a File,
    patience: Duration,
    start: Instant,
    /// When the directory was last seen to change, and its modification
    /// time then; `None` before the first check.
    last: Option<(Instant, Option<SystemTime>)>,
}

impl<'a> Wait<'a> {
    fn new(dir: &'a File, patience: Duration) -> Self {
        Wait {
            dir,
            patience,
            start: Instant::now(),
            last: None,
        }
    }

    /// `Ok` with how long this wait may still last before the next check,
    /// or `Err` with the time waited when the producer must give up.
    fn check(&mut self) -> Result<Duration, Duration> {
        let now = Instant::now();
        let seen = changed_at(self.dir);
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

/// When the directory last changed (a new, renamed or removed entry).
fn changed_at(dir: &File) -> Option<SystemTime> {
    facts_of(dir).ok().map(|facts| facts.modified)
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

/// Deletes the abandoned temporaries found by [`scan_names`].
fn sweep(queue: &File, paths: &TablePaths, temporaries: &[OsString]) -> ReedResult<()> {
    for name in temporaries {
        match rustix::fs::unlinkat(queue.as_fd(), name, AtFlags::empty()) {
            Ok(()) => {
                let path = paths.queue_dir.join(name);
                let table = paths.table_dir.file_name().unwrap_or_default();
                tracing::info!(event = events::TEMPORARY_SWEPT, table = %table.to_string_lossy(), path = %path.display(), "swept the temporary file of a producer that died mid-write");
            }
            Err(rustix::io::Errno::NOENT) => {}
            Err(e) => {
                return Err(ReedError::io(
                    "sweep_temporary",
                    &paths.queue_dir.join(name),
                    &e.into(),
                ));
            }
        }
    }
    Ok(())
}

/// Writes the entry under a temporary name and renames it into place, with
/// the fsyncs when durable. On failure nothing is left under the entry's
/// name (a temporary left by a failed delete is swept by the next producer).
fn write_entry(
    queue: &File,
    paths: &TablePaths,
    id: &str,
    bytes: &[u8],
    durability: Durability,
) -> ReedResult<()> {
    let temporary = temporary_file_name(id);
    let entry = pending_file_name(id);
    let temporary_path = paths.queue_dir.join(&temporary);
    let written = (|| {
        let write_error = |e: &io::Error| ReedError::io("write_queue_file", &temporary_path, e);
        let mut file =
            create_new(queue.as_fd(), temporary.as_ref()).map_err(|e| write_error(&e))?;
        file.write_all(bytes).map_err(|e| write_error(&e))?;
        if durability == Durability::Durable {
            file.sync_data()
                .map_err(|e| ReedError::io("sync_queue_file", &temporary_path, &e))?;
        }
        drop(file);
        rustix::fs::renameat(queue, temporary.as_str(), queue, entry.as_str()).map_err(|e| {
            ReedError::io(
                "rename_queue_file",
                &paths.queue_dir.join(&entry),
                &e.into(),
            )
        })?;
        if durability == Durability::Durable
            && let Err(e) = sync_dir(queue.as_fd())
        {
            // Not durable, so not acknowledged: take it back so that an error
            // means "not queued" and a retry does not queue it twice.
            let _ = rustix::fs::unlinkat(queue, entry.as_str(), AtFlags::empty());
            return Err(ReedError::io("sync_queue_dir", &paths.queue_dir, &e));
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = rustix::fs::unlinkat(queue, temporary.as_str(), AtFlags::empty());
    }
    written
}

#[cfg(test)]
#[path = "producer_test.rs"]
mod tests;
