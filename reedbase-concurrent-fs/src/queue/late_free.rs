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
//! each entry with an `O_PATH` descriptor before unlinking it (no read or
//! write permission needed, no link followed, no FIFO opened), and hands
//! the batch's descriptors to a thread of the process that only closes
//! them: the entries leave the queue when they did before, and their
//! inodes are freed beside the next holder's work.
//!
//! The thread is started the first time it is needed, once per process
//! (again in a forked child, which does not inherit it); where it cannot be
//! started the descriptors are closed at once, as if nothing had been
//! pinned. A process that exits or dies frees what it had pinned.
//! [`wait_closed`] waits until what was handed over so far is closed: the
//! backend's `close_idle` calls it, so that a read-only remount after it
//! finds no removed entry still open.

use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};

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
pub(crate) fn pin(queue: BorrowedFd<'_>, name: &str) -> Option<OwnedFd> {
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

#[cfg(test)]
#[path = "late_free_test.rs"]
mod tests;
