// SPDX-License-Identifier: Apache-2.0
//! A base directory as an operator sees it, read without taking a table's
//! lock and without changing a file: the tables, each queue's entries in
//! delivery order (those a reader would move aside included, with the
//! reason), and one entry.
//!
//! [`get_next_pending`](crate::get_next_pending) and
//! [`get_pending_batch`](reedbase_concurrent_core::QueueBackend::get_pending_batch)
//! move corrupt entries aside as they meet them; these functions only
//! report what a reader would do. Entries moved aside already are listed by
//! [`moved_aside`](crate::moved_aside), which is read-only too; who holds a
//! lock by [`lock_holder`](crate::lock_holder). Everything is a snapshot
//! that may be stale by the time it is read. A base directory that does not
//! exist is an error, never a base without tables. [`FsBackend`] offers the
//! same through core's `InspectBackend` and `RestoreBackend`.
//!
//! ```
//! use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
//! use reedbase_concurrent_fs::{inspect, queue_write};
//!
//! let dir = tempfile::tempdir()?;
//! let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
//! let id = queue_write(dir.path(), "users", write.clone())?;
//! assert_eq!(inspect::tables(dir.path())?, ["users"]);
//! let entries = inspect::queued_entries(dir.path(), "users")?;
//! assert_eq!(entries.len(), 1);
//! assert_eq!((entries[0].id.as_str(), entries[0].write.as_ref()), (id.as_str(), Ok(&write)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::ffi::OsStr;
use std::io::{self, Read as _};
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use reedbase_concurrent_core::{
    InspectBackend, LockHolder, PendingWrite, ReedError, ReedResult, RestoreBackend,
    validate_queue_id, validate_table_name,
};

pub use reedbase_concurrent_core::QueuedEntry;

use crate::FsBackend;
use crate::no_follow::{Opened, for_each_name, open_regular, stat_at};
use crate::options::DEFAULT_MAX_ENTRY_BYTES;
use crate::queue::consumer::{Inspected, inspect};
use crate::queue::entry_id::{attempts_file_name, pending_file_name};
use crate::queue::listing::{Candidate, ordered_entries};
use crate::tables_dir::{BaseDir, Level, TablePaths};

/// The tables of the base directory: every directory below `<base>/tables`
/// whose name is a valid table name, sorted by name. Links and files there
/// are left out; nothing is created. A base directory without `tables`
/// has no tables yet.
///
/// # Errors
///
/// [`ReedError::IoError`] `read_tables_dir` naming the path: a base path
/// that does not exist (kind `NotFound`) or is not a directory
/// (`NotADirectory`), a link in place of `tables`.
///
/// [`ReedError::IoError`]: reedbase_concurrent_core::ReedError::IoError
pub fn tables(base_path: &Path) -> ReedResult<Vec<String>> {
    check_base_dir(base_path)?;
    let base = BaseDir::new(base_path.to_path_buf());
    let Some(tables) = base.open_tables("read_tables_dir")? else {
        return Ok(Vec::new());
    };
    let mut names = Vec::new();
    for_each_name(tables.as_fd(), |name| {
        if let Some(name) = name.to_str().filter(|n| validate_table_name(n).is_ok()) {
            names.push(name.to_string());
        }
    })
    .map_err(|e| ReedError::io("read_tables_dir", &base_path.join("tables"), &e))?;
    names.retain(|name| {
        stat_at(tables.as_fd(), name).is_ok_and(|facts| {
            facts.is_some_and(|facts| facts.found == crate::no_follow::Found::Directory)
        })
    });
    names.sort();
    Ok(names)
}

/// The entries of the table's queue in delivery order (oldest first), each
/// with the write or the reason a reader would move it aside; nothing is
/// moved, locked or created. An old-module entry still being written is
/// reported with a reason saying so.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`], before any file is touched;
/// - [`ReedError::IoError`] `read_queue_dir` or `read_queue_file` naming the
///   path, for a failure that says nothing about one entry.
///
/// [`ReedError::InvalidTableName`]: reedbase_concurrent_core::ReedError::InvalidTableName
/// [`ReedError::IoError`]: reedbase_concurrent_core::ReedError::IoError
pub fn queued_entries(base_path: &Path, table_name: &str) -> ReedResult<Vec<QueuedEntry>> {
    let base = BaseDir::new(base_path.to_path_buf());
    let paths = TablePaths::new(base_path, table_name)?;
    let Some(queue) = base.open(&paths, Level::Queue, "read_queue_dir")? else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    for candidate in ordered_entries(queue.as_fd(), &paths.queue_dir)? {
        if let Some(entry) = judge(queue.as_fd(), &paths, &candidate)? {
            found.push(entry);
        }
    }
    Ok(found)
}

/// One pending entry of the table's queue, judged as
/// [`queued_entries`] judges it.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`] and [`ReedError::InvalidQueueId`],
///   before any file is touched;
/// - [`ReedError::QueueEntryNotFound`] when no entry with this id is
///   pending;
/// - [`ReedError::IoError`] as for [`queued_entries`].
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_fs::{inspect, queue_write};
///
/// let dir = tempfile::tempdir()?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
/// let id = queue_write(dir.path(), "t", write.clone())?;
/// assert_eq!(inspect::queued_entry(dir.path(), "t", &id)?.write, Ok(write));
/// assert!(inspect::queued_entry(dir.path(), "t", "00000000000000000009-ab").unwrap_err().is_not_found());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: reedbase_concurrent_core::ReedError::InvalidTableName
/// [`ReedError::InvalidQueueId`]: reedbase_concurrent_core::ReedError::InvalidQueueId
/// [`ReedError::QueueEntryNotFound`]: reedbase_concurrent_core::ReedError::QueueEntryNotFound
/// [`ReedError::IoError`]: reedbase_concurrent_core::ReedError::IoError
pub fn queued_entry(base_path: &Path, table_name: &str, queue_id: &str) -> ReedResult<QueuedEntry> {
    let base = BaseDir::new(base_path.to_path_buf());
    let paths = TablePaths::new(base_path, table_name)?;
    validate_queue_id(queue_id)?;
    let not_found = || ReedError::entry_not_found(table_name, queue_id);
    let Some(queue) = base.open(&paths, Level::Queue, "read_queue_dir")? else {
        return Err(not_found());
    };
    let name = pending_file_name(queue_id);
    let candidate = ordered_entries(queue.as_fd(), &paths.queue_dir)?
        .into_iter()
        .find(|candidate| candidate.name == OsStr::new(&name))
        .ok_or_else(not_found)?;
    judge(queue.as_fd(), &paths, &candidate)?.ok_or_else(not_found)
}

/// What a reader would make of one entry; `None` when it vanished.
fn judge(
    queue: BorrowedFd<'_>,
    paths: &TablePaths,
    candidate: &Candidate,
) -> ReedResult<Option<QueuedEntry>> {
    let write = match inspect(queue, paths, candidate, DEFAULT_MAX_ENTRY_BYTES)? {
        Inspected::Ready(write, _) => Ok(write),
        Inspected::Gone => return Ok(None),
        Inspected::InProgress => Err(
            "an old-module entry that does not parse yet and was written in the last 2 s: \
             it may still be being written"
                .to_string(),
        ),
        Inspected::Corrupt(reason) => Err(reason),
    };
    let facts = stat_at(queue, &candidate.name).map_err(|e| {
        ReedError::io(
            "read_queue_file",
            &paths.queue_dir.join(&candidate.name),
            &e,
        )
    })?;
    Ok(Some(QueuedEntry::new(
        candidate.id.clone(),
        write,
        facts.map(|facts| facts.modified),
        facts.map_or(0, |facts| facts.size),
        failed_applies(queue, &candidate.id),
    )))
}

/// The count in `<id>.attempts`, 0 when there is none or it is not a
/// regular file holding a number.
fn failed_applies(queue: BorrowedFd<'_>, queue_id: &str) -> u32 {
    let name = attempts_file_name(queue_id);
    let Ok(Opened::File(file, _)) = open_regular(queue, OsStr::new(&name)) else {
        return 0;
    };
    let mut text = String::new();
    match file.take(32).read_to_string(&mut text) {
        Ok(_) => text.trim().parse().unwrap_or(0),
        Err(_) => 0,
    }
}

/// Refuses a base path that does not exist or is not a directory (a link
/// to a directory is followed, as every call on the base does).
fn check_base_dir(base_path: &Path) -> ReedResult<()> {
    let missing = |kind: io::ErrorKind, what: &str| {
        ReedError::io("read_tables_dir", base_path, &io::Error::new(kind, what))
    };
    match std::fs::metadata(base_path) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(missing(
            io::ErrorKind::NotADirectory,
            "the base directory is not a directory",
        )),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Err(missing(
            io::ErrorKind::NotFound,
            "the base directory does not exist",
        )),
        Err(e) => Err(ReedError::io("read_tables_dir", base_path, &e)),
    }
}

/// The operators' view of a base directory: the functions above, on the
/// backend's base, with the backend's options for a restore.
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, InspectBackend, PendingWrite, QueueBackend, WriteOperation};
/// use reedbase_concurrent_fs::FsBackend;
///
/// let dir = tempfile::tempdir()?;
/// let backend = FsBackend::new(dir.path());
/// assert!(backend.tables()?.is_empty());
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
/// backend.queue_write("users", &write)?;
/// let summary = &backend.table_summaries()?[0];
/// assert_eq!((summary.table.as_str(), summary.pending, summary.holder.is_none()), ("users", 1, true));
/// assert!(FsBackend::new(dir.path().join("missing")).tables().is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
impl InspectBackend for FsBackend {
    fn location(&self) -> String {
        format!("base directory {}", self.base_path().display())
    }

    fn tables(&self) -> ReedResult<Vec<String>> {
        tables(self.base_path())
    }

    fn queued_entries(&self, table_name: &str) -> ReedResult<Vec<QueuedEntry>> {
        queued_entries(self.base_path(), table_name)
    }

    fn queued_entry(&self, table_name: &str, queue_id: &str) -> ReedResult<QueuedEntry> {
        queued_entry(self.base_path(), table_name, queue_id)
    }

    /// For a holder on this host, whether its process exists (`Some(false)`:
    /// it is gone and another process inherited the lock); `None` for
    /// another host or a holder that left no record.
    fn holder_alive(&self, holder: &LockHolder) -> Option<bool> {
        let pid = holder.pid?;
        let host = holder.host.as_deref()?;
        (host == this_host()?).then(|| Path::new(&format!("/proc/{pid}")).exists())
    }
}

impl RestoreBackend for FsBackend {
    fn restore_moved_aside(&self, table_name: &str, queue_id: &str) -> ReedResult<PendingWrite> {
        crate::restore_moved_aside(self.base_path(), table_name, queue_id, self.options())
    }
}

/// This machine's host name as a holder record carries it (every byte
/// outside `[A-Za-z0-9._-]` replaced by `_`).
fn this_host() -> Option<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?;
    let host: String = raw
        .trim()
        .bytes()
        .take(64)
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_') {
                char::from(b)
            } else {
                '_'
            }
        })
        .collect();
    (!host.is_empty()).then_some(host)
}

#[cfg(test)]
#[path = "inspect_test.rs"]
mod tests;
