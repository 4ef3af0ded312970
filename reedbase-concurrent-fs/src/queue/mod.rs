// SPDX-License-Identifier: Apache-2.0
//! The durable, strictly ordered, file-per-entry write queue.
//!
//! ```text
//! <base>/tables/<table>/queue/<id>.pending             one entry per file
//! <base>/tables/<table>/queue/.incoming-<uuid>.tmp     an entry being written
//! <base>/tables/<table>/queue/<id>.attempts            failed applies of an entry
//! <base>/tables/<table>/queue/.attempts-kept/          marks a queue that may hold counts
//! <base>/tables/<table>/queue/corrupt/<id>.pending     an entry moved aside
//! <base>/tables/<table>/queue/corrupt/<id>.reason      why, in plain text
//! ```
//!
//! An entry is a serialised `PendingWrite`: JSON by default, exactly as the
//! old module wrote it, or postcard (`Codec::Postcard`, which the old module
//! cannot read). Reading accepts both.
//!
//! # Contract
//!
//! - **Atomic and durable.** A reader sees an entry whole or not at all: it
//!   is written to a temporary of its own, fsynced, renamed to its final
//!   name and the directory fsynced before the write returns
//!   (`Durability::Relaxed` skips the two fsyncs: it survives a process
//!   crash, not a power cut). An error means "not queued", except
//!   `QueueOutcomeUnknown`: the entry was renamed into the queue (so a
//!   consumer may have applied it) and the directory's fsync then failed;
//!   the entry stays, the error names its id, and the caller asks for that
//!   id (`is_pending`, `wait_applied`) instead of queuing the write again.
//! - **Exact capacity** among processes of this crate: the count and the
//!   rename happen under the producers' lock (an exclusive `flock` on the
//!   queue directory, or `queue/.queue.lock` where a directory cannot be
//!   locked), so exactly `capacity` writes succeed and the rest get
//!   `QueueFull`.
//! - **Removal** deletes the entry's file without an fsync: after a power
//!   cut a removed entry may come back. Delivery is at-least-once and the
//!   id is the idempotency key; a durable backend's batch removal syncs
//!   the directory once per batch. A batch removal pins each entry before
//!   its unlink and leaves freeing it to a thread of the process
//!   (`late_free`), so that a lock holder does not wait for journal work
//!   that the queue does not need.
//! - **One bad entry never stops the queue, nothing is deleted.** An entry
//!   that cannot be read, decoded or trusted, is not a regular file, holds a
//!   row that would corrupt the table, or is larger than
//!   `FsOptions::max_entry_bytes` (not read at all) is moved to `corrupt/`
//!   with a reason and never over an earlier one; one that cannot be moved
//!   is skipped and reported by `moved_aside`.
//!
//! # Waiting for other producers
//!
//! The producers' lock is held for a rename (and a listing when the
//! process's watch of the directory cannot give the count), never for a
//! write or an fsync. A producer gives up with `QueueBusy`, having written
//! nothing, once no entry has arrived for `FsOptions::queue_lock_timeout`
//! while the lock stayed held (a stopped or hung holder), and after eight
//! times that in all. Consumers never take the lock.
//!
//! # Order
//!
//! An id written here is a 20-digit sequence number, one above the highest
//! the producer knows of under the lock, then a random UUID
//! (`00000000000000000042-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f`): delivery is
//! strict FIFO in enqueue order across processes, with no clock involved,
//! and an id is unique for the life of the queue. Old-module entries
//! (hyphenated UUIDs) come first, by creation time as the old module
//! ordered them. A sequence whose first digit is not 0 is no producer's:
//! nobody numbers after it, and readers move it aside. Only an entry at
//! exactly `09999999999999999999` stops new writes, with
//! `InvalidQueueFile`, until the queue is drained empty.
//!
//! # Removal
//!
//! `remove_from_queue` of an id that is not pending is an error, as in the
//! old module; a malformed id is refused before any file is touched.
//!
//! Measurements and the designs behind this module: the repository's
//! `docs/design/2026-12-06-fs-lock-and-queue.md`.

mod attempts;
pub(crate) mod cache;
pub(crate) mod codec;
pub(crate) mod consumer;
pub(crate) mod corrupt;
mod counts_marker;
pub(crate) mod entry_id;
pub(crate) mod kept_queue;
mod late_free;
pub(crate) mod listing;
mod pending_wait;
pub(crate) mod producer;
pub(crate) mod producers_lock;
mod staged;
mod sweep;
pub(crate) mod table_queue;
pub(crate) mod watch;
mod watched;

#[cfg(test)]
mod test_support;

use std::path::Path;

use reedbase_concurrent_core::{PendingWrite, ReedResult};

pub use reedbase_concurrent_core::MovedAside;

pub use crate::old_api::{count_pending, get_next_pending, queue_write, remove_from_queue};

use crate::options::FsOptions;

/// Queues a write with the given options and returns the entry's id.
///
/// The table name and the rows are checked before anything is touched. The
/// queue directory is created on first use. The id is unique for the life
/// of the queue and orders the entry after every entry queued before this
/// call began (see the [module docs](self)).
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`] and [`ReedError::InvalidRow`], before
///   any file is touched;
/// - [`ReedError::QueueFull`] when `options.capacity` entries are pending;
/// - [`ReedError::QueueBusy`] when another producer holds the producers'
///   lock past `options.queue_lock_timeout` (see
///   [waiting for other producers](self#waiting-for-other-producers));
/// - [`ReedError::SerializationError`] if the write cannot be encoded;
/// - [`ReedError::InvalidQueueFile`] in the one case where the queue's
///   numbering is used up (see [order](self#order));
/// - [`ReedError::IoError`] naming the operation (`create_queue_dir`,
///   `lock_queue`, `read_queue_dir`, `sweep_temporary`, `write_queue_file`,
///   `sync_queue_file`, `rename_queue_file`) and the path,
///   at once: a base path that is a regular file, a symbolic link or a file
///   where a directory of the layout is expected (see the crate's
///   [threat model](crate#threat-model)). After these errors the entry is
///   not queued;
/// - [`ReedError::QueueOutcomeUnknown`] with the entry's id when the
///   directory's fsync failed after the entry was renamed into the queue:
///   it is visible, may be applied already, and is not taken back. Do not
///   queue the write again: ask whether that id is pending or applied.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_fs::{Codec, Durability, FsOptions, get_next_pending, queue::queue_write_with};
///
/// let dir = tempfile::tempdir()?;
/// let options = FsOptions::new().durability(Durability::Relaxed).codec(Codec::Postcard).capacity(1);
/// let write = PendingWrite::new(WriteOperation::Update, vec![CsvRow::new("user:1", vec!["Bob"])]);
/// let id = queue_write_with(dir.path(), "users", &write, &options)?;
/// assert!(queue_write_with(dir.path(), "users", &write, &options).unwrap_err().is_queue_full());
/// assert_eq!(get_next_pending(dir.path(), "users")?, Some((id, write)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: crate::ReedError::InvalidTableName
/// [`ReedError::InvalidRow`]: crate::ReedError::InvalidRow
/// [`ReedError::QueueFull`]: crate::ReedError::QueueFull
/// [`ReedError::QueueBusy`]: crate::ReedError::QueueBusy
/// [`ReedError::InvalidQueueFile`]: crate::ReedError::InvalidQueueFile
/// [`ReedError::SerializationError`]: crate::ReedError::SerializationError
/// [`ReedError::IoError`]: crate::ReedError::IoError
/// [`ReedError::QueueOutcomeUnknown`]: crate::ReedError::QueueOutcomeUnknown
pub fn queue_write_with(
    base_path: &Path,
    table_name: &str,
    write: &PendingWrite,
    options: &FsOptions,
) -> ReedResult<String> {
    table_queue::queue_write(
        &crate::base_cache::base_at(base_path),
        table_name,
        write,
        options,
    )
}

/// The entries of the table's queue that were moved aside (corrupt or dead
/// letters), by id, each with its path and reason, and the entries this
/// process could not move aside (with a reason saying so and where they
/// still lie); empty if there are none.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`], before any file is touched;
/// - [`ReedError::IoError`] `read_corrupt_dir` or `read_reason_file`
///   naming the path.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_fs::{get_next_pending, queue::moved_aside};
///
/// let dir = tempfile::tempdir()?;
/// let queue_dir = dir.path().join("tables/users/queue");
/// std::fs::create_dir_all(&queue_dir)?;
/// std::fs::write(queue_dir.join("00000000000000000000-0123456789abcdef0123456789abcdef.pending"), b"{\"rows\":[")?;
/// assert_eq!(get_next_pending(dir.path(), "users")?, None);
/// let moved = moved_aside(dir.path(), "users")?;
/// assert_eq!(moved.len(), 1);
/// assert!(std::path::Path::new(&moved[0].location).starts_with(queue_dir.join("corrupt")));
/// assert!(moved[0].reason.contains("JSON"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: crate::ReedError::InvalidTableName
/// [`ReedError::IoError`]: crate::ReedError::IoError
pub fn moved_aside(base_path: &Path, table_name: &str) -> ReedResult<Vec<MovedAside>> {
    table_queue::moved_aside(&crate::base_cache::base_at(base_path), table_name)
}

/// Closes what lock holders of this process keep open of the base
/// directory `base` (the descriptors they read entries through), and waits
/// (up to a second) until the entries they removed are freed (see
/// `late_free`); for `close_idle`.
pub(crate) fn wait_for_freeing(base: Option<late_free::BaseKey>) {
    if let Some(base) = base {
        late_free::close_reads(base);
    }
    late_free::wait_closed(std::time::Duration::from_secs(1));
}
