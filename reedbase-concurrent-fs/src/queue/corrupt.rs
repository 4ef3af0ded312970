// SPDX-License-Identifier: Apache-2.0
//! Entries moved aside: `queue/corrupt/<id>.pending` with `<id>.reason`
//! beside it. Nothing here deletes an entry or overwrites a file.
//!
//! `corrupt/` is created with `mkdirat` and opened with `O_DIRECTORY |
//! O_NOFOLLOW` relative to the queue directory, so a link or a file in its
//! place is refused. A reason file is created with `O_CREAT | O_EXCL |
//! O_NOFOLLOW`, and the entry renamed with `RENAME_NOREPLACE`, so a moved
//! entry never replaces an earlier one: a second entry moved aside under
//! the same id lands at `<id>.copy-2.pending` (with `<id>.copy-2.reason`),
//! and both are listed under the id.
//!
//! The reason file is synced before the entry is renamed, and `corrupt/`
//! and then the queue directory are synced after, so that a moved-aside
//! entry survives a power cut with its reason. The mover holds an exclusive
//! `flock` on its reason file until the entry is renamed; a reason file
//! without its entry whose lock is free was left by a move that was
//! interrupted, and the next move aside deletes it.
//!
//! An entry that cannot be moved aside (a full or read-only disk, an
//! unusable `corrupt/`) stays where it is: the caller skips it and this
//! module remembers it, for this process, so that [`list_moved_aside`]
//! reports it with a reason saying it could not be moved and where it still
//! lies.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::{self, Read as _, Write as _};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use reedbase_concurrent_core::{MovedAside, ReedError, ReedResult, events};
use rustix::fs::AtFlags;
use rustix::io::Errno;

use super::entry_id::{id_of_moved_stem, moved_file_names, moved_stem, pending_stem};
use crate::lock::flock::{self, TryLock};
use crate::no_follow::child_dir;
use crate::no_follow::{Opened, create_new, facts_of, for_each_name, open_regular, stat_at};
use crate::tables_dir::TablePaths;
use crate::tables_dir::{sync_dir, tables_dir};

/// The reason reported for an entry moved aside whose reason file is
/// missing (a process died between the two steps, or it was deleted).
const REASON_NOT_RECORDED: &str = "reason not recorded";

/// The most copies moved aside under one id before moving gives up.
const MAX_COPIES: u32 = 1000;

/// The longest reason file read, in bytes.
const MAX_REASON_BYTES: u64 = 64 * 1024;

/// The most entries remembered as stuck, per process.
const MAX_STUCK: usize = 4096;

/// Entries that could not be moved aside, by their path in the queue.
static STUCK: Mutex<BTreeMap<PathBuf, MovedAside>> = Mutex::new(BTreeMap::new());

/// What became of an entry to be moved aside.
#[derive(Debug)]
pub(crate) enum Moved {
    /// Moved, with where it lies now.
    Aside(MovedAside),
    /// Gone before it could be moved (another consumer moved or removed it).
    Gone,
}

/// Moves the entry `name` (with id `id`) from the queue directory to
/// `corrupt/` with `reason`.
///
/// # Errors
///
/// `IoError` `create_corrupt_dir`, `write_reason_file` or `move_aside`
/// naming the path; nothing is left behind by a failed move.
pub(crate) fn move_aside(
    queue: BorrowedFd<'_>,
    paths: &TablePaths,
    name: &OsStr,
    id: &str,
    reason: &str,
) -> ReedResult<Moved> {
    let corrupt = child_dir(queue, "corrupt", &paths.corrupt_dir, tables_dir(paths))
        .create("create_corrupt_dir")?;
    tidy_orphan_reasons(corrupt.as_fd());
    let stem = pending_stem(name).unwrap_or(name);
    for copy in 1..=MAX_COPIES {
        let (entry_name, reason_name) = moved_file_names(&moved_stem(stem, copy));
        let reason_path = paths.corrupt_dir.join(&reason_name);
        let mut reason_file = match create_new(corrupt.as_fd(), &reason_name) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(ReedError::io("write_reason_file", &reason_path, &e)),
        };
        let take_back = || {
            let _ = rustix::fs::unlinkat(corrupt.as_fd(), &reason_name, AtFlags::empty());
        };
        // Held until the entry is renamed: a tidy leaves the reason alone.
        // Held by a tidy, or deleted by one before the lock was taken: try
        // the next copy. Where `flock` fails, it fails for a tidy too,
        // which then deletes nothing.
        let contended = matches!(
            flock::try_lock_exclusive(&reason_file),
            Ok(TryLock::Contended)
        );
        let mine = !contended
            && matches!(
                (stat_at(corrupt.as_fd(), &reason_name), facts_of(&reason_file)),
                (Ok(Some(named)), Ok(held)) if named.same_file(&held)
            );
        if !mine {
            continue;
        }
        let written = reason_file
            .write_all(format!("{reason}\n").as_bytes())
            .and_then(|()| reason_file.sync_data());
        if let Err(e) = written {
            take_back();
            return Err(ReedError::io("write_reason_file", &reason_path, &e));
        }
        match rename_no_replace(queue, name, corrupt.as_fd(), &entry_name) {
            Ok(()) => {
                // The new names first, then the old name's removal: a power
                // cut in between leaves the entry in both places (judged
                // again), never in neither. A failed sync is not an error
                // of the move, which happened: the entry is at worst back in
                // the queue after a power cut, to be judged again.
                let _ = sync_dir(corrupt.as_fd()).and_then(|()| sync_dir(queue));
                let location = paths.corrupt_dir.join(&entry_name).display().to_string();
                let table = paths
                    .table_dir
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy();
                tracing::warn!(event = events::ENTRY_MOVED_ASIDE, table = %table, id, reason, destination = %location, "queue entry moved aside");
                return Ok(Moved::Aside(MovedAside::new(id, reason, location)));
            }
            Err(e) => {
                take_back();
                match e.kind() {
                    io::ErrorKind::AlreadyExists => continue,
                    io::ErrorKind::NotFound => return Ok(Moved::Gone),
                    _ => return Err(ReedError::io("move_aside", &paths.queue_dir.join(name), &e)),
                }
            }
        }
    }
    let full = io::Error::other(format!("{MAX_COPIES} copies of this id are already there"));
    Err(ReedError::io("move_aside", &paths.corrupt_dir, &full))
}

/// Deletes the reason files in `corrupt/` that have no entry beside them
/// and whose `flock` is free: each was left by a move aside interrupted
/// between writing the reason and renaming the entry (a live mover holds
/// the lock). Errors leave the file where it is.
fn tidy_orphan_reasons(corrupt: BorrowedFd<'_>) {
    let mut stems = Vec::new();
    let listed = for_each_name(corrupt, |name| {
        if let Some(stem) = name.as_encoded_bytes().strip_suffix(b".reason") {
            stems.push(OsStr::from_bytes(stem).to_os_string());
        }
    });
    if listed.is_err() {
        return;
    }
    let entry_missing = |entry: &OsStr| matches!(stat_at(corrupt, entry), Ok(None));
    for stem in stems {
        let (entry_name, reason_name) = moved_file_names(&stem);
        if !entry_missing(&entry_name) {
            continue;
        }
        let Ok(Opened::File(file, facts)) = open_regular(corrupt, &reason_name) else {
            continue;
        };
        let free = flock::try_lock_exclusive(&file).is_ok_and(|l| l == TryLock::Acquired);
        let same = matches!(stat_at(corrupt, &reason_name), Ok(Some(now)) if now.same_file(&facts));
        if free && same && entry_missing(&entry_name) {
            let _ = rustix::fs::unlinkat(corrupt, &reason_name, AtFlags::empty());
        }
    }
}

/// Renames `from` in `from_dir` to `to` in `to_dir`, failing with
/// `AlreadyExists` instead of replacing a file of that name.
pub(crate) fn rename_no_replace(
    from_dir: BorrowedFd<'_>,
    from: &OsStr,
    to_dir: BorrowedFd<'_>,
    to: &OsStr,
) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "macos"))]
    {
        use rustix::fs::RenameFlags;
        match rustix::fs::renameat_with(from_dir, from, to_dir, to, RenameFlags::NOREPLACE) {
            // A file system without RENAME_NOREPLACE: link and unlink instead.
            Err(Errno::INVAL | Errno::NOSYS) => {}
            other => return other.map_err(io::Error::from),
        }
    }
    // A new name that cannot exist twice, then the old name removed. If the
    // removal fails the entry has two names and is judged again later.
    rustix::fs::linkat(from_dir, from, to_dir, to, AtFlags::empty())?;
    rustix::fs::unlinkat(from_dir, from, AtFlags::empty())?;
    Ok(())
}

/// Remembers that the entry at `path` could not be moved aside.
pub(crate) fn note_stuck(path: PathBuf, id: &str, reason: &str, error: &ReedError) {
    let mut stuck = STUCK.lock().unwrap_or_else(PoisonError::into_inner);
    if stuck.len() >= MAX_STUCK && !stuck.contains_key(&path) {
        return;
    }
    let reason = format!(
        "{reason}; it could not be moved aside ({error}) and still lies at {}",
        path.display()
    );
    let location = path.display().to_string();
    let table = path
        .ancestors()
        .nth(2)
        .and_then(Path::file_name)
        .unwrap_or_default();
    tracing::warn!(event = events::ENTRY_NOT_MOVED, table = %table.to_string_lossy(), id, reason = %reason, path = %location, error = %error, "queue entry could not be moved aside");
    stuck.insert(path, MovedAside::new(id, reason, location));
}

/// Forgets the stuck entry at `path`, if there was one.
pub(crate) fn forget_stuck(path: &Path) {
    STUCK
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(path);
}

/// Forgets the stuck entry `name` in the queue directory `dir`, if there
/// was one; builds no path when none is stuck (the common case).
pub(crate) fn forget_stuck_in(dir: &Path, name: &OsStr) {
    let mut stuck = STUCK.lock().unwrap_or_else(PoisonError::into_inner);
    if !stuck.is_empty() {
        stuck.remove(&dir.join(name));
    }
}

/// Every entry moved aside from the table's queue, and every entry that
/// could not be moved and still lies in the queue, sorted by id; empty if
/// there are none.
///
/// # Errors
///
/// `IoError` `read_corrupt_dir` or `read_reason_file` naming the path. A
/// `corrupt/` that is a link or a file is not read (the entries that could
/// not be moved there say so).
pub(crate) fn list_moved_aside(
    queue: Option<BorrowedFd<'_>>,
    paths: &TablePaths,
) -> ReedResult<Vec<MovedAside>> {
    let mut found = Vec::new();
    let corrupt = match queue {
        Some(queue) => child_dir(queue, "corrupt", &paths.corrupt_dir, tables_dir(paths))
            .open("read_corrupt_dir")
            .or_else(|e| if is_refusal(&e) { Ok(None) } else { Err(e) })?,
        None => None,
    };
    if let Some(corrupt) = corrupt {
        let mut stems = Vec::new();
        crate::no_follow::for_each_name(corrupt.as_fd(), |name| {
            if let Some(stem) = pending_stem(name) {
                stems.push(stem.to_os_string());
            }
        })
        .map_err(|e| ReedError::io("read_corrupt_dir", &paths.corrupt_dir, &e))?;
        for stem in stems {
            let (entry_name, reason_name) = moved_file_names(&stem);
            let reason = read_reason(corrupt.as_fd(), &reason_name, &paths.corrupt_dir)?;
            let stem = stem.to_string_lossy();
            let location = paths.corrupt_dir.join(entry_name).display().to_string();
            found.push(MovedAside::new(id_of_moved_stem(&stem), reason, location));
        }
    }
    let stuck: Vec<(PathBuf, MovedAside)> = STUCK
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|(path, _)| path.parent() == Some(paths.queue_dir.as_path()))
        .map(|(path, moved)| (path.clone(), moved.clone()))
        .collect();
    for (path, moved) in stuck {
        let name = path.file_name().unwrap_or_default();
        match queue.map(|queue| stat_at(queue, name)) {
            Some(Ok(Some(_))) => found.push(moved),
            _ => forget_stuck(&path),
        }
    }
    found.sort_by(|a, b| (&a.id, &a.location).cmp(&(&b.id, &b.location)));
    Ok(found)
}

/// A refusal of a path below tables (a link, a file where a directory is
/// expected), as opposed to a failure to read.
fn is_refusal(error: &ReedError) -> bool {
    matches!(error.io_kind(), Some(io::ErrorKind::NotADirectory))
        || error.io_kind() == Some(io::Error::from(Errno::LOOP).kind())
}

/// The reason file's text, or a note saying why there is none.
fn read_reason(corrupt: BorrowedFd<'_>, name: &OsStr, corrupt_dir: &Path) -> ReedResult<String> {
    let path = corrupt_dir.join(name);
    let opened =
        open_regular(corrupt, name).map_err(|e| ReedError::io("read_reason_file", &path, &e))?;
    let file = match opened {
        Opened::File(file, _) => file,
        Opened::Missing => return Ok(REASON_NOT_RECORDED.to_string()),
        Opened::NotRegular(found) => {
            return Ok(format!("reason file unreadable: it {}", found.describe()));
        }
    };
    let mut bytes = Vec::new();
    file.take(MAX_REASON_BYTES)
        .read_to_end(&mut bytes)
        .map_err(|e| ReedError::io("read_reason_file", &path, &e))?;
    Ok(String::from_utf8_lossy(&bytes).trim_end().to_string())
}

#[cfg(test)]
#[path = "corrupt_test.rs"]
mod tests;
