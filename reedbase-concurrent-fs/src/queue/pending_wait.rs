// SPDX-License-Identifier: Apache-2.0
//! Waiting for a queued write to leave the queue, for
//! `WriteCoordinator::submit_grouped`: the writer sleeps until a lock holder
//! has removed its entry, or until the table's lock may have come free (so
//! that the writer can take it and apply the queue itself).
//!
//! One inotify instance (taken from and given back to the lock waiters'
//! idle ones, see `lock::notify`) watches the queue directory for an entry
//! deleted or moved out, and the table directory for any event on
//! `write.lock` (a release closes, reads or changes it). Both are watched
//! through the descriptors opened for the wait (`/proc/self/fd/<n>`), so
//! nothing below the base directory is looked up by name. The entry is
//! looked for once the watches are in place, so a removal just before is
//! not missed. Where no watch can be made (no inotify, no `/proc`, too
//! many instances), the wait is a pause of
//! [`PENDING_POLL`] before
//! one look, as the trait's default.

use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::backend::PENDING_POLL;
use reedbase_concurrent_core::{ReedError, ReedResult};
use rustix::event::{PollFd, PollFlags, Timespec, poll};
use rustix::fs::inotify::{self, ReadFlags, WatchFlags};
use rustix::io::Errno;

use super::entry_id::{check_queue_id, pending_file_name};
use crate::lock::notify::{LOCK_FILE, put_back_instance, take_instance};
use crate::no_follow::stat_at;
use crate::tables_dir::{BaseDir, Level, TablePaths};

/// `wait_while_pending`: see the [module docs](self).
pub(crate) fn wait_while_pending(
    base: &BaseDir,
    table_name: &str,
    queue_id: &str,
    timeout: Duration,
) -> ReedResult<bool> {
    let paths = TablePaths::new(base.path(), table_name)?;
    check_queue_id(queue_id)?;
    let Some(queue) = base.open(&paths, Level::Queue, "read_queue_dir")? else {
        return Ok(false);
    };
    let name = pending_file_name(queue_id);
    let pending = || {
        stat_at(&queue, &name)
            .map(|found| found.is_some())
            .map_err(|e| ReedError::io("read_queue_file", &paths.queue_dir.join(&name), &e))
    };
    let table = base.open(&paths, Level::Table, "read_table_dir")?;
    let watch = table
        .as_ref()
        .and_then(|table| PendingWatch::new(table.as_fd(), queue.as_fd()));
    let Some(mut watch) = watch else {
        std::thread::sleep(timeout.min(PENDING_POLL));
        return pending();
    };
    if !pending()? {
        return Ok(false);
    }
    // An error of the watch ends the wait early: the caller looks again
    // and tries the lock, as after any wake-up.
    let _ = watch.wait(timeout, name.as_bytes());
    pending()
}

/// The two watches of one wait, on one inotify instance.
struct PendingWatch {
    inotify: Option<OwnedFd>,
    queue_wd: i32,
    table_wd: i32,
}

impl Drop for PendingWatch {
    fn drop(&mut self) {
        if let Some(inotify) = self.inotify.take() {
            // Fails harmlessly for a watch that has ended already.
            let _ = inotify::remove_watch(&inotify, self.queue_wd);
            let _ = inotify::remove_watch(&inotify, self.table_wd);
            put_back_instance(inotify);
        }
    }
}

impl PendingWatch {
    fn new(table: BorrowedFd<'_>, queue: BorrowedFd<'_>) -> Option<PendingWatch> {
        #[cfg(test)]
        if crate::lock::notify::NO_WATCH.with(std::cell::Cell::get) {
            return None;
        }
        let inotify = take_instance()?;
        let watch = |dir: BorrowedFd<'_>, mask: WatchFlags| {
            let path = format!("/proc/self/fd/{}", dir.as_raw_fd());
            inotify::add_watch(&inotify, path, WatchFlags::ONLYDIR | mask)
        };
        let ended = WatchFlags::DELETE_SELF | WatchFlags::MOVE_SELF;
        let queue_wd = watch(queue, WatchFlags::DELETE | WatchFlags::MOVED_FROM | ended);
        let table_wd = watch(
            table,
            WatchFlags::ACCESS
                | WatchFlags::CLOSE_WRITE
                | WatchFlags::CLOSE_NOWRITE
                | WatchFlags::ATTRIB
                | WatchFlags::DELETE
                | WatchFlags::CREATE
                | WatchFlags::MOVED_FROM
                | WatchFlags::MOVED_TO
                | ended,
        );
        let (Ok(queue_wd), Ok(table_wd)) = (queue_wd, table_wd) else {
            for wd in [queue_wd, table_wd].into_iter().flatten() {
                let _ = inotify::remove_watch(&inotify, wd);
            }
            put_back_instance(inotify);
            return None;
        };
        Some(PendingWatch {
            inotify: Some(inotify),
            queue_wd,
            table_wd,
        })
    }

    /// Sleeps until `entry` leaves the queue directory, `write.lock` has an
    /// event, a watched directory goes, the events overflow, or `timeout`.
    fn wait(&mut self, timeout: Duration, entry: &[u8]) -> rustix::io::Result<()> {
        let until = Instant::now() + timeout;
        let Some(inotify) = self.inotify.as_ref() else {
            return Err(Errno::BADF);
        };
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(());
            }
            let timeout = Timespec {
                tv_sec: i64::try_from(left.as_secs()).unwrap_or(i64::MAX),
                tv_nsec: i64::from(left.subsec_nanos()),
            };
            let mut fds = [PollFd::new(inotify, PollFlags::IN)];
            match poll(&mut fds, Some(&timeout)) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(Errno::INTR) => continue,
                Err(error) => return Err(error),
            }
            if self.woken(inotify.as_fd(), entry)? {
                return Ok(());
            }
        }
    }

    /// Reads the events queued now: whether one of them ends the wait.
    fn woken(&self, inotify: BorrowedFd<'_>, entry: &[u8]) -> rustix::io::Result<bool> {
        let mut buffer = [MaybeUninit::<u8>::uninit(); 2048];
        let mut reader = inotify::Reader::new(inotify, &mut buffer);
        let mut woken = false;
        loop {
            let event = match reader.next() {
                Ok(event) => event,
                Err(Errno::AGAIN | Errno::INTR) => return Ok(woken),
                Err(error) => return Err(error),
            };
            let name = event.file_name().map(|name| name.to_bytes());
            let flags = event.events();
            let (in_queue, in_table) = (event.wd() == self.queue_wd, event.wd() == self.table_wd);
            let ended = ReadFlags::IGNORED
                | ReadFlags::UNMOUNT
                | ReadFlags::DELETE_SELF
                | ReadFlags::MOVE_SELF;
            if flags.contains(ReadFlags::QUEUE_OVERFLOW)
                || ((in_queue || in_table) && flags.intersects(ended))
                || (in_queue && name == Some(entry))
                || (in_table && name == Some(LOCK_FILE))
            {
                woken = true;
            }
            if reader.is_buffer_empty() {
                return Ok(woken);
            }
        }
    }
}

#[cfg(test)]
#[path = "pending_wait_test.rs"]
mod tests;
