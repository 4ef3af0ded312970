// SPDX-License-Identifier: Apache-2.0
//! The mark of a queue directory that may hold counts of failed applies
//! (`<id>.attempts`): an empty subdirectory, [`MARKER`], made before the
//! first count is written into the directory and never removed with it.
//!
//! A removal must delete an entry's count with the entry, but counts are
//! rare, and looking for one on every removal (an `unlink` that nearly
//! always fails) cost more than the rest of a removal. The removal reads
//! instead the queue directory's link count, which the check that its kept
//! descriptor is still `tables/<table>/queue` fetches anyway: a directory
//! has two links plus one per subdirectory, so 2 says no subdirectory, no
//! marker, and so no count is there. Any other number (the marker,
//! `corrupt/`, or a file system that does not count subdirectories, as
//! Btrfs reports 1) makes the removal look for the count, as before.
//!
//! A process keeps the queue directory's link count while the table
//! directory does not change (see `kept_queue`), so a count's writer also
//! moves the table directory's times ([`announce`]) after the marker is
//! there and before it writes the count: every kept link count from before
//! is then looked at again.
//!
//! Counts written by an earlier version of this crate, without a marker,
//! are marked when a producer or a consumer lists the directory and sees
//! one (a consumer lists before it removes what it read). That marker
//! does not move the table directory's times (the listing has only the
//! queue directory at hand): a process that kept the link count from
//! before may leave such a count behind with its entry, as every process
//! did before the marker existed (a count left behind names an id that is
//! never used again, and is only a small file). A count written
//! between a removal's look at the link count and its `unlink` of the
//! entry stays behind, as it would have with any earlier way of looking:
//! counts are written under the table's lock, and the coordinator removes
//! under it too.

use std::io;
use std::os::fd::BorrowedFd;

use rustix::fs::{Mode, Timespec, Timestamps, UTIME_NOW, UTIME_OMIT};
use rustix::io::Errno;

use crate::no_follow::{Found, stat_at};

/// The marker's name in the queue directory (a name the old module, which
/// reads only `*.pending`, ignores).
pub(crate) const MARKER: &str = ".attempts-kept";

/// Makes the marker if it is not there yet.
///
/// # Errors
///
/// The failure to make it, or `AlreadyExists` naming what is there instead
/// when that is not a directory (then removals could not see the mark, so
/// no count may be written).
pub(crate) fn mark(queue: BorrowedFd<'_>) -> io::Result<()> {
    match rustix::fs::mkdirat(queue, MARKER, Mode::from_raw_mode(0o755)) {
        Ok(()) => Ok(()),
        Err(Errno::EXIST) => match stat_at(queue, MARKER)? {
            Some(facts) if facts.found == Found::Directory => Ok(()),
            found => Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{MARKER} in the queue directory {}, not the directory that marks a \
                     queue holding counts of failed applies",
                    found.map_or("is gone", |facts| facts.found.describe())
                ),
            )),
        },
        Err(e) => Err(e.into()),
    }
}

/// Moves the table directory's modification (and so change) time to now,
/// so that a process that kept the queue directory's link count from
/// before looks at it again (see `kept_queue`). Called by a count's writer
/// after [`mark`] and before the count is written.
///
/// # Errors
///
/// The failure to set the time (then no count may be written).
pub(crate) fn announce(table: BorrowedFd<'_>) -> io::Result<()> {
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_NOW,
        },
    };
    rustix::fs::futimens(table, &times)?;
    Ok(())
}

/// After a listing of the queue directory: marks it when the listing saw a
/// count (`saw_counts`) but not the marker (`saw_marker`), as a count an
/// earlier version wrote leaves it. Best effort: a marker that cannot be
/// made only leaves a count behind with its entry's removal.
pub(crate) fn mark_after_listing(queue: BorrowedFd<'_>, saw_counts: bool, saw_marker: bool) {
    if saw_counts && !saw_marker {
        let _ = mark(queue);
    }
}

/// Whether a removal must look for an entry's count, from the queue
/// directory's link count when it is known: unless it is 2 (no
/// subdirectory, so no marker).
pub(crate) fn may_hold_counts(queue_links: Option<u64>) -> bool {
    queue_links != Some(2)
}

// Tested with the counts themselves, in `attempts_test.rs`.
