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
//! is closed and the queue is opened afresh.
//!
//! The second check is made once per change of the table directory: the
//! first `fstatat` also reports the table directory's [`Stamp`] (link
//! count, modification and change times), and while it is the stamp of a
//! look that found `queue` in place, nothing has been made, removed or
//! renamed in the table directory since, so `queue` is still the kept
//! directory (a directory cannot have a second name). A stamp is kept
//! only when it was settled at its look (see [`Stamp::SETTLE`]) and only
//! on local file systems whose times this kernel sets (`fstatfs`, asked
//! once per device); elsewhere both checks are made on every call. The
//! queue directory's link count, which a removal reads (see
//! `counts_marker`), is kept with the stamp: a count of failed applies is
//! written only after its writer moved the table directory's times.
//!
//! The descriptors are shared by
//! the process's threads, so they serve only calls that keep no state in
//! them (`openat`, `renameat`, `unlinkat`, `fstatat`, `fsync`, `flock`
//! under the producers' in-process turn), never a listing, which opens the
//! directory anew.

use std::ffi::{CStr, CString};
use std::fs::File;
use std::os::unix::ffi::OsStringExt as _;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use reedbase_concurrent_core::{ReedError, ReedResult};
use std::os::fd::{AsFd as _, OwnedFd};

use super::watched::DirKey;
use crate::no_follow::{Facts, Stamp, facts_of, stat_at};
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
    /// `<base>/tables/<table>`, likewise, for a base that follows its path.
    table_dir: CString,
    dir: OwnedFd,
    dir_facts: Facts,
    queue: Arc<File>,
    queue_facts: Facts,
    /// Whether the table directory's times can be trusted (see
    /// `KeptLocks::stamps_trusted`), asked once.
    stamps_trusted: bool,
    /// The table directory's stamp at the last look that found `queue` in
    /// place, settled at that look, with the queue directory's link count
    /// then: while the table directory shows this stamp, `queue` needs no
    /// look.
    checked: Option<(Stamp, u64)>,
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
        let look = SystemTime::now();
        let facts = facts_of(&dir).ok().zip(facts_of(queue.as_ref()).ok());
        let inside = stat_at(&dir, "queue").ok().flatten();
        // A validated table name holds no NUL byte: `relative` is always made.
        let relative =
            CString::new(Path::new("tables").join(table).into_os_string().into_vec()).ok();
        // Nor the base's path (a path given by the caller holding one could
        // not have been opened).
        let table_dir = CString::new(paths.table_dir.clone().into_os_string().into_vec()).ok();
        if let (Some((dir_facts, queue_facts)), Some(inside), Some(relative), Some(table_dir)) =
            (facts, inside, relative, table_dir)
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
            let stamps_trusted = base.kept().stamps_trusted(dir.as_fd(), dir_facts.dev);
            // The table directory's stamp was taken before `queue` was
            // found in it: as a later check's look keeps it.
            let checked = (stamps_trusted && dir_facts.stamp.settled_before(look))
                .then_some((dir_facts.stamp, inside.links));
            kept.push(KeptQueue {
                table: table.to_string(),
                paths: Arc::new(paths.clone()),
                relative,
                table_dir,
                dir,
                dir_facts,
                queue: Arc::clone(&queue),
                queue_facts,
                stamps_trusted,
                checked,
            });
        }
    }
    Ok(Some(QueueDir {
        file: queue,
        key,
        links,
    }))
}

/// The paths of `table` when its queue directory is kept, without a check
/// that it is still in place: a kept directory was opened under a
/// validated name, and only the same name finds it, so a write finds its
/// paths here rather than building and validating them again (they depend
/// on the base's path and the name alone).
pub(crate) fn kept_paths(base: &BaseDir, table: &str) -> Option<Arc<TablePaths>> {
    let queues = base.kept().queues();
    let kept = queues.kept.lock().unwrap_or_else(PoisonError::into_inner);
    kept.iter()
        .find(|k| k.table == table)
        .map(|k| Arc::clone(&k.paths))
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
    let entry = &mut kept[at];
    let paths = Arc::clone(&entry.paths);
    let stat_error = |e| ReedError::io(operation, &paths.queue_dir, &e);
    // Taken before the table directory's stamp: see `Stamp::settled_before`.
    let look = SystemTime::now();
    // A forked child may use its parent's: no lock is taken on them.
    let table_dir = if base.follows_path() {
        table_dir_by_path(base, &entry.table_dir, &entry.dir_facts)
    } else {
        let Some(base_fd) = base.opened() else {
            return Ok(None);
        };
        match base.tables_in_place_through(base_fd).map_err(stat_error)? {
            true => stat_at(base_fd, entry.relative.as_c_str())
                .map_err(stat_error)?
                .filter(|found| found.same_file(&entry.dir_facts)),
            false => None,
        }
    };
    let links = match table_dir {
        Some(table_dir) => entry.queue_links(table_dir.stamp, look, operation)?,
        None => None,
    };
    let Some(links) = links else {
        drop(kept.remove(at));
        return Ok(None);
    };
    let found = QueueDir {
        file: Arc::clone(&entry.queue),
        key: Some((entry.queue_facts.dev, entry.queue_facts.ino)),
        links: Some(links),
    };
    // The most recently used last.
    if at + 1 < kept.len() {
        let entry = kept.remove(at);
        kept.push(entry);
    }
    Ok(Some((found, paths)))
}

#[cfg(test)]
thread_local! {
    /// How many looks at `queue` this thread's checks of kept queue
    /// directories made.
    static QUEUE_LOOKS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

impl KeptQueue {
    /// With the table directory found in place showing `stamp` (taken after
    /// `look`): the queue directory's link count if `queue` in it is still
    /// the kept directory, `None` if not. No look at `queue` while `stamp`
    /// is the one kept from a look that found it in place.
    fn queue_links(
        &mut self,
        stamp: Stamp,
        look: SystemTime,
        operation: &'static str,
    ) -> ReedResult<Option<u64>> {
        if let Some((checked, links)) = self.checked
            && checked == stamp
        {
            return Ok(Some(links));
        }
        #[cfg(test)]
        QUEUE_LOOKS.with(|looks| looks.set(looks.get() + 1));
        let links = stat_at(&self.dir, c"queue")
            .map_err(|e| ReedError::io(operation, &self.paths.queue_dir, &e))?
            .filter(|found| found.same_file(&self.queue_facts))
            .map(|found| found.links);
        self.checked = links
            .filter(|_| self.stamps_trusted && stamp.settled_before(look))
            .map(|links| (stamp, links));
        Ok(links)
    }
}

/// For a base that follows its path: what `<path>/tables/<table>` (the
/// last step not followed) is, if it is the kept table directory and
/// `tables` a directory, as `Held::in_place` checks them. A failure is a
/// no.
fn table_dir_by_path(base: &BaseDir, table_dir: &CStr, dir: &Facts) -> Option<Facts> {
    if !base.tables_in_place_by_path() {
        return None;
    }
    stat_at(rustix::fs::CWD, table_dir)
        .ok()
        .flatten()
        .filter(|found| found.same_file(dir))
}

#[cfg(test)]
#[path = "kept_queue_test.rs"]
mod tests;
