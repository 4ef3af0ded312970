// SPDX-License-Identifier: Apache-2.0
//! One table's queue, as [`FsBackend`](crate::FsBackend) and the free
//! functions use it: every queue operation over an open base directory,
//! each validating its input before it touches a file and then calling the
//! producer, the consumer or the moved-aside list.

use std::fs::File;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::Arc;

use reedbase_concurrent_core::{MovedAside, PendingWrite, ReedError, ReedResult, validate_write};

use super::attempts;
use super::cache::Listings;
use super::codec;
use super::consumer;
use super::corrupt::{self, Moved};
use super::counts_marker;
use super::entry_id::{check_queue_id, pending_file_name};
use super::kept_queue;
use super::late_free;
use super::listing;
use super::producer;
use crate::no_follow::stat_at;
use crate::options::{Durability, FsOptions};
use crate::tables_dir::TablePaths;
use crate::tables_dir::{BaseDir, Level, sync_dir};

/// The table's queue directory, or `None` if it was never created.
fn open_queue(base: &BaseDir, paths: &TablePaths) -> ReedResult<Option<OwnedFd>> {
    base.open(paths, Level::Queue, "read_queue_dir")
}

/// `queue_write`: checks the name and the rows, encodes, enqueues.
pub(crate) fn queue_write(
    base: &BaseDir,
    table_name: &str,
    write: &PendingWrite,
    options: &FsOptions,
) -> ReedResult<String> {
    let mut never = || None::<std::convert::Infallible>;
    match queue_write_unless(base, table_name, write, options, &mut never)? {
        Ok(id) => Ok(id),
        Err(never) => match never {},
    }
}

/// `queue_write_unless`: as [`queue_write`], asking `instead` once the
/// entry is written (and synced when durable) under its temporary name;
/// `Some` deletes the temporary, queues nothing and is returned as `Err`.
pub(crate) fn queue_write_unless<T>(
    base: &BaseDir,
    table_name: &str,
    write: &PendingWrite,
    options: &FsOptions,
    instead: &mut dyn FnMut() -> Option<T>,
) -> ReedResult<Result<String, T>> {
    // As in `remove_batch`: a kept queue's paths are found by the name
    // alone; otherwise the name is validated as the paths are built.
    let paths = match kept_queue::kept_paths(base, table_name) {
        Some(paths) => paths,
        None => Arc::new(TablePaths::new(base.path(), table_name)?),
    };
    validate_write(write)?;
    let bytes = codec::encode(write, options.codec)?;
    producer::enqueue(base, &paths, table_name, &bytes, options, instead)
}

/// `get_pending_batch` (and `get_next_pending` with `max` 1).
pub(crate) fn pending_batch(
    base: &BaseDir,
    table_name: &str,
    max: usize,
    options: &FsOptions,
) -> ReedResult<Vec<(String, PendingWrite)>> {
    let paths = TablePaths::new(base.path(), table_name)?;
    let queue = open_queue(base, &paths)?;
    consumer::pending_batch(queue, &paths, max, options.max_entry_bytes)
}

/// `get_pending_batch` through a backend's kept listings (see
/// [`cache`](super::cache)). With `keep_reads` (a lock holder's batch,
/// which it removes once applied), the descriptors the entries were read
/// through are kept to pin them at their removal (see `late_free`).
pub(crate) fn pending_batch_kept(
    base: &BaseDir,
    listings: &Listings,
    table_name: &str,
    (max, keep_reads): (usize, bool),
    options: &FsOptions,
) -> ReedResult<Vec<(String, PendingWrite)>> {
    let keep_reads = keep_reads.then(|| base.key()).flatten();
    if !options.watch_queues {
        return pending_batch(base, table_name, max, options);
    }
    let paths = TablePaths::new(base.path(), table_name)?;
    let queue = open_queue(base, &paths)?;
    let mut found_empty = None;
    let batch = listings.pending_batch(
        queue,
        &paths,
        table_name,
        (max, keep_reads),
        options.max_entry_bytes,
        &mut found_empty,
    )?;
    // For the next lock holder of this process: an empty queue that has not
    // changed since needs no fetch (see `Held::queue_known_empty`).
    if let Some(empty) = found_empty {
        base.kept()
            .note_empty_queue(table_name, empty.key, empty.stamp, empty.seen_at);
    }
    Ok(batch)
}

/// `remove_from_queue`: one entry, freed in the call (a caller that removes
/// entries one by one is not a lock holder applying batches).
pub(crate) fn remove(base: &BaseDir, table_name: &str, queue_id: &str) -> ReedResult<()> {
    remove_batch(
        base,
        table_name,
        &[queue_id],
        Durability::Relaxed,
        Freed::Now,
    )
}

/// When [`remove_batch`] frees what it removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Freed {
    /// In each `unlinkat`.
    Now,
    /// On the process's closing thread, after the call (see `late_free`):
    /// for the lock holder's batches.
    Later,
}

/// `remove_batch_from_queue`: checks every id first (a malformed id touches
/// nothing), then removes the entries in order, stopping at the first
/// failure; with [`Durability::Durable`] one directory sync makes the
/// removals done durable.
pub(crate) fn remove_batch<S: AsRef<str>>(
    base: &BaseDir,
    table_name: &str,
    queue_ids: &[S],
    durability: Durability,
    freed: Freed,
) -> ReedResult<()> {
    let operation = "read_queue_dir";
    // A kept queue directory and its paths are found by the name alone (a
    // kept one was opened under a validated name); otherwise the name is
    // validated as the paths are built, before anything else.
    let (found, paths) = match kept_queue::kept_in_place(base, table_name, operation)? {
        Some((found, paths)) => (Some(found), paths),
        None => (None, Arc::new(TablePaths::new(base.path(), table_name)?)),
    };
    queue_ids
        .iter()
        .try_for_each(|id| check_queue_id(id.as_ref()))?;
    let Some(first) = queue_ids.first() else {
        return Ok(());
    };
    let found = match found {
        Some(found) => found,
        None => match kept_queue::queue_dir(base, &paths, operation)? {
            Some(found) => found,
            None => return Err(not_pending(None, &paths, table_name, first.as_ref())),
        },
    };
    let queue: &File = &found.file;
    // Counts of failed applies are rare: a queue directory without a
    // subdirectory holds none (see `counts_marker`), and its link count
    // came with the check that it is still in place.
    let attempts = counts_marker::may_hold_counts(found.links);
    let mut removed = 0;
    let mut outcome = Ok(());
    let mut pinned = Vec::new();
    for id in queue_ids {
        let pin = (freed == Freed::Later).then_some(&mut pinned);
        match consumer::remove_entry(queue.as_fd(), found.key, &paths, id.as_ref(), attempts, pin) {
            Ok(true) => removed += 1,
            Ok(false) => {
                outcome = Err(not_pending(
                    Some(queue.as_fd()),
                    &paths,
                    table_name,
                    id.as_ref(),
                ));
                break;
            }
            Err(error) => {
                outcome = Err(error);
                break;
            }
        }
    }
    if removed > 0 && durability == Durability::Durable {
        let synced = sync_dir(queue.as_fd())
            .map_err(|e| ReedError::io("sync_queue_dir", &paths.queue_dir, &e));
        outcome = outcome.and(synced);
    }
    late_free::close_later(pinned);
    outcome
}

/// The error for an id that is not pending: moved aside, or not found.
fn not_pending(
    queue: Option<BorrowedFd<'_>>,
    paths: &TablePaths,
    table_name: &str,
    queue_id: &str,
) -> ReedError {
    let moved = corrupt::list_moved_aside(queue, paths)
        .ok()
        .and_then(|moved| moved.into_iter().find(|moved| moved.id == queue_id));
    match moved {
        Some(moved) => ReedError::moved_aside(table_name, &moved),
        None => ReedError::entry_not_found(table_name, queue_id),
    }
}

/// `count_pending`.
pub(crate) fn count(base: &BaseDir, table_name: &str) -> ReedResult<usize> {
    let paths = TablePaths::new(base.path(), table_name)?;
    match open_queue(base, &paths)? {
        Some(queue) => listing::count_entries(queue.as_fd(), &paths.queue_dir),
        None => Ok(0),
    }
}

/// `is_pending`: whether `<id>.pending` exists (of whatever type).
pub(crate) fn is_pending(base: &BaseDir, table_name: &str, queue_id: &str) -> ReedResult<bool> {
    let paths = TablePaths::new(base.path(), table_name)?;
    check_queue_id(queue_id)?;
    let Some(queue) = open_queue(base, &paths)? else {
        return Ok(false);
    };
    let name = pending_file_name(queue_id);
    stat_at(&queue, &name)
        .map(|found| found.is_some())
        .map_err(|e| ReedError::io("read_queue_file", &paths.queue_dir.join(&name), &e))
}

/// `wait_while_pending`: see `pending_wait`.
pub(crate) fn wait_while_pending(
    base: &BaseDir,
    table_name: &str,
    queue_id: &str,
    timeout: std::time::Duration,
) -> ReedResult<bool> {
    super::pending_wait::wait_while_pending(base, table_name, queue_id, timeout)
}

/// `move_aside`: a dead letter, moved as a corrupt entry is.
pub(crate) fn move_aside(
    base: &BaseDir,
    table_name: &str,
    queue_id: &str,
    reason: &str,
) -> ReedResult<MovedAside> {
    let paths = TablePaths::new(base.path(), table_name)?;
    check_queue_id(queue_id)?;
    let Some(queue) = open_queue(base, &paths)? else {
        return Err(ReedError::entry_not_found(table_name, queue_id));
    };
    match consumer::move_entry_aside(queue.as_fd(), &paths, queue_id, reason)? {
        Moved::Aside(moved) => Ok(moved),
        Moved::Gone => Err(not_pending(
            Some(queue.as_fd()),
            &paths,
            table_name,
            queue_id,
        )),
    }
}

/// `moved_aside`.
pub(crate) fn moved_aside(base: &BaseDir, table_name: &str) -> ReedResult<Vec<MovedAside>> {
    let paths = TablePaths::new(base.path(), table_name)?;
    let queue = open_queue(base, &paths)?;
    corrupt::list_moved_aside(queue.as_ref().map(AsFd::as_fd), &paths)
}

/// `record_failed_apply`.
pub(crate) fn record_failed_apply(
    base: &BaseDir,
    table_name: &str,
    queue_id: &str,
) -> ReedResult<u32> {
    let paths = TablePaths::new(base.path(), table_name)?;
    check_queue_id(queue_id)?;
    let queue = open_queue(base, &paths)?;
    let pending = match &queue {
        Some(queue) => stat_at(queue, pending_file_name(queue_id))
            .map_err(|e| ReedError::io("read_queue_file", &paths.queue_dir, &e))?
            .is_some(),
        None => false,
    };
    let Some(queue) = queue.filter(|_| pending) else {
        return Err(ReedError::entry_not_found(table_name, queue_id));
    };
    // Its times move before the count is written (see `counts_marker`).
    let Some(table) = base.open(&paths, Level::Table, "write_attempts_file")? else {
        return Err(ReedError::entry_not_found(table_name, queue_id));
    };
    attempts::record_failed_apply(table.as_fd(), queue.as_fd(), &paths, queue_id)
}

/// `tables_with_pending`.
pub(crate) fn tables_with_pending(base: &BaseDir) -> ReedResult<Vec<String>> {
    listing::tables_with_pending(base)
}

#[cfg(test)]
#[path = "table_queue_test.rs"]
mod tests;
