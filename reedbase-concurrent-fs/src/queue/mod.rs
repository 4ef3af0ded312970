// SPDX-License-Identifier: Apache-2.0
//! The durable, strictly ordered, file-per-entry write queue.
//!
//! # Layout
//!
//! ```text
//! <base>/tables/<table>/queue/<id>.pending             one entry per file
//! <base>/tables/<table>/queue/.queue.lock              producers' lock (never deleted)
//! <base>/tables/<table>/queue/.incoming-<id>.tmp       an entry being written
//! <base>/tables/<table>/queue/corrupt/<id>.pending     an entry moved aside
//! <base>/tables/<table>/queue/corrupt/<id>.reason      why, in plain text
//! ```
//!
//! An entry is a serialised [`PendingWrite`]: JSON by default, exactly as the
//! old module wrote it, or postcard with [`Codec::Postcard`]. Reading accepts
//! both whatever the options say: a postcard entry starts with a magic prefix
//! whose first byte (`0xFF`) never starts a JSON file.
//!
//! # Writing, durability and capacity
//!
//! A producer takes the queue's lock (a blocking fs2 exclusive lock on
//! `.queue.lock`; the section it guards is a listing and one small file, so
//! waiting is short, and the lock dies with its process), then: lists the
//! directory (counting entries, finding the highest sequence number and
//! deleting temporaries), refuses with [`ReedError::QueueFull`] at capacity,
//! writes the entry to `.incoming-<id>.tmp`, fsyncs it, renames it to
//! `<id>.pending`, fsyncs the directory, and releases the lock.
//! [`Durability::Relaxed`] skips the two fsyncs (an acknowledged entry then
//! survives a process crash, not a power cut); the bytes and names are the
//! same.
//!
//! Because a reader only ever sees an entry under its final name, after the
//! rename, no reader sees a partial entry. Because every producer holds the
//! lock from creating its temporary until renaming it, a temporary seen by a
//! lock holder belongs to a producer that died before its write returned,
//! so it is swept (deleted) by the next producer: nothing acknowledged is
//! lost. Because counting and writing happen under one lock, capacity is
//! exact across any number of threads and processes of this crate.
//! Old-module producers do not take the lock: with them in the mix the
//! capacity can be exceeded, as it could before.
//!
//! The lock has no timeout: a producer that is stopped (not killed) while
//! holding it, for one listing and one small write, holds up the other
//! producers of that table until it resumes or dies. Consumers never take
//! it.
//!
//! # Order
//!
//! An id written here is a 20-digit sequence number, one above the highest
//! in the directory when the producer held the lock, then a random UUID:
//! `00000000000000000042-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f`. The sequence
//! makes delivery strict FIFO in enqueue (lock) order across processes,
//! with no reliance on clocks or file creation times; the UUID keeps ids
//! unique for the life of the queue (the sequence starts again at 0 in an
//! emptied queue), so an id can serve as an idempotency key.
//!
//! Entries written by the old module (hyphenated UUIDs, no order in their
//! names) are delivered first, ordered by creation time as the old module
//! ordered them; only those files are stat'ed, so a pop from a queue written
//! here costs one directory listing and one file read.
//!
//! # Corruption
//!
//! An entry that cannot be read or decoded, that holds a row that would
//! corrupt the table ([`validate_write`]), whose file name is not a queue
//! id, or that is not a regular file (a directory or a FIFO named like an
//! entry) is moved to `corrupt/` with a `.reason` file beside it, and
//! [`get_next_pending`] goes on to the next entry. Nothing is deleted. [`moved_aside`] lists these entries;
//! [`remove_from_queue`] of a moved id reports [`ReedError::CorruptEntry`].
//! A read failure that says nothing about the entry (too many open files, a
//! device error) is returned as an I/O error instead, leaving the entry in
//! place.
//!
//! The old module writes an entry in place, so a reader can meet one half
//! written. An old-format entry that does not parse and was modified less
//! than 2 s ago is therefore skipped for now (neither returned nor moved
//! aside); if it still does not parse later, it is moved aside.
//!
//! # Compatibility with the old module
//!
//! - Old-module entries are read here, and come first.
//! - JSON entries written here are read by the old module (it reads every
//!   `.pending` file and ignores `.queue.lock`, temporaries and `corrupt/`).
//!   It orders them by creation time, which agrees with their sequence
//!   except where creation times tie or go backwards.
//! - Postcard entries are unreadable by the old module: its reader fails on
//!   them, and since a failing entry stays first, its queue is stuck. Choose
//!   [`Codec::Postcard`] only when no old-module process shares the base
//!   directory.
//! - Capacity is exact only among processes of this crate (see above).
//!
//! # Removal
//!
//! [`remove_from_queue`] deletes the entry's file without an fsync: after a
//! power cut a removed entry may come back and be delivered again. Delivery
//! is at-least-once, and the id is the idempotency key.
//!
//! [`Codec::Postcard`]: crate::Codec::Postcard
//! [`Durability::Relaxed`]: crate::Durability::Relaxed
//! [`ReedError::QueueFull`]: crate::ReedError::QueueFull
//! [`ReedError::CorruptEntry`]: crate::ReedError::CorruptEntry

mod codec;
mod consumer;
mod corrupt;
mod entry_id;
mod listing;
mod producer;
mod queue_lock;

#[cfg(test)]
mod codec_test;
#[cfg(test)]
mod consumer_test;
#[cfg(test)]
mod corrupt_test;
#[cfg(test)]
mod entry_id_test;
#[cfg(test)]
mod producer_test;
#[cfg(test)]
mod test_support;

use std::path::Path;

use reedbase_concurrent_core::{PendingWrite, ReedResult, validate_queue_id, validate_write};

pub use reedbase_concurrent_core::MovedAside;

use crate::backend::FsBackend;
use crate::options::FsOptions;
use crate::paths::TablePaths;

/// Queues a write with the default options (durable, capacity 100, JSON),
/// with the old module's signature, and returns the entry's id.
///
/// See [`queue_write_with`].
///
/// # Errors
///
/// As [`queue_write_with`].
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_fs::{count_pending, queue_write};
///
/// let dir = tempfile::tempdir()?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", vec!["Alice"])]);
/// let id = queue_write(dir.path(), "users", write)?;
/// assert!(dir.path().join(format!("tables/users/queue/{id}.pending")).is_file());
/// assert_eq!(count_pending(dir.path(), "users")?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn queue_write(
    base_path: &Path,
    table_name: &str,
    operation: PendingWrite,
) -> ReedResult<String> {
    queue_write_with(base_path, table_name, &operation, &FsOptions::default())
}

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
/// - [`ReedError::SerializationError`] if the write cannot be encoded;
/// - [`ReedError::IoError`] naming the operation (`create_queue_dir`,
///   `lock_queue`, `read_queue_dir`, `sweep_temporary`, `write_queue_file`,
///   `sync_queue_file`, `rename_queue_file`, `sync_queue_dir`) and the path;
///   a base path that is a regular file fails at once. After an error the
///   entry is not queued.
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
/// [`ReedError::SerializationError`]: crate::ReedError::SerializationError
/// [`ReedError::IoError`]: crate::ReedError::IoError
pub fn queue_write_with(
    base_path: &Path,
    table_name: &str,
    write: &PendingWrite,
    options: &FsOptions,
) -> ReedResult<String> {
    let paths = TablePaths::new(base_path, table_name)?;
    validate_write(write)?;
    let bytes = codec::encode(write, options.codec)?;
    producer::enqueue(&paths, table_name, &bytes, options)
}

/// The oldest entry of the table's queue, without removing it.
///
/// Returns `Ok(None)` when the queue is empty or was never used (nothing is
/// created). Entries that are corrupt are moved aside on the way (see
/// [`moved_aside`]); an old-module entry still being written is skipped.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`], before any file is touched;
/// - [`ReedError::IoError`] naming the operation (`read_queue_dir`,
///   `read_queue_file`, `create_corrupt_dir`, `write_reason_file`,
///   `move_aside`) and the path.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_fs::{get_next_pending, queue_write};
///
/// let dir = tempfile::tempdir()?;
/// assert_eq!(get_next_pending(dir.path(), "users")?, None);
/// let first = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["1"])]);
/// let second = PendingWrite::new(WriteOperation::Delete, vec![CsvRow::new("k", vec!["1"])]);
/// let first_id = queue_write(dir.path(), "users", first.clone())?;
/// queue_write(dir.path(), "users", second)?;
/// assert_eq!(get_next_pending(dir.path(), "users")?, Some((first_id, first)));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: crate::ReedError::InvalidTableName
/// [`ReedError::IoError`]: crate::ReedError::IoError
pub fn get_next_pending(
    base_path: &Path,
    table_name: &str,
) -> ReedResult<Option<(String, PendingWrite)>> {
    let paths = TablePaths::new(base_path, table_name)?;
    consumer::next_pending(&paths)
}

/// Removes one entry by id.
///
/// The removal is not fsynced (see the [module docs](self#removal)).
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`] and [`ReedError::InvalidQueueId`]
///   (for example `../../x`), before any file is touched;
/// - [`ReedError::CorruptEntry`] if the entry was moved aside, with where it
///   lies and why;
/// - [`ReedError::QueueEntryNotFound`] for a well-formed id that is not
///   queued (removing twice is an error, as in the old module);
/// - [`ReedError::IoError`] `remove_queue_file` naming the path.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, ReedError, WriteOperation};
/// use reedbase_concurrent_fs::{count_pending, queue_write, remove_from_queue};
///
/// let dir = tempfile::tempdir()?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])]);
/// let id = queue_write(dir.path(), "users", write)?;
/// remove_from_queue(dir.path(), "users", &id)?;
/// assert_eq!(count_pending(dir.path(), "users")?, 0);
/// let again = remove_from_queue(dir.path(), "users", &id).unwrap_err();
/// assert!(matches!(again, ReedError::QueueEntryNotFound { .. }));
/// assert!(remove_from_queue(dir.path(), "users", "../../x").unwrap_err().is_invalid_input());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: crate::ReedError::InvalidTableName
/// [`ReedError::InvalidQueueId`]: crate::ReedError::InvalidQueueId
/// [`ReedError::CorruptEntry`]: crate::ReedError::CorruptEntry
/// [`ReedError::QueueEntryNotFound`]: crate::ReedError::QueueEntryNotFound
/// [`ReedError::IoError`]: crate::ReedError::IoError
pub fn remove_from_queue(base_path: &Path, table_name: &str, queue_id: &str) -> ReedResult<()> {
    let paths = TablePaths::new(base_path, table_name)?;
    validate_queue_id(queue_id)?;
    consumer::remove_entry(&paths, table_name, queue_id)
}

/// The number of pending entries (`.pending` files) of the table's queue;
/// 0 when it was never used (nothing is created).
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`], before any file is touched;
/// - [`ReedError::IoError`] `read_queue_dir` naming the path.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_fs::{count_pending, queue_write};
///
/// let dir = tempfile::tempdir()?;
/// assert_eq!(count_pending(dir.path(), "users")?, 0);
/// for n in 0..3 {
///     let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(format!("k{n}"), Vec::<String>::new())]);
///     queue_write(dir.path(), "users", write)?;
/// }
/// assert_eq!(count_pending(dir.path(), "users")?, 3);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// [`ReedError::InvalidTableName`]: crate::ReedError::InvalidTableName
/// [`ReedError::IoError`]: crate::ReedError::IoError
pub fn count_pending(base_path: &Path, table_name: &str) -> ReedResult<usize> {
    let paths = TablePaths::new(base_path, table_name)?;
    listing::count_entries(&paths.queue_dir)
}

/// The entries of the table's queue that were moved aside as corrupt, by
/// id, each with its path and reason; empty if there are none.
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
    let paths = TablePaths::new(base_path, table_name)?;
    corrupt::list_moved_aside(&paths)
}

impl FsBackend {
    /// The entries of `table_name`'s queue that were moved aside as
    /// corrupt; see [`moved_aside`].
    ///
    /// # Errors
    ///
    /// As [`moved_aside`].
    ///
    /// # Examples
    ///
    /// ```
    /// use reedbase_concurrent_fs::FsBackend;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let backend = FsBackend::new(dir.path());
    /// assert!(backend.moved_aside("users")?.is_empty());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        moved_aside(self.base_path(), table_name)
    }
}

/// The oldest `max` entries of the table's queue, in delivery order,
/// without removing them (corrupt entries are moved aside on the way, as in
/// [`get_next_pending`]).
///
/// # Errors
///
/// As [`get_next_pending`].
pub(crate) fn pending_batch(
    base_path: &Path,
    table_name: &str,
    max: usize,
) -> ReedResult<Vec<(String, PendingWrite)>> {
    let paths = TablePaths::new(base_path, table_name)?;
    consumer::pending_batch(&paths, max)
}

/// Whether `<queue>/<id>.pending` exists.
pub(crate) fn is_pending(base_path: &Path, table_name: &str, queue_id: &str) -> ReedResult<bool> {
    let paths = TablePaths::new(base_path, table_name)?;
    validate_queue_id(queue_id)?;
    consumer::entry_exists(&paths, queue_id)
}

/// Moves a pending entry to `corrupt/` with `reason` (a dead letter).
pub(crate) fn move_entry_aside(
    base_path: &Path,
    table_name: &str,
    queue_id: &str,
    reason: &str,
) -> ReedResult<MovedAside> {
    let paths = TablePaths::new(base_path, table_name)?;
    validate_queue_id(queue_id)?;
    consumer::move_entry_aside(&paths, table_name, queue_id, reason)
}

/// Counts one more failed apply of a pending entry, durably.
pub(crate) fn record_failed_apply(
    base_path: &Path,
    table_name: &str,
    queue_id: &str,
) -> ReedResult<u32> {
    let paths = TablePaths::new(base_path, table_name)?;
    validate_queue_id(queue_id)?;
    consumer::record_failed_apply(&paths, table_name, queue_id)
}

/// The tables under `<base>/tables/` whose queues hold a pending entry.
pub(crate) fn tables_with_pending(base_path: &Path) -> ReedResult<Vec<String>> {
    listing::tables_with_pending(base_path)
}
