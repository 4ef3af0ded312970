// SPDX-License-Identifier: Apache-2.0
//! The file-system backend of ReedBase's concurrent write layer: an advisory
//! lock per table and a durable, strictly ordered, file-per-entry write
//! queue, on the old module's on-disk layout.
//!
//! ```text
//! <base>/tables/<table>/write.lock            exclusive advisory lock (fs2)
//! <base>/tables/<table>/queue/<id>.pending    one pending write per file
//! ```
//!
//! Two ways in:
//! - [`FsBackend`], which implements core's [`LockBackend`] and
//!   [`QueueBackend`] and takes [`FsOptions`] (durability, capacity, codec,
//!   the producers' lock timeout, the largest entry read);
//! - the old module's free functions with their signatures
//!   ([`acquire_lock`], [`is_locked`], [`wait_for_unlock`], [`queue_write`],
//!   [`get_next_pending`], [`remove_from_queue`], [`count_pending`]); see
//!   [porting from the old module](#porting-from-the-old-module).
//!
//! What the backend guarantees, and how, is told in the two modules:
//! [`lock`] (flock semantics across processes, how a waiter waits, holder
//! records, network file systems) and [`queue`] (atomic and durable writes,
//! exact capacity, strict FIFO by sequenced ids, corrupt entries,
//! compatibility with the old module in both directions), and for a hostile
//! or broken base directory in the [threat model](#threat-model).
//!
//! The crate builds on Unix only (Linux, macOS, the BSDs; it is tested on
//! Linux): it reaches files relative to directory descriptors without
//! following links, which Windows does not offer in the same way.
//!
//! # Threat model
//!
//! The attacker is anyone who can create, delete, rename or link files
//! inside `<base>/tables/`: an operator cleaning up, a backup or sync tool,
//! another account with write access to a shared data directory; and a file
//! system that fills up, goes read-only or runs out of descriptors.
//!
//! Guaranteed:
//! - **Nothing at or below `<base>/tables` is followed.** `tables`,
//!   `tables/<table>`, `queue`, `queue/corrupt`, entry files, lock files and
//!   reason files are opened relative to a directory descriptor without
//!   following a symbolic link (`openat2(RESOLVE_NO_SYMLINKS |
//!   RESOLVE_BENEATH)`, or `openat(O_NOFOLLOW)` name by name). A link found
//!   where a directory or a lock file is expected gives an
//!   [`ReedError::IoError`] naming the path and saying what was found; an
//!   entry that is a link is moved aside (the link itself, never its
//!   target). So this crate never writes, moves or deletes anything outside
//!   the base directory. The base path itself is the caller's and is
//!   resolved normally. To keep a table on another disk, bind-mount it at
//!   `tables/<table>` (a mount point is not a link).
//! - **Never two holders of one lock** while the lock files are deleted,
//!   renamed or replaced: a table's lock is held on `write.lock` and on the
//!   table directory, and the producers' lock on the queue directory (see
//!   [`lock`]). A lock file that is a symbolic link, a hard link to another
//!   file, a FIFO, a socket or a directory is refused at once, never written
//!   through or waited on; the holder record is written only into a regular
//!   file with one name that was just locked. (A second name given to a
//!   kept `write.lock` later is refused by the next acquisition; a probe,
//!   which writes nothing, sees it when the table directory next changes.)
//! - **No call waits past its bound, whatever another process does.** Lock
//!   waits make non-blocking `flock` attempts, sleeping between them on an
//!   inotify watch of the table directory (a release wakes them) or, where
//!   there is none, on a short back-off, never past the caller's timeout
//!   (see [how a waiter waits](lock#how-a-waiter-waits)); every
//!   file is opened without blocking (a FIFO in place of a file cannot hang
//!   a caller); a producer stopped while holding the producers' lock makes
//!   other producers fail with [`ReedError::QueueBusy`] after
//!   [`FsOptions::queue_lock_timeout`], having written nothing.
//! - **One bad file never stops a table, and nothing is destroyed.** An
//!   entry that cannot be read, decoded or trusted is moved to
//!   `queue/corrupt/` with its reason, never deleted and never over an
//!   earlier one; an entry that cannot be moved (full or read-only disk) is
//!   skipped and reported by [`moved_aside`], and the entries behind it are
//!   delivered. A full or read-only disk leaves readable entries readable.
//!   An entry named with a sequence number no producer writes is moved
//!   aside instead of numbered after, so it cannot use up the numbering
//!   (see [order](queue#order) for the one narrow exception).
//! - **Bounded memory.** An entry larger than [`FsOptions::max_entry_bytes`]
//!   (16 MiB by default) is moved aside without being read.
//! - **Names and rows are checked before anything is touched** (core's
//!   [`validate_table_name`](reedbase_concurrent_core::validate_table_name)
//!   and [`validate_write`](reedbase_concurrent_core::validate_write)):
//!   `../x`, `/abs`, control and invisible characters (U+200B, U+202E),
//!   surrounding white space, and rows with `|`, line breaks, NUL or other
//!   control characters are refused. Look-alike names (Latin `users` and
//!   Cyrillic `usеrs`) stay valid and are two tables.
//!
//! Not guaranteed:
//! - Someone who can write the table files or the entry files themselves
//!   can change what is applied: a well-formed entry they write is applied
//!   like any other. This crate protects its own files' shape, not their
//!   authorship.
//! - Renaming or replacing a table directory while its lock is held is
//!   detected ([`is_held`](reedbase_concurrent_core::LockGuard::is_held)
//!   turns false, the coordinator stops with `LockLost`), not prevented; a
//!   producer writing while its queue directory is renamed leaves its entry
//!   in the renamed directory.
//! - Old-module processes lock only `write.lock` and follow links: with them
//!   in the mix, a deleted `write.lock` can let one in beside a holder of
//!   this crate (detected by `is_held`), and their own files can be
//!   redirected.
//! - `flock` over NFS: see [network file systems](lock#network-file-systems).
//! - Entries that could not be moved aside are reported only by the process
//!   that met them (the list is kept in memory), and removals are not
//!   fsynced unless removed in a batch of a durable backend.
//!
//! # Porting from the old module
//!
//! "Ports without edits" means: the free functions keep the old module's
//! names and signatures (`acquire_lock(base_path, table_name, timeout)`,
//! `is_locked`, `wait_for_unlock`, `queue_write(base_path, table_name,
//! write)`, `get_next_pending`, `remove_from_queue`, `count_pending`), so
//! calls compile unchanged, and [`types`] offers the old `types` module's
//! paths. Code needs these edits:
//! - `PendingWrite::timestamp` is a `u128` (nanoseconds), not a `u64`: code
//!   that names its type or does arithmetic with a `u64` converts;
//! - errors are core's [`ReedError`]: `LockTimeout { timeout_secs }` is now
//!   `LockTimeout { waited, .. }` (a `Duration`), and `IoError { operation,
//!   reason }` has `path` and `kind` as well (match with `..`, or ask
//!   [`ReedError::is_lock_timeout`] and friends);
//! - `use ...::concurrent::types::{...}` becomes
//!   `use reedbase_concurrent_fs::types::{...}`, and the lock and queue
//!   functions are at the crate root (or in [`lock`] and [`queue`]);
//! - behaviour that differs on purpose (queue ids are sequenced strings, not
//!   UUIDs; `is_locked` of an unopenable lock file is an error, not
//!   `false`; corrupt entries are moved aside) is listed in the
//!   repository's `PARITY.md`.
//!
//! # For operators
//!
//! - [`lock_holder`] (or `LockBackend::lock_holder` of [`FsBackend`]) tells who holds a
//!   table: pid, host and acquisition time, read from a record the holder
//!   writes into `write.lock`. The lock itself is the truth: a free lock has
//!   no holder, and a record is believed only while the process it names
//!   holds the lock.
//! - [`moved_aside`] (or `QueueBackend::moved_aside` of [`FsBackend`]) lists the entries that
//!   were moved to `queue/corrupt/`, each with its reason, and those that
//!   could not be moved. Nothing is ever deleted; inspect them, then
//!   restore or delete them.
//! - [`inspect`] reads the tables and each queue's entries in delivery
//!   order without taking a lock or changing a file (an entry a reader
//!   would move aside is reported with the reason, not moved), and
//!   [`restore_moved_aside`] puts a repaired entry, or a dead letter whose
//!   cause was fixed, back into its place in the queue. The
//!   `reedbase-concurrent` command (crate `reedbase-concurrent-cli`) is
//!   built on them.
//! - A lock dies with its process: there are no stale locks to break. Do not
//!   delete `write.lock` while processes may use it: processes of this crate
//!   stay excluded, old-module processes do not.
//! - A process keeps each table's directory and `write.lock` open after
//!   its first use of the table (at most 16 tables per base directory), as
//!   a database keeps its files open: a file system with a file open for
//!   writing cannot be remounted read-only or unmounted. Call
//!   [`FsBackend::close_idle`] on every backend (and [`close_idle`] for the
//!   free functions) first, or stop the processes.
//!
//! [`LockBackend`]: reedbase_concurrent_core::LockBackend
//! [`QueueBackend`]: reedbase_concurrent_core::QueueBackend

#[cfg(not(unix))]
compile_error!(
    "reedbase-concurrent-fs supports Unix only (Linux, macOS, the BSDs): it opens files relative \
     to directory descriptors without following links; use reedbase-concurrent-pg or \
     reedbase-concurrent-mem elsewhere"
);

mod backend;
mod base_cache;
mod base_dir;
pub mod inspect;
pub mod lock;
mod no_follow;
mod old_api;
mod options;
pub mod queue;
mod restore;
mod tables_dir;

pub use backend::FsBackend;
pub use base_cache::close_idle;
pub use lock::{
    LockHolder, TableLock, acquire_lock, is_locked, lock_holder, try_acquire_lock, wait_for_unlock,
};
pub use options::{
    Codec, DEFAULT_MAX_ENTRY_BYTES, DEFAULT_QUEUE_LOCK_TIMEOUT, Durability, FsOptions,
};
pub use queue::{
    MovedAside, count_pending, get_next_pending, moved_aside, queue_write, queue_write_with,
    remove_from_queue,
};
pub use reedbase_concurrent_core::{ReedError, ReedResult};
pub use restore::restore_moved_aside;
pub use tables_dir::TablePaths;

/// The old module's `types` paths: `use reedbase_concurrent_fs::types::{CsvRow,
/// PendingWrite, WriteOperation}` compiles where old code imported its
/// `types` module (see [porting](crate#porting-from-the-old-module) for the
/// `timestamp` type).
///
/// ```
/// use reedbase_concurrent_fs::types::{CsvRow, PendingWrite, WriteOperation};
///
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", vec!["Alice"])]);
/// assert_eq!(write.rows[0].to_csv(), "user:1|Alice");
/// ```
pub mod types {
    pub use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
}
