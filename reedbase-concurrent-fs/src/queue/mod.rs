// SPDX-License-Identifier: Apache-2.0
//! The durable, strictly ordered, file-per-entry write queue.
//!
//! # Layout
//!
//! ```text
//! <base>/tables/<table>/queue/<id>.pending             one entry per file
//! <base>/tables/<table>/queue/.incoming-<uuid>.tmp     an entry being written
//! <base>/tables/<table>/queue/<id>.attempts            failed applies of an entry
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
//! A producer first writes the entry to a temporary of its own,
//! `.incoming-<uuid>.tmp` (created exclusively, its descriptor under an
//! exclusive `flock` for as long as it exists), and fsyncs it. Then it takes
//! the queue's producers' lock (an exclusive `flock` on the queue directory
//! itself), learns how many entries are pending and the highest sequence
//! number, refuses with [`ReedError::QueueFull`] at capacity (deleting its
//! temporary), renames the temporary to `<id>.pending`, and releases the
//! lock; then it fsyncs the directory and returns. The lock is held for a
//! rename, never for a write or an fsync, so producers' fsyncs run side by
//! side and a slow disk does not make other producers wait for the slowest
//! one. [`Durability::Relaxed`] skips the two fsyncs (an acknowledged entry
//! then survives a process crash, not a power cut); the bytes and names are
//! the same. A durable write is acknowledged only after the directory
//! fsync; if that fails, the entry is deleted again and the error returned,
//! so an error means "not queued".
//!
//! The count and the highest sequence come from the process's watch of the
//! directory (module `queue::watch`, whose docs say how): a listing taken
//! while nothing changed in the directory, then every name created, renamed
//! or deleted since, as the kernel reports it whichever process made the
//! change. Where the watch cannot say (the first write of the process to
//! the queue, a lost event, a file system that is not local, temporaries
//! counted for a second or more, or a count at capacity, which a rename
//! over an entry can overstate), the producer lists the directory as
//! before: it counts the entries, finds the highest sequence, deletes
//! abandoned temporaries and moves aside entries numbered beyond producers.
//! Either way the count is taken under the lock after every earlier
//! producer's rename, so it is never below the truth (a consumer's removal
//! during a listing may still be counted), and a write is refused only by a
//! listing, so capacity is exact.
//!
//! A reader only ever sees an entry under its final name, after the rename,
//! so never a partial entry. A temporary whose `flock` can be taken belongs
//! to a producer that died before its write returned (the kernel dropped
//! its lock), so a producer that lists sweeps it, holding its lock while it
//! deletes it: nothing acknowledged is lost, and a live producer's
//! temporary is never touched. A producer whose temporary disappears anyway
//! (deleted by hand, or by a producer of an earlier release, which swept
//! every temporary it saw) finds it gone at the rename and writes it again. Counting and writing happen
//! under one lock, so capacity is exact across any number of threads and
//! processes of this crate (old-module producers take no lock: with them in
//! the mix the capacity can be exceeded, as before).
//!
//! The lock is the directory's own: there is no lock file to delete or
//! replace. Where a directory cannot be locked (NFS), producers lock
//! `queue/.queue.lock` instead, checked as `write.lock` is (see [`lock`](crate::lock)).
//!
//! # Waiting for other producers
//!
//! The section under the lock is a rename (and a listing when the watch
//! cannot say), microseconds whatever the durability, so a producer
//! polls for the lock with non-blocking attempts and a short back-off. It
//! gives up with [`ReedError::QueueBusy`], having written nothing, once no
//! entry has arrived in the queue for [`FsOptions::queue_lock_timeout`]
//! (default 250 ms) while the lock stayed held: a holder that is stopped
//! (SIGSTOP) or hung completes no write, while producers that complete
//! their writes each make an entry arrive, so heavy but healthy contention
//! does not end in `QueueBusy`. Arrivals are counted by the process's watch
//! of the directory; where there is none (see above) the directory's
//! modification time stands in, which producers' temporaries and
//! consumers' removals also move, so there a stopped holder may keep other
//! producers waiting up to the cap below. Whatever others do, a producer waits at most
//! eight times `queue_lock_timeout` in all. Consumers never take the lock.
//!
//! # Order
//!
//! An id written here is a 20-digit sequence number, one above the highest
//! this producer knows of when it held the lock (the highest pending entry
//! from a listing, or the highest the watch saw listed or arriving since),
//! then a random UUID:
//! `00000000000000000042-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f`. Either is at
//! least the highest pending sequence, so the sequence makes delivery
//! strict FIFO in enqueue (lock) order across processes, with no reliance
//! on clocks or file creation times; the UUID keeps ids unique for the life
//! of the queue (the sequence starts again at 0 in an emptied queue), so an
//! id can serve as an idempotency key.
//!
//! A sequence only grows while the queue never empties, so its first digit
//! is always 0 (10^19 writes without the queue emptying would take over
//! 300,000 years at a million a second). An entry whose first digit is not
//! 0 was not written by a producer: producers do not number after it (so a
//! crafted `99999999999999999999-...` cannot use up the numbering and make
//! every later write fail), and it is moved aside with that reason. Only an
//! entry placed at exactly `09999999999999999999` (or numbered up to it
//! from a crafted entry just below) still stops new writes, with
//! [`ReedError::InvalidQueueFile`], until the queue has been drained empty.
//!
//! Old-module entries (hyphenated UUIDs) are delivered first, by creation
//! time as the old module ordered them; only they are stat'ed, so a pop
//! from a queue written here costs one listing and one file read.
//!
//! An [`FsBackend`](crate::FsBackend) keeps its ordered listing between
//! pops and lists again only when it runs out or may no longer hold every
//! entry before its tail in order (module `queue::cache`): a pop from a
//! deep queue then costs one file read, not a listing and a sort. The free
//! functions keep nothing and list on every call.
//!
//! # Deep queues: the measurements behind the watch and the kept listing
//!
//! `cargo xtask bench --only queue,drain,deep` (and `--only deep --deep`
//! for the 100,000 rows), release, on the 2-core VM of the workspace while
//! another build ran (so every number is slower than on a quiet machine;
//! the ratios in one run are what counts), `fs relaxed json` through
//! `FsBackend`, medians:
//!
//! | row                           | listing per call | watch + kept listing |
//! |-------------------------------|-----------------:|---------------------:|
//! | one pop at depth 100          | 182 us           | 70-86 us             |
//! | one pop at depth 10,000       | 14.6 ms          | 56-86 us             |
//! | one pop at depth 100,000      | (about 0.1 s)    | 60-73 us             |
//! | queue_write at depth 10,000   | 8.84 ms          | 63-97 us             |
//! | drain 10,000 entries          | 84.6 s           | 0.78 s               |
//! | drain 100,000 entries         | (over an hour)   | 6.7-7.6 s            |
//! | get_next_pending, depth 100   | 128 us           | 20 us                |
//! | queue_write 1 row, 99 pending | 246 us (last 313)| 98 / 300 / 155 us    |
//! |   (last in the same run)      |                  | 161 / 303 / 216 us   |
//! | queue_write 1 row, empty      | 144 us (last 115)| 54 / 171 / 78 us     |
//! |   (last in the same run)      |                  | 58 / 116 / 66 us     |
//!
//! (Three runs after the change; the machine's load moved every number
//! two- to threefold between runs. A write to an empty queue is not
//! reliably as fast as the old module's, which writes in place with no
//! lock and no rename.)
//!
//! A write at depth 100 and 1,000 in the `deep` group varies from 0.2 to
//! 1.7 ms from run to run: `strace -T` shows the time in the kernel's
//! `openat(O_CREAT)` of the temporary (2 ms for some calls), the same call
//! as before the change. An uncontended write and removal make 20 system
//! calls here against 13 for the old module (`strace -c -f`, 1,000 of
//! each): the old module neither opens its directories without following
//! links nor locks; the watch adds one `fstat` of the queue directory, one
//! `read` of the watch (its own rename's events) and one `getpid` (a fork
//! check) in place of the listing's two `getdents64`.
//!
//! # Corruption, hostile files and bounded memory
//!
//! Every entry is opened relative to the queue directory with `O_NOFOLLOW |
//! O_NONBLOCK` and judged by `fstat` on its descriptor: a symbolic link, a
//! FIFO, a socket or a directory named like an entry is never followed,
//! waited on or read, whatever a listing said a moment before. An entry
//! larger than [`FsOptions::max_entry_bytes`] (default 16 MiB) is not read
//! at all. Such entries, and entries that cannot be decoded, hold a row that
//! would corrupt the table ([`validate_write`]) or whose file name is not a
//! queue id, are moved to `corrupt/` with a `.reason` file beside it, and
//! [`get_next_pending`] goes on to the next entry. Nothing is deleted and
//! nothing is overwritten (a second entry moved aside under an id becomes
//! `<id>.copy-2.pending`). [`moved_aside`] lists these entries;
//! [`remove_from_queue`] of a moved id reports [`ReedError::CorruptEntry`].
//!
//! An entry that cannot be moved aside (a full or read-only disk, a
//! `corrupt` that is a link or a file) stays where it lies and is skipped:
//! the good entries behind it are delivered, and [`moved_aside`] reports it
//! (in the process that met it) with a reason saying it could not be moved
//! and where it still lies. A read failure that says nothing about the entry
//! (too many open files, a device error) is returned as an I/O error
//! instead, leaving the entry in place.
//!
//! The old module writes an entry in place, so a reader can meet one half
//! written. An old-format entry that does not parse and was modified less
//! than 2 s ago (or has a modification time in the future) is therefore
//! skipped for now, neither returned nor moved aside, for at most 2 s from
//! when this process first saw it so; if it still does not parse then, it
//! is moved aside.
//!
//! # Compatibility with the old module
//!
//! - Old-module entries are read here, and come first.
//! - JSON entries written here are read by the old module (it reads every
//!   `.pending` file and ignores temporaries, `.attempts` files and
//!   `corrupt/`). It orders them by creation time, which agrees with their
//!   sequence except where creation times tie or go backwards.
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
//! is at-least-once, and the id is the idempotency key. A durable backend's
//! `remove_batch_from_queue` syncs the directory once per batch.
//!
//! [`Codec::Postcard`]: crate::Codec::Postcard
//! [`Durability::Relaxed`]: crate::Durability::Relaxed
//! [`FsOptions::queue_lock_timeout`]: crate::FsOptions::queue_lock_timeout
//! [`FsOptions::max_entry_bytes`]: crate::FsOptions::max_entry_bytes
//! [`ReedError::QueueFull`]: crate::ReedError::QueueFull
//! [`ReedError::QueueBusy`]: crate::ReedError::QueueBusy
//! [`ReedError::InvalidQueueFile`]: crate::ReedError::InvalidQueueFile
//! [`ReedError::CorruptEntry`]: crate::ReedError::CorruptEntry
//! [`validate_write`]: reedbase_concurrent_core::validate_write

mod attempts;
pub(crate) mod cache;
pub(crate) mod codec;
pub(crate) mod consumer;
pub(crate) mod corrupt;
pub(crate) mod entry_id;
pub(crate) mod listing;
pub(crate) mod producer;
pub(crate) mod table_queue;
pub(crate) mod watch;

#[cfg(test)]
mod test_support;

use std::path::Path;

use reedbase_concurrent_core::{PendingWrite, ReedResult};

pub use reedbase_concurrent_core::MovedAside;

use crate::options::FsOptions;
use crate::tables_dir::BaseDir;

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
/// - [`ReedError::QueueBusy`] when another producer holds the producers'
///   lock past `options.queue_lock_timeout` (see
///   [waiting for other producers](self#waiting-for-other-producers));
/// - [`ReedError::SerializationError`] if the write cannot be encoded;
/// - [`ReedError::InvalidQueueFile`] in the one case where the queue's
///   numbering is used up (see [order](self#order));
/// - [`ReedError::IoError`] naming the operation (`create_queue_dir`,
///   `lock_queue`, `read_queue_dir`, `sweep_temporary`, `write_queue_file`,
///   `sync_queue_file`, `rename_queue_file`, `sync_queue_dir`) and the path,
///   at once: a base path that is a regular file, a symbolic link or a file
///   where a directory of the layout is expected (see the crate's
///   [threat model](crate#threat-model)). After an error the entry is not
///   queued.
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
pub fn queue_write_with(
    base_path: &Path,
    table_name: &str,
    write: &PendingWrite,
    options: &FsOptions,
) -> ReedResult<String> {
    table_queue::queue_write(
        &BaseDir::new(base_path.to_path_buf()),
        table_name,
        write,
        options,
    )
}

/// The oldest entry of the table's queue, without removing it.
///
/// Returns `Ok(None)` when the queue is empty or was never used (nothing is
/// created). Entries that are corrupt, too large or not regular files are
/// moved aside on the way (see [`moved_aside`]); an entry that cannot be
/// moved aside (a full or read-only disk) is skipped and reported there; an
/// old-module entry still being written is skipped. Reads nothing larger
/// than the default [`FsOptions::max_entry_bytes`].
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`], before any file is touched;
/// - [`ReedError::IoError`] `read_queue_dir` or `read_queue_file` naming the
///   path, for a failure that says nothing about one entry (a base path that
///   is a regular file, a link in place of the queue directory, too many
///   open files).
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
    let base = BaseDir::new(base_path.to_path_buf());
    let batch = table_queue::pending_batch(&base, table_name, 1, &FsOptions::default())?;
    Ok(batch.into_iter().next())
}

/// Removes one entry by id.
///
/// The removal is not fsynced (see the [module docs](self#removal)). Never
/// follows a link: a link named like the entry is removed itself.
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
    table_queue::remove(&BaseDir::new(base_path.to_path_buf()), table_name, queue_id)
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
    table_queue::count(&BaseDir::new(base_path.to_path_buf()), table_name)
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
    table_queue::moved_aside(&BaseDir::new(base_path.to_path_buf()), table_name)
}
