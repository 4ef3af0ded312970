// SPDX-License-Identifier: Apache-2.0
//! The count of failed applies of a pending entry: `<id>.attempts` beside
//! it, a decimal number and a newline, durable and visible to every
//! process, removed with the entry (or when it is moved aside).
//!
//! The count is read and written by the holder of the table's lock (the
//! coordinator records a failure under it), so two processes never count
//! the same failure at once. A new count is written to
//! `.<id>.attempts.tmp`, synced and renamed over the old one, and the
//! directory is synced: a crash leaves the old count or the new one. The
//! queue directory is marked first (see `counts_marker`), so that removals
//! know to look for counts there.

use std::ffi::OsStr;
use std::io::{self, Read as _, Write as _};
use std::os::fd::BorrowedFd;

use reedbase_concurrent_core::{ReedError, ReedResult};
use rustix::fs::AtFlags;

use super::counts_marker;
use super::entry_id::{attempts_file_name, attempts_temporary_name};
use crate::no_follow::{Opened, create_new, open_regular};
use crate::tables_dir::TablePaths;
use crate::tables_dir::sync_dir;

/// The longest count file read, in bytes (a `u32` and a newline fit).
const MAX_COUNT_BYTES: u64 = 32;

/// Adds one to the entry's count of failed applies and returns the new
/// count. The entry must be pending (the caller checked).
///
/// # Errors
///
/// `IoError` `read_attempts_file` or `write_attempts_file` naming the path.
pub(crate) fn record_failed_apply(
    table: BorrowedFd<'_>,
    queue: BorrowedFd<'_>,
    paths: &TablePaths,
    queue_id: &str,
) -> ReedResult<u32> {
    let name = attempts_file_name(queue_id);
    let path = paths.queue_dir.join(&name);
    let read_error = |e: &io::Error| ReedError::io("read_attempts_file", &path, e);
    // A count file that is not a regular file (a link, a FIFO) is not read:
    // it counts as no earlier failure, and the rename below replaces it.
    let previous = match open_regular(queue, OsStr::new(&name)).map_err(|e| read_error(&e))? {
        Opened::File(file, _) => {
            let mut text = String::new();
            file.take(MAX_COUNT_BYTES)
                .read_to_string(&mut text)
                .map_err(|e| read_error(&e))?;
            text.trim().parse::<u32>().unwrap_or(0)
        }
        Opened::Missing | Opened::NotRegular(_) => 0,
    };
    let count = previous.saturating_add(1);
    let temporary = attempts_temporary_name(queue_id);
    let write = || -> io::Result<()> {
        // Marked first, so that no count is ever there unmarked (see
        // `counts_marker`); the directory's sync below makes it durable too.
        counts_marker::mark(queue)?;
        counts_marker::announce(table)?;
        // A temporary left by a process that died here is ours to replace.
        let _ = rustix::fs::unlinkat(queue, temporary.as_str(), AtFlags::empty());
        let mut file = create_new(queue, OsStr::new(&temporary))?;
        file.write_all(format!("{count}\n").as_bytes())?;
        file.sync_data()?;
        rustix::fs::renameat(queue, temporary.as_str(), queue, name.as_str())?;
        sync_dir(queue)
    };
    write().map_err(|e| ReedError::io("write_attempts_file", &path, &e))?;
    Ok(count)
}

#[cfg(test)]
#[path = "attempts_test.rs"]
mod tests;
