// SPDX-License-Identifier: Apache-2.0
//! The consumers' view of a queue directory: its entries in delivery order.
//!
//! Legacy entries (the old module's, whose ids carry no order) come first,
//! ordered by creation time as the old module ordered them (an entry whose
//! creation time cannot be read sorts first), then by name; sequenced
//! entries follow in sequence order. Only legacy entries are stat'ed, once
//! each, outside the sort, so a queue written by this crate alone is ordered
//! from one directory listing.

use std::ffi::OsString;
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

/// One entry file as listed: just its name and what the name and the
/// listing say, so that listing allocates once per entry.
struct Listed {
    file_name: OsString,
    /// `None` for a legacy entry.
    sequence: Option<u128>,
    regular: bool,
}

impl Listed {
    fn into_candidate(self, queue_dir: &Path) -> Candidate {
        let path = queue_dir.join(&self.file_name);
        let id = pending_stem(&self.file_name)
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        Candidate {
            id,
            path,
            legacy: self.sequence.is_none(),
            regular: self.regular,
        }
    }
}

/// The queue's entries in delivery order, or `None` if the queue directory
/// does not exist. Each [`Candidate`] is built only when the iterator gets
/// to it, since a consumer usually takes the first.
///
/// # Errors
///
/// [`ReedError::IoError`] `read_queue_dir` for a listing failure other than
/// a missing directory (for example a base path that is a regular file).
pub(crate) fn ordered_entries(
    queue_dir: &Path,
) -> ReedResult<Option<impl Iterator<Item = Candidate> + '_>> {
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
        let sequence = stem.to_str().and_then(parse_sequence);
        // From the directory listing itself on most file systems (no stat).
        let regular = entry.file_type().map_or(true, |t| t.is_file());
        let listed = Listed {
            file_name,
            sequence,
            regular,
        };
        match sequence {
            Some(_) => sequenced.push(listed),
            None => legacy.push(listed),
        }
    }
    sequenced.sort_unstable_by(|a, b| (a.sequence, &a.file_name).cmp(&(b.sequence, &b.file_name)));
    let ordered = order_legacy(queue_dir, legacy).into_iter().chain(sequenced);
    Ok(Some(
        ordered.map(move |listed| listed.into_candidate(queue_dir)),
    ))
}

/// Orders legacy entries by creation time (unknown first), then by name.
/// Each file is stat'ed once, outside the sort; one that vanished meanwhile
/// sorts first and is skipped when it cannot be read.
fn order_legacy(queue_dir: &Path, entries: Vec<Listed>) -> Vec<Listed> {
    if entries.len() < 2 {
        return entries;
    }
    let mut timed: Vec<(Option<SystemTime>, Listed)> = entries
        .into_iter()
        .map(|listed| {
            let path = queue_dir.join(&listed.file_name);
            let created = fs::symlink_metadata(path).and_then(|m| m.created()).ok();
            (created, listed)
        })
        .collect();
    timed.sort_unstable_by(|a, b| (a.0, &a.1.file_name).cmp(&(b.0, &b.1.file_name)));
    timed.into_iter().map(|(_, listed)| listed).collect()
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

/// The tables under `<base>/tables/` (valid names only) whose queue
/// directories hold at least one entry file, sorted by name.
///
/// # Errors
///
/// [`ReedError::IoError`] `read_tables_dir` for a listing failure other than
/// a missing directory, and the errors of [`count_entries`].
pub(crate) fn tables_with_pending(base_path: &Path) -> ReedResult<Vec<String>> {
    let tables_dir = base_path.join("tables");
    let read_dir_error = |e: &io::Error| ReedError::io("read_tables_dir", &tables_dir, e);
    let listing = match fs::read_dir(&tables_dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_dir_error(&e)),
    };
    let mut tables = Vec::new();
    for entry in listing {
        let entry = entry.map_err(|e| read_dir_error(&e))?;
        let Ok(name) = entry.file_name().into_string() else {
            continue;
        };
        if reedbase_concurrent_core::validate_table_name(&name).is_err() {
            continue;
        }
        if count_entries(&tables_dir.join(&name).join("queue"))? > 0 {
            tables.push(name);
        }
    }
    tables.sort();
    Ok(tables)
}
