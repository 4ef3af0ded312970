// SPDX-License-Identifier: Apache-2.0
//! The consumers' view of a queue directory: its entries in delivery order,
//! from one listing read through the queue directory's descriptor.
//!
//! Legacy entries (the old module's, whose ids carry no order) come first,
//! ordered by creation time as the old module ordered them (an entry whose
//! creation time cannot be read sorts first), then by name; sequenced
//! entries follow in sequence order. Only legacy entries are stat'ed, once
//! each (without following a link), outside the sort, so a queue written by
//! this crate alone is ordered from one directory listing.
//!
//! A listing of a directory that changes while it is read need not be a
//! snapshot: POSIX `readdir` may miss an entry renamed in during it and
//! return one renamed in after that, which would be delivered first. So a
//! listing is checked by a second one: every entry that an entry of the
//! first must follow was renamed in before the first ended, so the second
//! returns it (unless it is gone). If the second holds an entry the first
//! did not that sorts before the first's last, the check starts again from
//! the second.

use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::time::SystemTime;

use reedbase_concurrent_core::{ReedError, ReedResult, validate_table_name};

use super::counts_marker;
use super::entry_id::{is_attempts_file, parse_sequence, pending_stem};
use crate::no_follow::for_each_name;
use crate::no_follow::open_beneath;
use crate::tables_dir::BaseDir;

/// One entry file found in the queue directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The file's name in the queue directory.
    pub(crate) name: OsString,
    /// The file stem: the entry's id (lossy if the name is not UTF-8).
    pub(crate) id: String,
    /// The id's sequence number; `None` for a legacy entry.
    pub(crate) sequence: Option<u128>,
}

impl Candidate {
    fn of(name: &OsStr) -> Option<Candidate> {
        let id = pending_stem(name)?.to_string_lossy().into_owned();
        Some(Candidate {
            name: name.to_os_string(),
            sequence: parse_sequence(&id),
            id,
        })
    }

    /// True for an entry without a sequence number (the old module's).
    pub(crate) fn is_legacy(&self) -> bool {
        self.sequence.is_none()
    }
}

/// How many times a listing is checked by another before the last is
/// taken as it is. A check fails only when an entry is renamed in below the
/// highest one listed, which producers (numbering above the highest entry
/// present) do not do while that entry is pending.
const LISTING_CHECKS: usize = 8;

#[cfg(test)]
thread_local! {
    /// Set by tests: a name the next listing of this thread misses, as
    /// `readdir` may miss an entry renamed in while it runs.
    pub(super) static MISS_ONCE: std::cell::RefCell<Option<OsString>> =
        const { std::cell::RefCell::new(None) };
    /// How many times this thread listed a queue directory.
    pub(super) static LISTED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The queue's entries in delivery order, from a listing checked by a
/// second one (see the [module docs](self)): no entry is missing that an
/// entry returned must follow.
///
/// # Errors
///
/// [`ReedError::IoError`] `read_queue_dir` naming `queue_dir`.
pub(crate) fn ordered_entries(
    queue: BorrowedFd<'_>,
    queue_dir: &Path,
) -> ReedResult<Vec<Candidate>> {
    ordered_entries_unless_quiet(queue, queue_dir, || false)
}

/// As [`ordered_entries`], without the second listing when `quiet`, asked
/// after the first, says that no entry arrived while it was read (as a
/// caller's watch of the directory can tell).
///
/// # Errors
///
/// [`ReedError::IoError`] `read_queue_dir` naming `queue_dir`.
pub(crate) fn ordered_entries_unless_quiet(
    queue: BorrowedFd<'_>,
    queue_dir: &Path,
    quiet: impl FnOnce() -> bool,
) -> ReedResult<Vec<Candidate>> {
    let mut listed = ordered_once(queue, queue_dir)?;
    // An empty listing delivers nothing, so nothing out of order.
    if listed.is_empty() || quiet() {
        return Ok(listed);
    }
    for _ in 0..LISTING_CHECKS {
        // A listing reads from the descriptor's position: back to the start.
        rustix::fs::seek(queue, rustix::fs::SeekFrom::Start(0))
            .map_err(|e| ReedError::io("read_queue_dir", queue_dir, &e.into()))?;
        let again = ordered_once(queue, queue_dir)?;
        if !misses_an_earlier_entry(&listed, &again) {
            break;
        }
        listed = again;
    }
    Ok(listed)
}

/// True when `again` holds an entry that `listed` does not and that sorts
/// before `listed`'s last entry (a legacy entry, or a lower sequence).
fn misses_an_earlier_entry(listed: &[Candidate], again: &[Candidate]) -> bool {
    let Some(last) = listed.last() else {
        return false;
    };
    let names: std::collections::HashSet<&OsStr> =
        listed.iter().map(|c| c.name.as_os_str()).collect();
    again.iter().any(|candidate| {
        !names.contains(candidate.name.as_os_str())
            && match (candidate.sequence, last.sequence) {
                (None, _) => true,
                (Some(_), None) => false,
                (Some(sequence), Some(highest)) => {
                    (sequence, &candidate.name) < (highest, &last.name)
                }
            }
    })
}

/// One listing of the queue, in delivery order.
fn ordered_once(queue: BorrowedFd<'_>, queue_dir: &Path) -> ReedResult<Vec<Candidate>> {
    #[cfg(test)]
    LISTED.with(|listed| listed.set(listed.get() + 1));
    #[cfg(test)]
    let missed = MISS_ONCE.with(|missed| missed.borrow_mut().take());
    let mut legacy = Vec::new();
    let mut sequenced = Vec::new();
    let (mut counts, mut marked) = (false, false);
    for_each_name(queue, |name| match Candidate::of(name) {
        #[cfg(test)]
        Some(_) if missed.as_deref() == Some(name) => {}
        Some(candidate) if candidate.is_legacy() => legacy.push(candidate),
        Some(candidate) => sequenced.push(candidate),
        None => {
            counts |= is_attempts_file(name);
            marked |= name == counts_marker::MARKER;
        }
    })
    .map_err(|e| ReedError::io("read_queue_dir", queue_dir, &e))?;
    // Before this consumer removes what it reads.
    counts_marker::mark_after_listing(queue, counts, marked);
    sequenced.sort_unstable_by(|a, b| (a.sequence, &a.name).cmp(&(b.sequence, &b.name)));
    let mut ordered = order_legacy(queue, queue_dir, legacy);
    ordered.append(&mut sequenced);
    Ok(ordered)
}

/// Orders legacy entries by creation time (unknown first), then by name.
/// Each file is stat'ed once, outside the sort; one that vanished meanwhile
/// sorts first and is skipped when it cannot be read.
fn order_legacy(
    queue: BorrowedFd<'_>,
    queue_dir: &Path,
    entries: Vec<Candidate>,
) -> Vec<Candidate> {
    if entries.len() < 2 {
        return entries;
    }
    let mut timed: Vec<(Option<SystemTime>, Candidate)> = entries
        .into_iter()
        .map(|candidate| (created_at(queue, queue_dir, &candidate.name), candidate))
        .collect();
    timed.sort_unstable_by(|a, b| (a.0, &a.1.name).cmp(&(b.0, &b.1.name)));
    timed.into_iter().map(|(_, candidate)| candidate).collect()
}

/// The creation time of `name` in the queue directory, without following a
/// link (a link sorts by its own creation time, as in the old module).
#[cfg(target_os = "linux")]
fn created_at(queue: BorrowedFd<'_>, _queue_dir: &Path, name: &OsStr) -> Option<SystemTime> {
    use rustix::fs::{AtFlags, StatxFlags};
    let stat = rustix::fs::statx(queue, name, AtFlags::SYMLINK_NOFOLLOW, StatxFlags::BTIME).ok()?;
    if !StatxFlags::from_bits_retain(stat.stx_mask).contains(StatxFlags::BTIME) {
        return None;
    }
    let secs = u64::try_from(stat.stx_btime.tv_sec).ok()?;
    let since_epoch = std::time::Duration::new(secs, stat.stx_btime.tv_nsec.min(999_999_999));
    SystemTime::UNIX_EPOCH.checked_add(since_epoch)
}

/// The creation time of `name` in the queue directory, without following a
/// link (a link sorts by its own creation time, as in the old module).
#[cfg(not(target_os = "linux"))]
fn created_at(_queue: BorrowedFd<'_>, queue_dir: &Path, name: &OsStr) -> Option<SystemTime> {
    std::fs::symlink_metadata(queue_dir.join(name))
        .and_then(|m| m.created())
        .ok()
}

/// The number of entry files (`.pending`) in the queue directory.
///
/// # Errors
///
/// [`ReedError::IoError`] `read_queue_dir` naming `queue_dir`.
pub(crate) fn count_entries(queue: BorrowedFd<'_>, queue_dir: &Path) -> ReedResult<usize> {
    let mut count = 0;
    for_each_name(queue, |name| {
        if pending_stem(name).is_some() {
            count += 1;
        }
    })
    .map_err(|e| ReedError::io("read_queue_dir", queue_dir, &e))?;
    Ok(count)
}

/// The tables under `<base>/tables/` (valid names only) whose queue
/// directories hold at least one entry file, sorted by name. A table whose
/// directory or queue directory is a link, or not a directory, is not one of
/// this layout's tables and is left out.
///
/// # Errors
///
/// [`ReedError::IoError`] `read_tables_dir` for a listing failure other than
/// a missing directory, and the errors of [`count_entries`].
pub(crate) fn tables_with_pending(base: &BaseDir) -> ReedResult<Vec<String>> {
    let tables_dir = base.path().join("tables");
    let Some(tables) = base.open_tables("read_tables_dir")? else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for_each_name(tables.as_fd(), |name| {
        if let Some(name) = name
            .to_str()
            .filter(|name| validate_table_name(name).is_ok())
        {
            names.push(name.to_string());
        }
    })
    .map_err(|e| ReedError::io("read_tables_dir", &tables_dir, &e))?;
    names.sort();
    let mut found = Vec::new();
    for name in names {
        let relative = Path::new(&name).join("queue");
        let queue = match open_beneath(tables.as_fd(), &relative) {
            Ok(queue) => queue,
            Err(e) if is_not_a_table(&e) => continue,
            Err(e) => {
                return Err(ReedError::io(
                    "read_queue_dir",
                    &tables_dir.join(&relative),
                    &e,
                ));
            }
        };
        if count_entries(queue.as_fd(), &tables_dir.join(&relative))? > 0 {
            found.push(name);
        }
    }
    Ok(found)
}

/// Missing, a link or not a directory: not a queue of this layout.
fn is_not_a_table(e: &std::io::Error) -> bool {
    e.kind() == std::io::ErrorKind::NotFound
        || [rustix::io::Errno::LOOP, rustix::io::Errno::NOTDIR]
            .iter()
            .any(|errno| e.raw_os_error() == Some(errno.raw_os_error()))
}

#[cfg(test)]
#[path = "listing_test.rs"]
mod tests;
