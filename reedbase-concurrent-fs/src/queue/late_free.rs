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

use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::mpsc::{self, Sender};
use std::sync::{Mutex, PoisonError};
use std::thread;

use rustix::fs::{Mode, OFlags};

/// The closing thread's queue and the process that started it.
struct Closer {
    pid: u32,
    batches: Sender<Vec<OwnedFd>>,
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
    if let Err(mpsc::SendError(pinned)) = running.batches.send(pinned) {
        // The thread is gone (it never ends by itself): close here, and
        // start another next time.
        *closer = None;
        drop(pinned);
    }
}

fn start(pid: u32) -> Option<Closer> {
    let (batches, received) = mpsc::channel::<Vec<OwnedFd>>();
    thread::Builder::new()
        .name("reedbase-free".to_string())
        .spawn(move || received.into_iter().for_each(drop))
        .ok()?;
    Some(Closer { pid, batches })
}

#[cfg(test)]
#[path = "late_free_test.rs"]
mod tests;
