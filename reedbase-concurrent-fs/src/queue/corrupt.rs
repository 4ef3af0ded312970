// SPDX-License-Identifier: Apache-2.0
//! Entries moved aside: `queue/corrupt/<id>.pending` with `<id>.reason`
//! beside it. Nothing here deletes anything.

use std::fs;
use std::io;
use std::path::Path;

use reedbase_concurrent_core::{MovedAside, ReedError, ReedResult};

use super::entry_id::{pending_file_name, pending_stem, reason_file_name};
use super::listing::Candidate;
use crate::paths::TablePaths;

/// The reason reported for an entry moved aside whose reason file is
/// missing (a process died between the two steps, or it was deleted).
const REASON_NOT_RECORDED: &str = "reason not recorded";

/// Moves a corrupt entry to `corrupt/`, writing its reason first. Returns
/// false if the entry was gone by then (another consumer moved or removed
/// it).
pub(crate) fn move_aside(paths: &TablePaths, entry: &Candidate, reason: &str) -> ReedResult<bool> {
    let corrupt_dir = &paths.corrupt_dir;
    fs::create_dir_all(corrupt_dir)
        .map_err(|e| ReedError::io("create_corrupt_dir", corrupt_dir, &e))?;
    let (Some(file_name), Some(stem)) = (entry.path.file_name(), entry.path.file_stem()) else {
        return Ok(false);
    };
    let reason_path = corrupt_dir.join(reason_file_name(stem));
    fs::write(&reason_path, format!("{reason}\n"))
        .map_err(|e| ReedError::io("write_reason_file", &reason_path, &e))?;
    let destination = corrupt_dir.join(file_name);
    match fs::rename(&entry.path, &destination) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(ReedError::io("move_aside", &entry.path, &e)),
    }
}

/// Every entry in `corrupt/`, sorted by id; empty if there is none.
pub(crate) fn list_moved_aside(paths: &TablePaths) -> ReedResult<Vec<MovedAside>> {
    let corrupt_dir = &paths.corrupt_dir;
    let read_dir_error = |e: &io::Error| ReedError::io("read_corrupt_dir", corrupt_dir, e);
    let listing = match fs::read_dir(corrupt_dir) {
        Ok(listing) => listing,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(read_dir_error(&e)),
    };
    let mut found = Vec::new();
    for entry in listing {
        let file_name = entry.map_err(|e| read_dir_error(&e))?.file_name();
        if let Some(stem) = pending_stem(&file_name) {
            let reason = read_reason(corrupt_dir, stem)?;
            found.push(MovedAside::new(
                stem.to_string_lossy(),
                reason,
                corrupt_dir.join(&file_name).display().to_string(),
            ));
        }
    }
    found.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(found)
}

/// The entry with this (validated) id in `corrupt/`, if there is one.
pub(crate) fn find_moved_aside(paths: &TablePaths, id: &str) -> ReedResult<Option<MovedAside>> {
    let path = paths.corrupt_dir.join(pending_file_name(id));
    match fs::symlink_metadata(&path) {
        Ok(_) => {}
        Err(e) if is_absent(&e) => return Ok(None),
        Err(e) => return Err(ReedError::io("read_corrupt_dir", &path, &e)),
    }
    let reason = read_reason(&paths.corrupt_dir, Path::new(id).as_os_str())?;
    Ok(Some(MovedAside::new(
        id,
        reason,
        path.display().to_string(),
    )))
}

fn read_reason(corrupt_dir: &Path, stem: &std::ffi::OsStr) -> ReedResult<String> {
    let path = corrupt_dir.join(reason_file_name(stem));
    match fs::read(&path) {
        Ok(bytes) => Ok(String::from_utf8_lossy(&bytes).trim_end().to_string()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(REASON_NOT_RECORDED.to_string()),
        Err(e) => Err(ReedError::io("read_reason_file", &path, &e)),
    }
}

fn is_absent(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::NotFound | io::ErrorKind::NotADirectory
    )
}
