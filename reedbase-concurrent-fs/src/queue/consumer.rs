// SPDX-License-Identifier: Apache-2.0
//! The read path: the head of the queue, judging each entry on its open
//! descriptor, moving corrupt entries aside, and removal by id.

use std::collections::{HashMap, VecDeque};
use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Read as _};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use reedbase_concurrent_core::{
    PendingWrite, ReedError, ReedResult, validate_queue_id, validate_write,
};
use rustix::fs::AtFlags;
use rustix::io::Errno;

use super::codec;
use super::corrupt::{Moved, forget_stuck, forget_stuck_in, move_aside, note_stuck};
use super::entry_id::{MAX_WRITTEN_SEQUENCE, is_beyond_producers};
use super::late_free::{self, BaseKey};
use super::listing::{Candidate, ordered_entries};
use super::watch::{self, DirKey};
use crate::no_follow::{Facts, Opened, open_regular};
use crate::tables_dir::TablePaths;

/// How recently a legacy entry that does not parse must have been modified
/// to be taken for an old-module write still in progress (the old module
/// writes in place, without a temporary file) and skipped rather than moved
/// aside; and how long, from when this process first saw it so, it may stay
/// that way (a modification time in the future says "recent" forever).
const LEGACY_WRITE_GRACE: Duration = Duration::from_secs(2);

/// The most legacy entries remembered as possibly in progress, per process.
const MAX_REMEMBERED: usize = 4096;

/// When this process first saw each legacy entry that did not parse yet
/// looked recently written, by device, inode and name.
static FIRST_SEEN: Mutex<Option<FirstSeen>> = Mutex::new(None);

/// First sightings by device, inode and id.
type FirstSeen = HashMap<(u64, u64, String), Instant>;

/// What one entry turned out to be.
pub(crate) enum Inspected {
    /// Whole and valid, with the descriptor it was read through.
    Ready(PendingWrite, File),
    /// Removed or moved by someone else since the listing.
    Gone,
    /// A legacy entry an old-module producer may still be writing.
    InProgress,
    Corrupt(String),
}

/// The oldest `max` readable entries, moving aside every corrupt entry met
/// on the way. An entry that cannot be moved aside is skipped and
/// remembered (see [`super::corrupt`]); the entries behind it are
/// delivered.
///
/// # Errors
///
/// `IoError` `read_queue_dir` or `read_queue_file` for a failure that says
/// nothing about an entry (too many open files, a device error).
pub(crate) fn pending_batch(
    queue: Option<OwnedFd>,
    paths: &TablePaths,
    max: usize,
    max_entry_bytes: u64,
) -> ReedResult<Vec<(String, PendingWrite)>> {
    let Some(queue) = queue.filter(|_| max > 0) else {
        return Ok(Vec::new());
    };
    let mut entries = VecDeque::from(ordered_entries(queue.as_fd(), &paths.queue_dir)?);
    Ok(take_ready(
        queue.as_fd(),
        None,
        paths,
        &mut entries,
        max,
        max_entry_bytes,
    )?
    .found)
}

/// What [`take_ready`] found.
#[derive(Debug)]
pub(crate) struct Taken {
    /// The ready entries, oldest first.
    pub(crate) found: Vec<(String, PendingWrite)>,
    /// False if an entry was skipped and left in place (an old-module
    /// entry still being written, or one that could not be moved aside).
    pub(crate) settled: bool,
    /// True if `max` entries were found before the candidates ran out.
    pub(crate) complete: bool,
}

/// Inspects `entries` from the front until `max` are ready: the ready ones
/// stay in `entries` (at its front, in order, unless one was skipped), the
/// gone and the moved-aside ones are taken out of it. With `keep_reads`
/// (the base's and the queue directory's devices and inodes), the
/// descriptor each ready entry was read through is kept to pin it at its
/// removal (see [`late_free::keep_read`]); otherwise it is closed.
///
/// # Errors
///
/// As [`pending_batch`].
pub(crate) fn take_ready(
    queue: BorrowedFd<'_>,
    keep_reads: Option<(BaseKey, DirKey)>,
    paths: &TablePaths,
    entries: &mut VecDeque<Candidate>,
    max: usize,
    max_entry_bytes: u64,
) -> ReedResult<Taken> {
    let mut taken = Taken {
        found: Vec::new(),
        settled: true,
        complete: false,
    };
    let mut at = 0;
    while taken.found.len() < max {
        let Some(candidate) = entries.get(at) else {
            return Ok(taken);
        };
        match inspect(queue, paths, candidate, max_entry_bytes)? {
            Inspected::Ready(write, file) => {
                if let Some(keys) = keep_reads {
                    late_free::keep_read(keys, &candidate.name, file.into());
                }
                taken.found.push((candidate.id.clone(), write));
                at += 1;
            }
            Inspected::Gone => {
                entries.remove(at);
            }
            Inspected::InProgress => {
                taken.settled = false;
                at += 1;
            }
            Inspected::Corrupt(reason) => {
                let path = paths.queue_dir.join(&candidate.name);
                match move_aside(queue, paths, &candidate.name, &candidate.id, &reason) {
                    Ok(_) => {
                        forget_stuck(&path);
                        entries.remove(at);
                    }
                    Err(error) => {
                        note_stuck(path, &candidate.id, &reason, &error);
                        taken.settled = false;
                        at += 1;
                    }
                }
            }
        }
    }
    taken.complete = true;
    Ok(taken)
}

pub(crate) fn inspect(
    queue: BorrowedFd<'_>,
    paths: &TablePaths,
    candidate: &Candidate,
    max_entry_bytes: u64,
) -> ReedResult<Inspected> {
    if let Err(e) = validate_queue_id(&candidate.id) {
        return Ok(Inspected::Corrupt(format!(
            "the file name is not a queue id: {e}"
        )));
    }
    if let Some(sequence) = candidate.sequence.filter(|s| is_beyond_producers(*s)) {
        return Ok(Inspected::Corrupt(beyond_producers(sequence)));
    }
    let path = paths.queue_dir.join(&candidate.name);
    let read_error = |e: &io::Error| ReedError::io("read_queue_file", &path, e);
    let (file, facts) = match open_regular(queue, &candidate.name) {
        Ok(Opened::File(file, facts)) => (file, facts),
        Ok(Opened::Missing) => return Ok(Inspected::Gone),
        Ok(Opened::NotRegular(found)) => {
            return Ok(Inspected::Corrupt(format!(
                "it {}, not a regular file",
                found.describe()
            )));
        }
        Err(e) if says_entry_is_unreadable(&e) => {
            return Ok(Inspected::Corrupt(format!("the file cannot be read: {e}")));
        }
        Err(e) => return Err(read_error(&e)),
    };
    if facts.size > max_entry_bytes {
        return Ok(Inspected::Corrupt(too_large(facts.size, max_entry_bytes)));
    }
    let bytes = match read_whole(&file, facts.size, max_entry_bytes) {
        Ok(bytes) if bytes.len() as u64 > max_entry_bytes => {
            return Ok(Inspected::Corrupt(too_large(
                bytes.len() as u64,
                max_entry_bytes,
            )));
        }
        Ok(bytes) => bytes,
        Err(e) if says_entry_is_unreadable(&e) => {
            return Ok(Inspected::Corrupt(format!("the file cannot be read: {e}")));
        }
        Err(e) => return Err(read_error(&e)),
    };
    let write = match codec::decode(&bytes) {
        Ok(write) => write,
        Err(_) if candidate.is_legacy() && may_be_in_progress(&facts, &candidate.id) => {
            return Ok(Inspected::InProgress);
        }
        Err(reason) => return Ok(Inspected::Corrupt(reason)),
    };
    match validate_write(&write) {
        Ok(()) => Ok(Inspected::Ready(write, file)),
        Err(e) => Ok(Inspected::Corrupt(format!(
            "the entry holds a row that would corrupt the table: {e}"
        ))),
    }
}

/// The bytes of the entry `file`, which `fstat` found `size` bytes long,
/// reading at most one byte past `limit` (so a file that grew since is
/// never read whole). One `read` of `size + 1` bytes that returns `size`
/// has met the end; a read that returns more (the file grew) or less (a
/// file system that returns short reads) goes on to the end or the limit.
fn read_whole(mut file: &File, size: u64, limit: u64) -> io::Result<Vec<u8>> {
    let expected = usize::try_from(size.min(limit)).unwrap_or(usize::MAX - 1);
    let mut bytes = vec![0; expected + 1];
    let first = loop {
        match file.read(&mut bytes) {
            Ok(read) => break read,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    };
    bytes.truncate(first);
    if first != expected {
        let left = limit.saturating_add(1).saturating_sub(first as u64);
        file.take(left).read_to_end(&mut bytes)?;
    }
    Ok(bytes)
}

/// The reason given for an entry whose sequence no producer writes.
pub(crate) fn beyond_producers(sequence: u128) -> String {
    format!(
        "its sequence number {sequence} is above {MAX_WRITTEN_SEQUENCE}, the highest a producer \
         of this crate writes (that would take 10^19 writes without the queue ever emptying): \
         taken for a crafted or damaged name"
    )
}

fn too_large(size: u64, limit: u64) -> String {
    format!(
        "the file is {size} bytes, larger than the limit of {limit} bytes \
         (FsOptions::max_entry_bytes); it was not read"
    )
}

/// True for read failures that are about the entry itself. Other failures
/// (too many open files, out of memory, a device error) are returned to the
/// caller instead: moving a good entry aside for a passing condition would
/// withhold it from the queue.
fn says_entry_is_unreadable(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::PermissionDenied
            | io::ErrorKind::IsADirectory
            | io::ErrorKind::InvalidData
            | io::ErrorKind::UnexpectedEof
    )
}

/// True while a legacy entry that does not parse may still be being
/// written: modified within [`LEGACY_WRITE_GRACE`] (or in the future), and
/// first seen so by this process less than [`LEGACY_WRITE_GRACE`] ago.
fn may_be_in_progress(facts: &Facts, id: &str) -> bool {
    let recent = SystemTime::now()
        .duration_since(facts.modified)
        .map_or(true, |age| age < LEGACY_WRITE_GRACE);
    let mut remembered = FIRST_SEEN.lock().unwrap_or_else(PoisonError::into_inner);
    let seen = remembered.get_or_insert_with(HashMap::new);
    let key = (facts.dev, facts.ino, id.to_string());
    if !recent {
        seen.remove(&key);
        return false;
    }
    if seen.len() >= MAX_REMEMBERED && !seen.contains_key(&key) {
        seen.retain(|_, first| first.elapsed() < LEGACY_WRITE_GRACE);
    }
    let first = *seen.entry(key).or_insert_with(Instant::now);
    first.elapsed() < LEGACY_WRITE_GRACE
}

/// Removes an entry by (validated) id, and its count of failed applies
/// unless `attempts` is false (none can exist); `Ok(false)` if there was
/// no entry. With `pinned`, the entry is pinned first and its descriptor
/// pushed there, so that closing it later frees it (see `late_free`): the
/// descriptor it was read through when this process kept it for the queue
/// directory `dir`, else one opened for it.
///
/// # Errors
///
/// `IoError` `remove_queue_file` naming the path.
pub(crate) fn remove_entry(
    queue: BorrowedFd<'_>,
    dir: Option<DirKey>,
    paths: &TablePaths,
    queue_id: &str,
    attempts: bool,
    pinned: Option<&mut Vec<OwnedFd>>,
) -> ReedResult<bool> {
    let Some(name) = super::entry_id::PendingName::new(queue_id) else {
        // No entry can have such an id.
        return Ok(false);
    };
    // The descriptor the entry was read through, if this process kept it,
    // else (for a later close) one opened to pin it.
    let pin = pinned.and_then(|pinned| {
        let read = dir.and_then(|dir| late_free::take_read(dir, name.as_os_str()));
        Some((
            pinned,
            read.or_else(|| late_free::pin(queue, name.as_c_str()))?,
        ))
    });
    // The watch sees no deletion: this removal tells it (see `watch`).
    let noted = dir.and_then(watch::removal);
    let unlinked = rustix::fs::unlinkat(queue, name.as_c_str(), AtFlags::empty());
    if let Some(noted) = noted {
        noted.ended(unlinked.is_ok().then(|| name.as_os_str()));
    }
    if let Some((pinned, fd)) = pin {
        pinned.push(fd);
    }
    match unlinked {
        Ok(()) => {
            if attempts {
                forget_failed_applies(queue, queue_id);
            }
            forget_stuck_in(&paths.queue_dir, name.as_os_str());
            Ok(true)
        }
        Err(Errno::NOENT) => Ok(false),
        Err(e) => Err(ReedError::io(
            "remove_queue_file",
            &paths.queue_dir.join(name.as_os_str()),
            &e.into(),
        )),
    }
}

/// Moves the pending entry `queue_id` to `corrupt/` with `reason` (a dead
/// letter); its count of failed applies goes with it.
///
/// # Errors
///
/// As [`super::corrupt::move_aside`].
pub(crate) fn move_entry_aside(
    queue: BorrowedFd<'_>,
    paths: &TablePaths,
    queue_id: &str,
    reason: &str,
) -> ReedResult<Moved> {
    let name = super::entry_id::pending_file_name(queue_id);
    let moved = move_aside(queue, paths, OsStr::new(&name), queue_id, reason)?;
    if matches!(moved, Moved::Aside(_)) {
        forget_failed_applies(queue, queue_id);
    }
    Ok(moved)
}

/// Deletes the entry's count of failed applies, if it has one.
fn forget_failed_applies(queue: BorrowedFd<'_>, queue_id: &str) {
    let name = super::entry_id::attempts_file_name(queue_id);
    let _ = rustix::fs::unlinkat(queue, name.as_str(), AtFlags::empty());
}

#[cfg(test)]
#[path = "consumer_test.rs"]
mod tests;
