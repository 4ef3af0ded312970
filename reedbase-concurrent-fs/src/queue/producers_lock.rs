// SPDX-License-Identifier: Apache-2.0
//! The producers' lock of one queue: an exclusive `flock` on the queue
//! directory (or `.queue.lock` where a directory cannot be locked), taken
//! in turns by the producers of one process, with the patience rules that
//! tell a stopped holder from busy but healthy producers.

use std::collections::BTreeMap;
use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reedbase_concurrent_core::{ReedError, ReedResult};

use super::entry_id::QUEUE_LOCK_FILE;
use super::watch;
use crate::lock::flock::{self, Backoff, LockFile, TryLock};
use crate::no_follow::facts_of;
use crate::options::FsOptions;
use crate::tables_dir::{TablePaths, tables_dir};

/// How much longer than [`FsOptions::queue_lock_timeout`] a producer waits
/// in all while other producers keep writing (entries keep arriving, see
/// [`Progress`]) before it gives up.
const PATIENCE_WHILE_OTHERS_WRITE: u32 = 8;

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
