// SPDX-License-Identifier: Apache-2.0
//! The queue directories a base directory keeps open between writes and
//! removals ([`KeptQueues`]), so that they pay for opening the queue
//! without following a link once per (process, table), as an acquisition
//! pays for the lock's files (see `lock::held`).
//!
//! A kept queue directory is used only while two `fstatat` calls (no link
//! followed at the last step) find `tables/<table>` to be the kept table
//! directory and `queue` in that directory to be the kept queue directory
//! (for a base that follows its path, the first is an `lstat` of
//! `<path>/tables/<table>`); `tables` itself is checked to be a directory
//! (not a link) as often as the lock side checks it. A kept pair that fails
//! is closed and the queue is opened afresh. The descriptors are shared by
//! the process's threads, so they serve only calls that keep no state in
//! them (`openat`, `renameat`, `unlinkat`, `fstatat`, `fsync`, `flock`
//! under the producers' in-process turn), never a listing, which opens the
//! directory anew.

use std::ffi::CString;
use std::fs::File;
use std::os::unix::ffi::OsStringExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use reedbase_concurrent_core::{ReedError, ReedResult};
use std::os::fd::OwnedFd;

use super::watched::DirKey;
use crate::no_follow::{Facts, Found, facts_of, stat_at};
use crate::tables_dir::{BaseDir, Level, TablePaths, table_name};

/// How many queue directories one base directory keeps (two descriptors
/// each); beyond this the least recently used is closed.
const MAX_KEPT: usize = 16;

/// One table's kept table and queue directories.
#[derive(Debug)]
struct KeptQueue {
    table: String,
    /// The table's paths, for errors (shared with the calls served).
    paths: Arc<TablePaths>,
    /// `tables/<table>`, relative to the base directory, as the kernel
    /// takes it (made once: the check on every call copies no path).
    relative: CString,
    dir: OwnedFd,
    dir_facts: Facts,
    queue: Arc<File>,
    queue_facts: Facts,
}

/// The kept queue directories of one base directory, least recently used
/// first.
#[derive(Debug, Default)]
pub(crate) struct KeptQueues {
    kept: Mutex<Vec<KeptQueue>>,
}

impl KeptQueues {
    /// Closes every kept queue directory.
    pub(crate) fn close_idle(&self) {
        let closed = std::mem::take(&mut *self.kept.lock().unwrap_or_else(PoisonError::into_inner));
        drop(closed);
    }

    /// How many are kept (for tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.kept
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

/// A table's queue directory, as [`queue_dir`] found it.
#[derive(Debug)]
pub(crate) struct QueueDir {
    pub(crate) file: Arc<File>,
    /// Its device and inode, when known without another system call
    /// (always for a kept one).
    pub(crate) key: Option<DirKey>,
    /// Its link count as just read (two plus one per subdirectory on most
    /// file systems), when known without another system call (always for a
    /// kept one); see `counts_marker`.
    pub(crate) links: Option<u64>,
}

/// The table's queue directory for a write or a removal: the kept one if
/// it is still in place, else opened afresh (and kept); `None` if it does
/// not exist.
///
/// # Errors
///
/// `IoError` `operation` naming the path, as [`BaseDir::open`].
pub(crate) fn queue_dir(
    base: &BaseDir,
    paths: &TablePaths,
    operation: &'static str,
) -> ReedResult<Option<QueueDir>> {
    let table = table_name(paths);
    if let Some((kept, _)) = kept_in_place(base, table, operation)? {
        return Ok(Some(kept));
    }
    let Some(queue) = base.open(paths, Level::Queue, operation)? else {
        return Ok(None);
    };
    let queue = Arc::new(File::from(queue));
    let (mut key, mut links) = (None, None);
    // Kept only when the table directory opened now holds the queue opened
    // now (nothing was swapped between the two openings).
    if let Some(dir) = base.open(paths, Level::Table, operation)? {
        let facts = facts_of(&dir).ok().zip(facts_of(queue.as_ref()).ok());
        let inside = stat_at(&dir, "queue").ok().flatten();
        // A validated table name holds no NUL byte: `relative` is always made.
        let relative =
            CString::new(Path::new("tables").join(table).into_os_string().into_vec()).ok();
        if let (Some((dir_facts, queue_facts)), Some(inside), Some(relative)) =
            (facts, inside, relative)
            && inside.same_file(&queue_facts)
        {
            key = Some((queue_facts.dev, queue_facts.ino));
            links = Some(inside.links);
            let mut kept = base
                .kept()
                .queues()
                .kept
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            kept.retain(|k| k.table != table);
            if kept.len() >= MAX_KEPT {
                kept.remove(0);
            }
            kept.push(KeptQueue {
                table: table.to_string(),
                paths: Arc::new(paths.clone()),
                relative,
                dir,
                dir_facts,
                queue: Arc::clone(&queue),
                queue_facts,
            });
        }
    }
    Ok(Some(QueueDir {
        file: queue,
        key,
        links,
    }))
}

/// The kept queue directory of `table` with the table's paths, if there is
/// one and it is still `<base>/tables/<table>/queue` (reached without a
/// link); one that is not is closed. A removal looks here before it builds
/// the table's paths: a kept directory was opened under a validated name,
/// and only the same name finds it.
///
/// # Errors
///
/// `IoError` `operation` naming the queue's path, when a check fails
/// otherwise than by finding nothing.
pub(crate) fn kept_in_place(
    base: &BaseDir,
    table: &str,
    operation: &'static str,
) -> ReedResult<Option<(QueueDir, Arc<TablePaths>)>> {
    let queues = base.kept().queues();
    let mut kept = queues.kept.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(at) = kept.iter().position(|k| k.table == table) else {
        return Ok(None);
    };
    let entry = &kept[at];
    let paths = Arc::clone(&entry.paths);
    let stat_error = |e| ReedError::io(operation, &paths.queue_dir, &e);
    // A forked child may use its parent's: no lock is taken on them.
    let in_place = if base.follows_path() {
        table_dir_in_place_by_path(base, &paths, &entry.dir_facts)
    } else {
        let Some(base_fd) = base.opened() else {
            return Ok(None);
        };
        let mut in_place = true;
        if base.kept().tables_check_due() {
            let tables = stat_at(base_fd, "tables").map_err(stat_error)?;
            in_place = tables.is_some_and(|found| found.found == Found::Directory);
            if in_place {
                base.kept().tables_checked();
            }
        }
        if in_place {
            let dir = stat_at(base_fd, entry.relative.as_c_str()).map_err(stat_error)?;
            in_place = dir.is_some_and(|found| found.same_file(&entry.dir_facts));
        }
        in_place
    };
    let links = match in_place {
        true => stat_at(&entry.dir, c"queue")
            .map_err(stat_error)?
            .filter(|found| found.same_file(&entry.queue_facts))
            .map(|found| found.links),
        false => None,
    };
    let Some(links) = links else {
        drop(kept.remove(at));
        return Ok(None);
    };
    let entry = kept.remove(at);
    let found = QueueDir {
        file: Arc::clone(&entry.queue),
        key: Some((entry.queue_facts.dev, entry.queue_facts.ino)),
        links: Some(links),
    };
    kept.push(entry);
    Ok(Some((found, paths)))
}

/// For a base that follows its path: whether `<path>/tables/<table>` (the
/// last step not followed) is the kept table directory, and `tables` a
/// directory, as `Held::in_place` checks them. A failure is a no.
fn table_dir_in_place_by_path(base: &BaseDir, paths: &TablePaths, dir: &Facts) -> bool {
    base.tables_in_place_by_path()
        && matches!(
            stat_at(rustix::fs::CWD, &paths.table_dir),
            Ok(Some(found)) if found.same_file(dir)
        )
}

#[cfg(test)]
#[path = "kept_queue_test.rs"]
mod tests;
