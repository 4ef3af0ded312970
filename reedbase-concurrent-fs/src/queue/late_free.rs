// SPDX-License-Identifier: Apache-2.0
//! Freeing applied entries off the lock holder's path.
//!
//! Unlinking the last name of a file that nothing holds open also frees
//! its inode and data blocks, inside the `unlinkat`. On ext4 that is a
//! second journal handle, and a handle started while the journal commits
//! waits for the commit: under producers that fsync their entries, the
//! lock holder's removal of a batch took 0.4-0.5 ms per entry, nine tenths
//! of its time holding the lock, while every writer of the table waited.
//! A file held open is freed at its last close instead. So the holder pins
//! each entry before unlinking it, and hands the batch's descriptors to a
//! thread of the process that only closes them: the entries leave the
//! queue when they did before, and their inodes are freed beside the next
//! holder's work. The pin is the descriptor the entry was read through
//! when the holder's fetch kept it ([`keep_read`], [`take_read`]: an
//! `FsBackend`'s `get_pending_batch`, which the coordinator's removal
//! follows), else an `O_PATH` descriptor opened for it ([`pin`]: no read or
//! write permission needed, no link followed, no FIFO opened).
//!
//! The thread is started the first time it is needed, once per process
//! (again in a forked child, which does not inherit it); where it cannot be
//! started the descriptors are closed at once, as if nothing had been
//! pinned. A process that exits or dies frees what it had pinned.
//! [`wait_closed`] waits until what was handed over so far is closed: the
//! backend's `close_idle` calls it, so that a read-only remount after it
//! finds no removed entry still open.

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};

use super::watch::DirKey;

/// What the closing thread is asked to do.
enum Job {
    /// Close these.
    Close(Vec<OwnedFd>),
    /// Say so once everything handed over before is closed.
    Tell(Sender<()>),
}

/// The closing thread's queue and the process that started it.
struct Closer {
    pid: u32,
    jobs: Sender<Job>,
}

static CLOSER: Mutex<Option<Closer>> = Mutex::new(None);

#[cfg(test)]
thread_local! {
    /// How many entries this thread pinned before unlinking them, for tests.
    pub(super) static PINNED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// An `O_PATH` descriptor of `name` in `queue`, which keeps its inode from
/// being freed by an unlink; `None` when it cannot be opened (gone already,
/// or out of descriptors), which only means that its unlink frees it.
pub(crate) fn pin(queue: BorrowedFd<'_>, name: impl rustix::path::Arg) -> Option<OwnedFd> {
    let flags = OFlags::PATH | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let pinned = rustix::fs::openat(queue, name, flags, Mode::empty()).ok();
    #[cfg(test)]
    if pinned.is_some() {
        PINNED.with(|pinned| pinned.set(pinned.get() + 1));
    }
    pinned
}

/// Closes `pinned` on the closing thread (started if this process has
/// none), or here when no thread can take them.
pub(crate) fn close_later(pinned: Vec<OwnedFd>) {
    if pinned.is_empty() {
        return;
    }
    let mut closer = CLOSER.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    if closer.as_ref().is_none_or(|closer| closer.pid != pid) {
        *closer = start(pid);
    }
    let Some(running) = closer.as_ref() else {
        drop(pinned);
        return;
    };
    if let Err(mpsc::SendError(job)) = running.jobs.send(Job::Close(pinned)) {
        // The thread is gone (it never ends by itself): close here, and
        // start another next time.
        *closer = None;
        drop(job);
    }
}

/// Waits (at most `limit`) until every descriptor handed to
/// [`close_later`] before the call is closed; `false` if the limit passed
/// first. A process with no closing thread has nothing to wait for.
pub(crate) fn wait_closed(limit: Duration) -> bool {
    let (tell, told) = mpsc::channel();
    {
        let closer = CLOSER.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(running) = closer.as_ref() else {
            return true;
        };
        if running.pid != std::process::id() || running.jobs.send(Job::Tell(tell)).is_err() {
            return true;
        }
    }
    told.recv_timeout(limit).is_ok()
}

fn start(pid: u32) -> Option<Closer> {
    let (jobs, received) = mpsc::channel::<Job>();
    thread::Builder::new()
        .name("reedbase-free".to_string())
        .spawn(move || {
            for job in received {
                match job {
                    Job::Close(pinned) => drop(pinned),
                    Job::Tell(tell) => {
                        let _ = tell.send(());
                    }
                }
            }
        })
        .ok()?;
    Some(Closer { pid, jobs })
}

/// The most read descriptors one process keeps (see [`keep_read`]).
const MAX_READS: usize = 256;

/// The device and inode of a base directory.
pub(crate) type BaseKey = (u64, u64);

/// A kept read descriptor: the base directory and the queue directory it
/// is of, the entry's name, and the descriptor.
type KeptRead = (BaseKey, DirKey, OsString, OwnedFd);

/// Descriptors of entries this process's lock holders read, oldest first.
static READS: Mutex<VecDeque<KeptRead>> = Mutex::new(VecDeque::new());

/// Keeps `fd`, through which the entry `name` of the queue directory `dir`
/// (of the base directory `base`) was read, as its pin for when it is
/// removed ([`take_read`]): a lock holder removes what it read, and a pin
/// it already has costs no `open`. At most [`MAX_READS`] are kept; beyond
/// that the oldest is closed (an entry read and never removed by this
/// process, or read twice).
pub(crate) fn keep_read((base, dir): (BaseKey, DirKey), name: &OsStr, fd: OwnedFd) {
    let evicted = {
        let mut reads = READS.lock().unwrap_or_else(PoisonError::into_inner);
        reads.push_back((base, dir, name.to_os_string(), fd));
        (reads.len() > MAX_READS).then(|| reads.pop_front())
    };
    drop(evicted);
}

/// The descriptor kept by [`keep_read`] for the entry `name` of the queue
/// directory `dir`, taken out of the store. Entries are removed in the
/// order they were read, so the search ends at once in the common case.
pub(crate) fn take_read(dir: DirKey, name: &OsStr) -> Option<OwnedFd> {
    let mut reads = READS.lock().unwrap_or_else(PoisonError::into_inner);
    let at = reads
        .iter()
        .position(|(_, kept_dir, kept, _)| *kept_dir == dir && kept.as_os_str() == name)?;
    reads.remove(at).map(|(_, _, _, fd)| fd)
}

/// Closes the descriptors kept by [`keep_read`] for entries of the base
/// directory `base` (when a backend closes what it keeps, so that nothing
/// of this crate stays open on the file system).
pub(crate) fn close_reads(base: BaseKey) {
    let closed: VecDeque<KeptRead> = {
        let mut reads = READS.lock().unwrap_or_else(PoisonError::into_inner);
        let (closed, kept) = std::mem::take(&mut *reads)
            .into_iter()
            .partition(|(kept_base, ..)| *kept_base == base);
        *reads = kept;
        closed
    };
    drop(closed);
}

/// How many read descriptors are kept for the queue directory `dir` (for
/// tests, which run side by side, each with a directory of its own).
#[cfg(test)]
pub(crate) fn kept_reads_of(dir: DirKey) -> usize {
    READS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(_, kept, _, _)| *kept == dir)
        .count()
}

#[cfg(test)]
#[path = "late_free_test.rs"]
mod tests;
