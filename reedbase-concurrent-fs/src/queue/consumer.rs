// SPDX-License-Identifier: Apache-2.0
//! The read path: the head of the queue, moving corrupt entries aside, and
//! removal by id.

use std::fs;
use std::io;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_core::{
    MovedAside, PendingWrite, ReedError, ReedResult, validate_queue_id, validate_write,
};

use super::codec;
use super::corrupt::{find_moved_aside, move_aside};
use super::entry_id::{attempts_file_name, is_legacy_id, pending_file_name};
use super::listing::{Candidate, ordered_entries};
use crate::paths::TablePaths;

/// How recently a legacy entry that does not parse must have been modified
/// to be taken for an old-module write still in progress (the old module
/// writes in place, without a temporary file) and skipped rather than
/// moved aside.
pub(crate) const LEGACY_WRITE_GRACE: Duration = Duration::from_secs(2);

/// What one entry turned out to be.
enum Inspected {
    Ready(PendingWrite),
    /// Removed or moved by someone else since the listing.
    Gone,
    /// A legacy entry an old-module producer may still be writing.
    InProgress,
    Corrupt(String),
}

/// The oldest readable entry, moving aside every corrupt entry before it.
pub(crate) fn next_pending(paths: &TablePaths) -> ReedResult<Option<(String, PendingWrite)>> {
    Ok(pending_batch(paths, 1)?.into_iter().next())
}

/// The oldest `max` readable entries, moving aside every corrupt entry
/// met on the way.
pub(crate) fn pending_batch(
    paths: &TablePaths,
    max: usize,
) -> ReedResult<Vec<(String, PendingWrite)>> {
    let mut found = Vec::new();
    if max == 0 {
        return Ok(found);
    }
    let Some(candidates) = ordered_entries(&paths.queue_dir)? else {
        return Ok(found);
    };
    for candidate in candidates {
        match inspect(&candidate)? {
            Inspected::Ready(write) => {
                found.push((candidate.id, write));
                if found.len() == max {
                    break;
                }
            }
            Inspected::Gone | Inspected::InProgress => {}
            Inspected::Corrupt(reason) => {
                move_aside(paths, &candidate, &reason)?;
            }
        }
    }
    Ok(found)
}

fn inspect(candidate: &Candidate) -> ReedResult<Inspected> {
    if let Err(e) = validate_queue_id(&candidate.id) {
        return Ok(Inspected::Corrupt(format!(
            "the file name is not a queue id: {e}"
        )));
    }
    if !candidate.regular {
        return Ok(Inspected::Corrupt("not a regular file".to_string()));
    }
    let bytes = match fs::read(&candidate.path) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Inspected::Gone),
        Err(e) if says_entry_is_unreadable(&e) => {
            return Ok(Inspected::Corrupt(format!("the file cannot be read: {e}")));
        }
        Err(e) => return Err(ReedError::io("read_queue_file", &candidate.path, &e)),
    };
    let write = match codec::decode(&bytes) {
        Ok(write) => write,
        Err(_) if candidate.legacy && modified_recently(candidate) => {
            return Ok(Inspected::InProgress);
        }
        Err(reason) => return Ok(Inspected::Corrupt(reason)),
    };
    match validate_write(&write) {
        Ok(()) => Ok(Inspected::Ready(write)),
        Err(e) => Ok(Inspected::Corrupt(format!(
            "the entry holds a row that would corrupt the table: {e}"
        ))),
    }
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

/// True if the entry was modified within [`LEGACY_WRITE_GRACE`], or in the
/// future, or its modification time cannot be read (it may be vanishing).
fn modified_recently(candidate: &Candidate) -> bool {
    let Ok(modified) = fs::metadata(&candidate.path).and_then(|m| m.modified()) else {
        return true;
    };
    SystemTime::now()
        .duration_since(modified)
        .map_or(true, |age| age < LEGACY_WRITE_GRACE)
}

/// Removes an entry by (validated) id.
pub(crate) fn remove_entry(paths: &TablePaths, table_name: &str, queue_id: &str) -> ReedResult<()> {
    let path = paths.queue_dir.join(pending_file_name(queue_id));
    match fs::remove_file(&path) {
        Ok(()) => {
            forget_failed_applies(paths, queue_id);
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => match find_moved_aside(paths, queue_id)? {
            Some(moved) => Err(ReedError::moved_aside(table_name, &moved)),
            None => Err(ReedError::entry_not_found(table_name, queue_id)),
        },
        Err(e) => Err(ReedError::io("remove_queue_file", &path, &e)),
    }
}

/// Whether the entry's file exists in the queue directory.
pub(crate) fn entry_exists(paths: &TablePaths, queue_id: &str) -> ReedResult<bool> {
    let path = paths.queue_dir.join(pending_file_name(queue_id));
    match fs::symlink_metadata(&path) {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(ReedError::io("read_queue_file", &path, &e)),
    }
}

/// Moves the pending entry `queue_id` to `corrupt/` with `reason`.
pub(crate) fn move_entry_aside(
    paths: &TablePaths,
    table_name: &str,
    queue_id: &str,
    reason: &str,
) -> ReedResult<MovedAside> {
    let path = paths.queue_dir.join(pending_file_name(queue_id));
    let candidate = Candidate {
        id: queue_id.to_string(),
        path,
        legacy: is_legacy_id(queue_id),
        regular: true,
    };
    if !move_aside(paths, &candidate, reason)? {
        return Err(match find_moved_aside(paths, queue_id)? {
            Some(moved) => ReedError::moved_aside(table_name, &moved),
            None => ReedError::entry_not_found(table_name, queue_id),
        });
    }
    forget_failed_applies(paths, queue_id);
    find_moved_aside(paths, queue_id)?
        .ok_or_else(|| ReedError::entry_not_found(table_name, queue_id))
}

/// Adds one to the entry's count of failed applies, kept in
/// `<id>.attempts` beside it (written to a temporary name, synced and
/// renamed, so that a crash leaves the old count or the new one).
pub(crate) fn record_failed_apply(
    paths: &TablePaths,
    table_name: &str,
    queue_id: &str,
) -> ReedResult<u32> {
    if !entry_exists(paths, queue_id)? {
        return Err(ReedError::entry_not_found(table_name, queue_id));
    }
    let path = paths.queue_dir.join(attempts_file_name(queue_id));
    let previous = match fs::read_to_string(&path) {
        Ok(text) => text.trim().parse::<u32>().unwrap_or(0),
        Err(e) if e.kind() == io::ErrorKind::NotFound => 0,
        Err(e) => return Err(ReedError::io("read_attempts_file", &path, &e)),
    };
    let count = previous.saturating_add(1);
    let temporary = paths
        .queue_dir
        .join(format!(".{}.tmp", attempts_file_name(queue_id)));
    let write = || -> io::Result<()> {
        use std::io::Write as _;
        let mut file = fs::File::create(&temporary)?;
        file.write_all(format!("{count}\n").as_bytes())?;
        file.sync_data()?;
        fs::rename(&temporary, &path)
    };
    write().map_err(|e| ReedError::io("write_attempts_file", &path, &e))?;
    Ok(count)
}

/// Deletes the entry's count of failed applies, if it has one.
fn forget_failed_applies(paths: &TablePaths, queue_id: &str) {
    let _ = fs::remove_file(paths.queue_dir.join(attempts_file_name(queue_id)));
}
