// SPDX-License-Identifier: Apache-2.0
//! Putting an entry that was moved aside back into its queue, under its own
//! id, after an operator repaired it (or, for a dead letter, repaired what
//! made its apply fail).

use std::ffi::OsString;
use std::fs::File;
use std::io::Read as _;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;

use reedbase_concurrent_core::{
    PendingWrite, ReedError, ReedResult, events, validate_queue_id, validate_write,
};
use rustix::fs::AtFlags;

use crate::no_follow::{Opened, child_dir, for_each_name, open_regular, stat_at};
use crate::options::{Durability, FsOptions};
use crate::queue::codec;
use crate::queue::corrupt::rename_no_replace;
use crate::queue::entry_id::{
    id_of_moved_stem, is_beyond_producers, moved_file_names, parse_sequence, pending_file_name,
    pending_stem,
};
use crate::queue::listing::count_entries;
use crate::queue::producers_lock::ProducersLock;
use crate::tables_dir::{BaseDir, Level, TablePaths, sync_dir, tables_dir};

/// Puts the entry `queue_id` that was moved aside to `queue/corrupt/` back
/// into the table's queue under its own id, so in its own place in the
/// FIFO order (among the entries pending now: a queue that was emptied
/// meanwhile numbers its new entries from 0 again, and they come before
/// it), and returns its write.
///
/// The entry is read from `corrupt/<id>.pending` as it lies now (repair it
/// there first, if it was moved aside because it did not parse) and must
/// decode and hold valid rows, as a reader checks it; then it is renamed
/// back, its reason file removed, and with [`Durability::Durable`] both
/// directories synced. Where several copies were moved aside under one id,
/// the first is restored. Like any producer it takes the queue's producers'
/// lock, and respects the capacity. Its count of failed applies starts
/// again at 0.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`] and [`ReedError::InvalidQueueId`],
///   before any file is touched;
/// - [`ReedError::QueueEntryNotFound`] when nothing was moved aside under
///   this id;
/// - [`ReedError::CorruptEntry`] naming where it lies and why it stays
///   there ("not restored: ..."), when it still does not decode, holds a
///   row that would corrupt the table, is not a regular file or is too
///   large, when its id is one no producer writes, or when an entry with
///   this id is pending already; nothing is changed;
/// - [`ReedError::QueueFull`] and [`ReedError::QueueBusy`] as for
///   [`queue_write_with`](crate::queue_write_with);
/// - [`ReedError::IoError`] naming the operation and the path.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, WriteOperation};
/// use reedbase_concurrent_fs::{FsBackend, FsOptions, restore_moved_aside};
///
/// let dir = tempfile::tempdir()?;
/// let backend = FsBackend::new(dir.path());
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
/// let id = backend.queue_write("t", &write)?;
/// backend.move_aside("t", &id, "dead letter: applying it failed 3 times; last error: disk full")?;
/// assert_eq!(backend.count_pending("t")?, 0);
/// let restored = restore_moved_aside(dir.path(), "t", &id, &FsOptions::default())?;
/// assert_eq!(restored, write);
/// assert_eq!(backend.get_next_pending("t")?, Some((id, write)));
/// assert!(backend.moved_aside("t")?.is_empty());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`Durability::Durable`]: crate::Durability::Durable
/// [`ReedError::InvalidTableName`]: reedbase_concurrent_core::ReedError::InvalidTableName
/// [`ReedError::InvalidQueueId`]: reedbase_concurrent_core::ReedError::InvalidQueueId
/// [`ReedError::QueueEntryNotFound`]: reedbase_concurrent_core::ReedError::QueueEntryNotFound
/// [`ReedError::CorruptEntry`]: reedbase_concurrent_core::ReedError::CorruptEntry
/// [`ReedError::QueueFull`]: reedbase_concurrent_core::ReedError::QueueFull
/// [`ReedError::QueueBusy`]: reedbase_concurrent_core::ReedError::QueueBusy
/// [`ReedError::IoError`]: reedbase_concurrent_core::ReedError::IoError
pub fn restore_moved_aside(
    base_path: &Path,
    table_name: &str,
    queue_id: &str,
    options: &FsOptions,
) -> ReedResult<PendingWrite> {
    let base = BaseDir::new(base_path.to_path_buf());
    let paths = TablePaths::new(base_path, table_name)?;
    validate_queue_id(queue_id)?;
    let not_found = || ReedError::entry_not_found(table_name, queue_id);
    let Some(queue) = base.open(&paths, Level::Queue, "read_queue_dir")? else {
        return Err(not_found());
    };
    let queue = File::from(queue);
    let _lock = ProducersLock::take(&queue, &paths, table_name, options)?;
    let corrupt = child_dir(
        queue.as_fd(),
        "corrupt",
        &paths.corrupt_dir,
        tables_dir(&paths),
    )
    .open("read_corrupt_dir")?
    .ok_or_else(not_found)?;
    let stem = first_copy(corrupt.as_fd(), &paths, queue_id)?.ok_or_else(not_found)?;
    let (moved_name, reason_name) = moved_file_names(&stem);
    let moved_path = paths.corrupt_dir.join(&moved_name);
    let refuse = |reason: String| ReedError::CorruptEntry {
        table: table_name.to_string(),
        queue_id: queue_id.to_string(),
        moved_to: moved_path.display().to_string(),
        reason: format!("not restored: {reason}"),
    };
    if parse_sequence(queue_id).is_some_and(is_beyond_producers) {
        return Err(refuse(
            "its id holds a sequence number no producer writes; a reader would move it aside again"
                .to_string(),
        ));
    }
    let entry_name = pending_file_name(queue_id);
    let pending = stat_at(&queue, &entry_name)
        .map_err(|e| ReedError::io("read_queue_file", &paths.queue_dir.join(&entry_name), &e))?;
    if pending.is_some() {
        return Err(refuse(format!(
            "an entry with id '{queue_id}' is pending in the queue already"
        )));
    }
    let write = read_repaired(corrupt.as_fd(), &moved_name, options.max_entry_bytes)
        .map_err(refuse)?
        .map_err(|e| ReedError::io("read_queue_file", &moved_path, &e))?;
    let pending_now = count_entries(queue.as_fd(), &paths.queue_dir)?;
    if pending_now >= options.capacity {
        return Err(ReedError::queue_full(table_name, pending_now));
    }
    rename_no_replace(
        corrupt.as_fd(),
        &moved_name,
        queue.as_fd(),
        entry_name.as_ref(),
    )
    .map_err(|e| ReedError::io("restore_entry", &moved_path, &e))?;
    // The reason belongs to the entry that is no longer here; a reason file
    // that cannot be removed is harmless (only `.pending` files are listed).
    let _ = rustix::fs::unlinkat(corrupt.as_fd(), &reason_name, AtFlags::empty());
    if options.durability == Durability::Durable {
        sync_dir(queue.as_fd())
            .and_then(|()| sync_dir(corrupt.as_fd()))
            .map_err(|e| ReedError::io("sync_queue_dir", &paths.queue_dir, &e))?;
    }
    tracing::info!(
        event = events::ENTRY_RESTORED,
        table = table_name,
        id = queue_id,
        "moved-aside entry restored into its queue"
    );
    Ok(write)
}

/// The stem of the first copy moved aside under `queue_id` (`<id>` before
/// `<id>.copy-2` and so on), if any.
fn first_copy(
    corrupt: BorrowedFd<'_>,
    paths: &TablePaths,
    queue_id: &str,
) -> ReedResult<Option<OsString>> {
    let mut copies: Vec<(usize, OsString)> = Vec::new();
    for_each_name(corrupt, |name| {
        if let Some(stem) = pending_stem(name).and_then(|stem| stem.to_str())
            && id_of_moved_stem(stem) == queue_id
        {
            copies.push((stem.len(), stem.into()));
        }
    })
    .map_err(|e| ReedError::io("read_corrupt_dir", &paths.corrupt_dir, &e))?;
    copies.sort();
    Ok(copies.into_iter().next().map(|(_, stem)| stem))
}

/// The write in a moved-aside file: `Err` with why it cannot go back,
/// `Ok(Err)` for a failure to read that says nothing about the entry.
fn read_repaired(
    corrupt: BorrowedFd<'_>,
    name: &std::ffi::OsStr,
    max_entry_bytes: u64,
) -> Result<std::io::Result<PendingWrite>, String> {
    let file = match open_regular(corrupt, name) {
        Ok(Opened::File(file, _)) => file,
        Ok(Opened::Missing) => return Err("it vanished".to_string()),
        Ok(Opened::NotRegular(found)) => {
            return Err(format!("it {}, not a regular file", found.describe()));
        }
        Err(e) => return Ok(Err(e)),
    };
    let mut bytes = Vec::new();
    if let Err(e) = file
        .take(max_entry_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
    {
        return Ok(Err(e));
    }
    if bytes.len() as u64 > max_entry_bytes {
        return Err(format!(
            "it is larger than the limit of {max_entry_bytes} bytes (FsOptions::max_entry_bytes)"
        ));
    }
    let write =
        codec::decode(&bytes).map_err(|reason| format!("it still does not decode: {reason}"))?;
    validate_write(&write)
        .map_err(|e| format!("it still holds a row that would corrupt the table: {e}"))?;
    Ok(Ok(write))
}

#[cfg(test)]
#[path = "restore_test.rs"]
mod tests;
