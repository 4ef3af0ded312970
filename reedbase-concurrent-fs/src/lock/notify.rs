// SPDX-License-Identifier: Apache-2.0
//! Waiting for a table's lock without polling: an inotify watch on the table
//! directory ([`Watch`]), so that a waiter sleeps until a holder releases,
//! with the back-off poll of [`flock`](super::flock) as the fallback where
//! inotify is unavailable. [`wait_until`] waits this way for the lock to be
//! free (`wait_for_unlock`); an acquisition waits in `turn_wait`, which
//! sleeps on a watch only once it has claimed a turn.
//!
//! A waiter makes its first attempt without any of this (an uncontended
//! acquire never creates a watch). If it fails, [`wait_until`] creates an
//! inotify instance, watches the table directory through the descriptor the
//! waiter holds open (`/proc/self/fd/<n>`, so exactly that directory, with no
//! path looked up below the base directory), and only then tries again: a
//! release between the first attempt and the watch is not missed. Then it
//! sleeps in `poll(2)` on the inotify descriptor until an event, the
//! deadline, or [`FALLBACK_INTERVAL`], and tries again.
//!
//! Which events wake a waiter (events on other names in the directory, such
//! as `table.csv`, are read and ignored):
//!
//! - `write.lock` closed after being opened for writing (`IN_CLOSE_WRITE`):
//!   this crate's guard and the old module's both unlock explicitly and then
//!   close it, so the event comes after the lock is free. A process that
//!   dies holding the lock closes first and unlocks after (Linux calls
//!   `fsnotify_close` before `locks_remove_file`), so after this event a
//!   failed attempt is repeated [`BURST`] times over about 0.75 ms before
//!   the waiter sleeps again;
//! - `write.lock` read (`IN_ACCESS`): this crate's guard keeps its
//!   descriptors for the next acquisition, so after unlocking it reads the
//!   claim slots of `write.lock` (see `turn_record`) to say so, in place of
//!   the close;
//! - the attributes of `write.lock` changed (`IN_ATTRIB`): a waiter took
//!   back its claim on a turn, or the file gained or lost a name;
//! - `write.lock` closed after being opened read-only (`IN_CLOSE_NOWRITE`):
//!   a prober (`is_locked` of either module) that was briefly holding a
//!   lock; one attempt;
//! - `write.lock` deleted, renamed, created or moved in, and the directory
//!   itself deleted, moved or relinked; the event queue overflowing: as a
//!   release.
//!
//! The waiter keeps its descriptors open across attempts, so waiters never
//! wake each other. If the watch stops working (its directory removed, the
//! file system unmounted, a read or poll error) the waiter goes on polling
//! with the back-off; likewise where no watch can be made: no inotify
//! (`ENOSYS`), too many instances or watches (`EMFILE`, `ENOSPC`), no
//! `/proc`. On a file system whose changes from other machines give no
//! events (NFS), a release there is noticed within [`FALLBACK_INTERVAL`].

use std::fs::File;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedResult;
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::inotify::{self, CreateFlags, ReadFlags, WatchFlags};
use rustix::io::Errno;

use super::flock::{Polled, poll_until};

/// The longest a waiter sleeps between two attempts when no event comes. It
/// bounds how late a release that gives no event is noticed (a holder on
/// another NFS client, a holder whose `write.lock` was deleted while held,
/// a dead holder whose close came before its unlock and outlasted the
/// [`BURST`]) and sets the cost of a long wait: one wake-up and two system
/// calls per interval. See the [module docs](super) for the measurements.
pub(crate) const FALLBACK_INTERVAL: Duration = Duration::from_millis(50);

/// The pauses before the attempts made after a release event whose first
/// attempt failed: the holder may have closed before unlocking (a process
/// that died), or a prober held the lock for an instant.
pub(crate) const BURST: [Duration; 4] = [
    Duration::from_micros(50),
    Duration::from_micros(100),
    Duration::from_micros(200),
    Duration::from_micros(400),
];

/// The name whose events matter.
pub(crate) const LOCK_FILE: &[u8] = b"write.lock";

#[cfg(test)]
thread_local! {
    /// Set by tests to exercise the polling fallback in this thread.
    pub(crate) static NO_WATCH: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// How many watches this thread made, for tests to see which path ran.
    pub(crate) static WATCHES_MADE: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// Calls `attempt` until it returns `Some`, it fails, or `timeout` has
/// passed since `start`, sleeping on a watch of `dir` between attempts.
///
/// The first attempt is made at once, and one more at the deadline, so a
/// zero timeout means exactly one attempt. Sleeps never overshoot the
/// deadline by more than the scheduler's wake-up delay. An error from
/// `attempt` is returned at once: only `None` ("try again") is retried.
pub(crate) fn wait_until<T>(
    start: Instant,
    timeout: Duration,
    dir: &File,
    mut attempt: impl FnMut() -> ReedResult<Option<T>>,
) -> ReedResult<Polled<T>> {
    if let Some(value) = attempt()? {
        return Ok(Polled::Ready(value));
    }
    if left(start, timeout).is_none() {
        return Ok(Polled::TimedOut(start.elapsed()));
    }
    let Some(mut watch) = Watch::new(dir) else {
        return poll_until(start, timeout, attempt);
    };
    // The watch is in place: a release from now on gives an event. Try
    // again at once, and as after a release event.
    let mut woke = Woke::Release;
    loop {
        if let Some(value) = attempt()? {
            return Ok(Polled::Ready(value));
        }
        if matches!(woke, Woke::Release | Woke::Announced | Woke::Changed) {
            for pause in BURST {
                let Some(left) = left(start, timeout) else {
                    break;
                };
                thread::sleep(pause.min(left));
                if let Some(value) = attempt()? {
                    return Ok(Polled::Ready(value));
                }
            }
        }
        let Some(left) = left(start, timeout) else {
            return Ok(Polled::TimedOut(start.elapsed()));
        };
        woke = match watch.wait(left.min(FALLBACK_INTERVAL)) {
            Ok(woke) => woke,
            Err(_) => return poll_until(start, timeout, attempt),
        };
    }
}

/// The time left before the deadline, `None` once it has passed.
fn left(start: Instant, timeout: Duration) -> Option<Duration> {
    timeout
        .checked_sub(start.elapsed())
        .filter(|left| !left.is_zero())
}

/// Why [`Watch::wait`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Woke {
    /// The lock may have been released (see the [module docs](self)), by an
    /// event that can come just before the unlock (a close): worth a few
    /// attempts.
    Release,
    /// `write.lock` was read, as a guard of this crate does right after it
    /// unlocked: one attempt tells whether the lock is free.
    Announced,
    /// A prober closed `write.lock`: worth one attempt.
    Probe,
    /// The attributes of `write.lock` changed, as when a waiter takes back
    /// its claim on a turn (see `turn_wait`), or when the file gains or
    /// loses a name: worth one attempt.
    Changed,
    /// Nothing happened within the interval.
    Quiet,
}

/// How many idle inotify instances a process keeps for its next waits.
///
/// Closing an instance is slow (Linux waits for an SRCU grace period:
/// 3-15 ms measured on the 2-core test machine), and it would come between
/// the lock being taken and `acquire_lock` returning. So a wait removes its
/// watch (cheap) and puts the instance back here for the next wait, of any
/// thread. Instances count against a per-user limit
/// (`fs.inotify.max_user_instances`, 128 by default) shared with other
/// programs, so only a few are kept: beyond this many waiting at once in
/// one process, a wait closes its instance when it ends.
const SPARE_INSTANCES: usize = 4;

/// The idle instances, each with the pid that created it (a forked child
/// makes its own rather than share its parent's).
static SPARE: Mutex<Vec<(u32, OwnedFd)>> = Mutex::new(Vec::new());

/// An inotify instance watching one table directory.
#[derive(Debug)]
pub(super) struct Watch {
    inotify: Option<OwnedFd>,
    /// The watch descriptor of the directory; events of other (earlier,
    /// removed) watches of a reused instance are ignored.
    wd: i32,
}

impl Drop for Watch {
    fn drop(&mut self) {
        let Some(inotify) = self.inotify.take() else {
            return;
        };
        // Fails harmlessly when the watch has ended already.
        let _ = inotify::remove_watch(&inotify, self.wd);
        put_back_instance(inotify);
    }
}

/// An inotify instance for a new watch: an idle one of this process, else
/// a new one (`None` where none can be made).
pub(crate) fn take_instance() -> Option<OwnedFd> {
    let pid = std::process::id();
    let spare = SPARE.lock().ok().and_then(|mut spare| {
        // Inherited from a parent process: shared with it, not ours.
        spare.retain(|(owner, _)| *owner == pid);
        spare.pop()
    });
    match spare {
        Some((_, inotify)) => Some(inotify),
        None => inotify::init(CreateFlags::CLOEXEC | CreateFlags::NONBLOCK).ok(),
    }
}

/// Keeps `inotify`, whose watches were removed, for the next wait (or
/// closes it when enough are kept).
pub(crate) fn put_back_instance(inotify: OwnedFd) {
    let pid = std::process::id();
    if let Ok(mut spare) = SPARE.lock()
        && spare.len() < SPARE_INSTANCES
    {
        spare.push((pid, inotify));
    }
}

impl Watch {
    /// Watches `dir`, or `None` where that is not possible (see the
    /// [module docs](self)).
    pub(super) fn new(dir: &File) -> Option<Watch> {
        #[cfg(test)]
        if NO_WATCH.with(std::cell::Cell::get) {
            return None;
        }
        let inotify = take_instance()?;
        // The magic link names the open directory itself, wherever it is
        // now; nothing below the base directory is looked up by name.
        let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
        let mask = WatchFlags::ONLYDIR
            | WatchFlags::ACCESS
            | WatchFlags::CLOSE_WRITE
            | WatchFlags::CLOSE_NOWRITE
            | WatchFlags::DELETE
            | WatchFlags::CREATE
            | WatchFlags::MOVED_FROM
            | WatchFlags::MOVED_TO
            | WatchFlags::ATTRIB
            | WatchFlags::DELETE_SELF
            | WatchFlags::MOVE_SELF;
        let wd = inotify::add_watch(&inotify, path, mask).ok()?;
        #[cfg(test)]
        WATCHES_MADE.with(|made| made.set(made.get() + 1));
        Some(Watch {
            inotify: Some(inotify),
            wd,
        })
    }

    /// Sleeps until an event that matters, or `interval` has passed.
    ///
    /// # Errors
    ///
    /// A failed `poll` or `read`, or a watch that stopped (its directory
    /// gone or unmounted): the caller polls instead.
    pub(super) fn wait(&mut self, interval: Duration) -> rustix::io::Result<Woke> {
        let until = Instant::now() + interval;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(Woke::Quiet);
            }
            let timeout = Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let Some(inotify) = &self.inotify else {
                return Err(Errno::BADF);
            };
            let mut fds = [PollFd::new(inotify, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => return Ok(Woke::Quiet),
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(error) => return Err(error),
            }
            match self.read_events()? {
                Woke::Quiet => {}
                woke => return Ok(woke),
            }
        }
    }

    /// Reads the events queued now and says what they mean together.
    fn read_events(&mut self) -> rustix::io::Result<Woke> {
        let Some(inotify) = &self.inotify else {
            return Err(Errno::BADF);
        };
        let mut buffer = [MaybeUninit::<u8>::uninit(); 2048];
        let mut reader = inotify::Reader::new(inotify.as_fd(), &mut buffer);
        let mut woke = Woke::Quiet;
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(Errno::AGAIN | Errno::INTR) => return Ok(woke),
                Err(error) => return Err(error),
            };
            let flags = event.events();
            let ours = event
                .file_name()
                .is_none_or(|name| name.to_bytes() == LOCK_FILE);
            if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
                woke = Woke::Release;
            } else if event.wd() != self.wd || !ours {
                // Another name, or left over from an earlier watch of this
                // (reused) instance.
            } else if flags.intersects(ReadFlags::IGNORED | ReadFlags::UNMOUNT) {
                return Err(Errno::NOENT);
            } else if flags == ReadFlags::CLOSE_NOWRITE
                || flags == ReadFlags::CLOSE_NOWRITE | ReadFlags::ISDIR
            {
                if woke == Woke::Quiet {
                    woke = Woke::Probe;
                }
            } else if flags == ReadFlags::ACCESS {
                if matches!(woke, Woke::Quiet | Woke::Probe) {
                    woke = Woke::Announced;
                }
            } else if flags == ReadFlags::ATTRIB {
                if woke != Woke::Release {
                    woke = Woke::Changed;
                }
            } else {
                woke = Woke::Release;
            }
            if reader.is_buffer_empty() {
                return Ok(woke);
            }
        }
    }
}

#[cfg(test)]
#[path = "notify_test.rs"]
mod tests;
