// SPDX-License-Identifier: Apache-2.0
//! The consumers' view of a queue directory: its entries in delivery order.
//!
//! Legacy entries (the old module's, whose ids carry no order) come first,
//! ordered by creation time as the old module ordered them (an entry whose
//! creation time cannot be read sorts first), then by name; sequenced
//! entries follow in sequence order. Only legacy entries are stat'ed, once
//! each, outside the sort, so a queue written by this crate alone is ordered
//! from one directory listing.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use reedbase_concurrent_core::{ReedError, ReedResult};

use super::entry_id::{parse_sequence, pending_stem};

/// One entry file found in the queue directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Candidate {
    /// The file stem: the entry's id (lossy if the name is not UTF-8).
    pub(crate) id: String,
    /// The entry's file.
    pub(crate) path: PathBuf,
    /// True for an entry without a sequence number (the old module's).
    pub(crate) legacy: bool,
    /// False for a directory, FIFO, socket or symbolic link named like an
    /// entry (reading a FIFO would block).
    pub(crate) regular: bool,
}

/// The queue's entries in delivery order, or `None` if the queue directory
/// does not exist.
///
/// # Errors
///
/// [`ReedError::IoError`] `read_queue_dir` for a listing failure other than
/// a missing directory (for example a base path that is a regular file).
pub(crate) fn ordered_entries(queue_dir: &Path) -> ReedResult<Option<Vec<Candidate>>> {
    let read_dir_error = |e: &io::Error| ReedError::io("read_queue_dir", queue_dir, e);
    let listing = match fs::read_dir(queue_dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(read_dir_error(&e)),
    };
    let mut legacy = Vec::new();
    let mut sequenced = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| read_dir_error(&e))?;
        let file_name = entry.file_name();
        let Some(stem) = pending_stem(&file_name) else {
            continue;
        };
        // From the directory listing itself on most file systems (no stat).
        let regular = entry.file_type().map_or(true, |t| t.is_file());
        let id = stem.to_string_lossy().into_owned();
        let path = queue_dir.join(&file_name);
        match parse_sequence(&id) {
            Some(sequence) => sequenced.push((sequence, id, path, regular)),
            None => legacy.push((id, path, regular)),
        }
    }
    sequenced.sort_unstable();
    let mut ordered = order_legacy(legacy);
    ordered.extend(
        sequenced
            .into_iter()
            .map(|(_, id, path, regular)| Candidate {
                id,
                path,
                legacy: false,
                regular,
            }),
    );
    Ok(Some(ordered))
}

/// Orders legacy entries by creation time (unknown first), then by id. Each
/// file is stat'ed once; one that vanished meanwhile sorts first and is
/// skipped when it cannot be read.
fn order_legacy(entries: Vec<(String, PathBuf, bool)>) -> Vec<Candidate> {
    let mut timed: Vec<(Option<SystemTime>, String, PathBuf, bool)> = entries
        .into_iter()
        .map(|(id, path, regular)| {
            let created = fs::symlink_metadata(&path).and_then(|m| m.created()).ok();
            (created, id, path, regular)
        })
        .collect();
    timed.sort_unstable();
    timed
        .into_iter()
        .map(|(_, id, path, regular)| Candidate {
            id,
            path,
            legacy: true,
            regular,
        })
        .collect()
}

/// The number of entry files in the queue directory (0 if it is missing).
///
/// # Errors
///
/// [`ReedError::IoError`] `read_queue_dir` as for [`ordered_entries`].
pub(crate) fn count_entries(queue_dir: &Path) -> ReedResult<usize> {
    let read_dir_error = |e: &io::Error| ReedError::io("read_queue_dir", queue_dir, e);
    let listing = match fs::read_dir(queue_dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(read_dir_error(&e)),
    };
    let mut count = 0;
    for entry in listing {
        if pending_stem(&entry.map_err(|e| read_dir_error(&e))?.file_name()).is_some() {
            count += 1;
        }
    }
    Ok(count)
}
