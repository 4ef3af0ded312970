// SPDX-License-Identifier: Apache-2.0
//! How this crate takes `flock`s: opening a lock file without following a
//! link or blocking, every call into `fs2`, and waiting for a lock with a
//! back-off bounded by a deadline.
//!
//! Since Rust 1.89, std has inherent `File::unlock`, `File::lock_shared` and
//! `File::try_lock_shared` that shadow `fs2::FileExt`'s methods of the same
//! names (and std's `try_lock_shared` has another error type), so fs2 is
//! always called here as `fs2::FileExt::method(&file)`. Moving to std's own
//! `File::lock` family later touches this file only.
//!
//! fs2 takes `flock(2)` locks: a lock belongs to an open file description,
//! so two descriptors opened separately on the same file exclude each other
//! even inside one process, and the kernel drops the lock when the last
//! descriptor of that description is closed, including when its process
//! dies. A directory opened read-only can be locked like a file.
//!
//! [`poll_until`] waits by polling: non-blocking attempts with pauses that
//! double from [`FIRST_PAUSE`] to [`MAX_PAUSE`]. Table-lock waiters sleep on
//! an inotify watch instead ([`notify`](super::notify)) and poll only where
//! no watch can be made; the queue's producers' lock uses [`Backoff`]. A
//! blocking `flock` has no timeout and cannot be cancelled without signals,
//! which this crate does not use (see the [module docs](super) for the
//! measurements and the alternatives).

use std::fs::File;
use std::io;
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{ReedError, ReedResult};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::no_follow::{Facts, Found, Refusal, facts_of, refused, stat_at};

/// The outcome of a non-blocking lock attempt that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryLock {
    /// The lock is ours.
    Acquired,
    /// Another open file description holds a conflicting lock.
    Contended,
}

/// Tries to take the exclusive lock on `file` without blocking.
///
/// Contention is [`TryLock::Contended`]; any other failure is returned as
/// the `io::Error`, so that the caller never mistakes it for a held lock.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<TryLock> {
    classify(fs2::FileExt::try_lock_exclusive(file))
}

/// Tries to take a shared lock on `file` without blocking: a probe for an
/// exclusive holder that never conflicts with another probe.
pub(crate) fn try_lock_shared(file: &File) -> io::Result<TryLock> {
    classify(fs2::FileExt::try_lock_shared(file))
}

/// Releases whatever lock `file` holds.
///
/// Closing the descriptor would also release a `flock`, but only once every
/// duplicate of it is closed: a child forked by another thread keeps a copy
/// until it calls `exec`. An explicit unlock releases at once regardless.
pub(crate) fn unlock(file: &File) -> io::Result<()> {
    fs2::FileExt::unlock(file)
}

/// Whether `error` is the error fs2 reports for a lock held elsewhere.
fn is_contended(error: &io::Error) -> bool {
    let contended = fs2::lock_contended_error();
    match (error.raw_os_error(), contended.raw_os_error()) {
        (Some(code), Some(expected)) => code == expected,
        _ => error.kind() == contended.kind(),
    }
}

fn classify(result: io::Result<()>) -> io::Result<TryLock> {
    match result {
        Ok(()) => Ok(TryLock::Acquired),
        Err(error) if is_contended(&error) => Ok(TryLock::Contended),
        Err(error) => Err(error),
    }
}

/// Whether a failed `flock` on a directory says that the file system cannot
/// lock directories at all (NFS emulates `flock` with byte-range locks,
/// which need a descriptor open for writing, and answers `EBADF`), rather
/// than that something went wrong.
pub(crate) fn cannot_lock_directories(error: &io::Error) -> bool {
    [Errno::BADF, Errno::NOLCK, Errno::OPNOTSUPP, Errno::INVAL]
        .iter()
        .any(|errno| error.raw_os_error() == Some(errno.raw_os_error()))
}

/// A lock file opened and checked on its descriptor: a regular file with
/// exactly one name.
#[derive(Debug)]
pub(crate) struct LockFile {
    /// The open file.
    pub(crate) file: File,
    /// What `fstat` said about it when it was opened.
    pub(crate) facts: Facts,
}

/// Opens the lock file `name` in `dir` for reading and writing (the holder
/// record is written, and read when a wait times out), creating it if
/// needed.
///
/// # Errors
///
/// `IoError` `open_lock_file` naming `path`: a symbolic link, hard link,
/// FIFO, socket, directory or device is refused at once, saying what was
/// found; any other failure as the system reported it.
pub(crate) fn create_lock_file(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &Path,
    tables: &Path,
) -> ReedResult<LockFile> {
    let flags = OFlags::RDWR | OFlags::CREATE;
    open_lock_file(dir, name, path, tables, flags)?.ok_or_else(|| {
        let gone = io::Error::from(io::ErrorKind::NotFound);
        ReedError::io("open_lock_file", path, &gone)
    })
}

/// Opens the lock file `name` in `dir` read-only, or `None` if there is none.
///
/// # Errors
///
/// As [`create_lock_file`].
pub(crate) fn existing_lock_file(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &Path,
    tables: &Path,
) -> ReedResult<Option<LockFile>> {
    open_lock_file(dir, name, path, tables, OFlags::RDONLY)
}

/// Opens the lock file `name` in `dir` for reading and writing without
/// creating it, or `None` if there is none.
///
/// # Errors
///
/// As [`create_lock_file`].
pub(crate) fn writable_lock_file(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &Path,
    tables: &Path,
) -> ReedResult<Option<LockFile>> {
    open_lock_file(dir, name, path, tables, OFlags::RDWR)
}

fn open_lock_file(
    dir: BorrowedFd<'_>,
    name: &str,
    path: &Path,
    tables: &Path,
    access: OFlags,
) -> ReedResult<Option<LockFile>> {
    let flags = access | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let mode = Mode::from_bits_truncate(0o666);
    let opened = match rustix::fs::openat(dir, name, flags | no_access_times(), mode) {
        // O_NOATIME is for the file's owner only: open without it.
        Err(Errno::PERM) => rustix::fs::openat(dir, name, flags, mode),
        other => other,
    };
    let fd = match opened {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(None),
        Err(error) => {
            return Err(match stat_at(dir, name).ok().flatten().map(|f| f.found) {
                Some(Found::SymbolicLink) => refused("open_lock_file", path, tables, Refusal::Link),
                Some(found) if found != Found::RegularFile => refused(
                    "open_lock_file",
                    path,
                    tables,
                    Refusal::NotARegularFile(found),
                ),
                _ => ReedError::io("open_lock_file", path, &error.into()),
            });
        }
    };
    let facts = facts_of(&fd).map_err(|e| ReedError::io("open_lock_file", path, &e))?;
    if facts.found != Found::RegularFile {
        let why = Refusal::NotARegularFile(facts.found);
        return Err(refused("open_lock_file", path, tables, why));
    }
    // No link (0) means deleted since it was opened: the caller's check that
    // the locked file is still at its path sees that and starts again.
    if facts.links > 1 {
        let why = Refusal::HardLinked(facts.links);
        return Err(refused("open_lock_file", path, tables, why));
    }
    Ok(Some(LockFile {
        file: File::from(fd),
        facts,
    }))
}

/// `O_NOATIME` where there is one: a kept lock file is read once per
/// release to wake waiters (see `held`), and an access time written each
/// time would cost an inode update. The kernel allows it to the file's
/// owner only; [`open_lock_file`] opens without it otherwise.
#[cfg(target_os = "linux")]
fn no_access_times() -> OFlags {
    OFlags::NOATIME
}

/// No `O_NOATIME` here.
#[cfg(not(target_os = "linux"))]
fn no_access_times() -> OFlags {
    OFlags::empty()
}

/// The first pause after a failed attempt.
const FIRST_PAUSE: Duration = Duration::from_micros(20);

/// The longest pause between two attempts. It bounds the hand-off latency
/// of a poll (a release is noticed at most this long after it happens, plus
/// the timer slack and the scheduler's wake-up delay) and sets the cost of
/// waiting (one wake-up, about 20-25 us of CPU on the machine it was tuned
/// on, per pause): 1 ms gave a median of 0.33-0.62 ms and 1.6-2.5% of a core
/// per waiter, 250 us 0.11-0.14 ms and 5.3-7.1%.
const MAX_PAUSE: Duration = Duration::from_millis(1);

/// Pauses that double from [`FIRST_PAUSE`] up to [`MAX_PAUSE`].
#[derive(Debug, Clone)]
pub(crate) struct Backoff {
    next: Duration,
}

impl Backoff {
    /// A back-off whose first pause is [`FIRST_PAUSE`].
    pub(crate) fn new() -> Self {
        Backoff { next: FIRST_PAUSE }
    }

    /// The next pause; every call doubles it until [`MAX_PAUSE`].
    pub(crate) fn next_pause(&mut self) -> Duration {
        let pause = self.next;
        self.next = (self.next * 2).min(MAX_PAUSE);
        pause
    }
}

/// How a deadline-bounded poll ended without an error.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Polled<T> {
    /// An attempt succeeded.
    Ready(T),
    /// The last attempt, made at or after the deadline, failed; this long
    /// had passed since `start`.
    TimedOut(Duration),
}

/// Calls `attempt` until it returns `Some`, it fails, or `timeout` has
/// passed since `start`.
///
/// The first attempt is made at once, and one more is made at the deadline,
/// so a zero timeout means exactly one attempt. Pauses never overshoot the
/// deadline by more than the scheduler's wake-up delay. An error from
/// `attempt` is returned at once: only `None` ("try again") is retried.
pub(crate) fn poll_until<T>(
    start: Instant,
    timeout: Duration,
    mut attempt: impl FnMut() -> ReedResult<Option<T>>,
) -> ReedResult<Polled<T>> {
    let mut backoff = Backoff::new();
    loop {
        if let Some(value) = attempt()? {
            return Ok(Polled::Ready(value));
        }
        let elapsed = start.elapsed();
        let Some(left) = timeout.checked_sub(elapsed).filter(|left| !left.is_zero()) else {
            return Ok(Polled::TimedOut(elapsed));
        };
        thread::sleep(backoff.next_pause().min(left));
    }
}

#[cfg(test)]
#[path = "flock_test.rs"]
mod tests;
