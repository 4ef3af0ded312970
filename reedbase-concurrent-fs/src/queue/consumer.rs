// SPDX-License-Identifier: Apache-2.0
//! The read path: the head of the queue, moving corrupt entries aside, and
//! removal by id.

use std::fs;
use std::io;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_core::{
    PendingWrite, ReedError, ReedResult, validate_queue_id, validate_write,
};

use super::codec;
use super::corrupt::{find_moved_aside, move_aside};
use super::entry_id::pending_file_name;
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
    let Some(candidates) = ordered_entries(&paths.queue_dir)? else {
        return Ok(None);
    };
    for candidate in candidates {
        match inspect(&candidate)? {
            Inspected::Ready(write) => return Ok(Some((candidate.id, write))),
            Inspected::Gone | Inspected::InProgress => {}
            Inspected::Corrupt(reason) => {
                move_aside(paths, &candidate, &reason)?;
            }
        }
    }
    Ok(None)
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
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match find_moved_aside(paths, queue_id)? {
            Some(moved) => Err(ReedError::CorruptEntry {
                table: table_name.to_string(),
                queue_id: queue_id.to_string(),
                moved_to: moved.path,
                reason: moved.reason,
            }),
            None => Err(ReedError::QueueEntryNotFound {
                table: table_name.to_string(),
                queue_id: queue_id.to_string(),
            }),
        },
        Err(e) => Err(ReedError::io("remove_queue_file", &path, &e)),
    }
}
