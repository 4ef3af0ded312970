// SPDX-License-Identifier: Apache-2.0
//! The file-system backend of ReedBase's concurrent write layer: an fs2
//! advisory lock per table and a durable, strictly ordered, file-per-entry
//! write queue, on the old module's on-disk layout.
//!
//! ```text
//! <base>/tables/<table>/write.lock            exclusive advisory lock (fs2)
//! <base>/tables/<table>/queue/<id>.pending    one pending write per file
//! ```
//!
//! Two ways in:
//! - [`FsBackend`], which implements core's [`LockBackend`] and
//!   [`QueueBackend`] and takes [`FsOptions`] (durability, capacity, codec);
//! - the old module's free functions with their exact signatures
//!   ([`acquire_lock`], [`is_locked`], [`wait_for_unlock`], [`queue_write`],
//!   [`get_next_pending`], [`remove_from_queue`], [`count_pending`]), so that
//!   ReedBase code ports without edits.
//!
//! What the backend guarantees, and how, is told in the two modules:
//! [`lock`] (flock semantics across processes, how a waiter waits, holder
//! records, network file systems) and [`queue`] (atomic and durable writes,
//! exact capacity, strict FIFO by sequenced ids, corrupt entries,
//! compatibility with the old module in both directions).
//!
//! # For operators
//!
//! - [`lock_holder`] (or [`FsBackend::lock_holder`]) tells who holds a
//!   table: pid, host and acquisition time, read from a record the holder
//!   writes into `write.lock`. The lock itself is the truth: a free lock has
//!   no holder, and a record of a dead process is not believed.
//! - [`moved_aside`] (or [`FsBackend::moved_aside`]) lists the entries that
//!   could not be read and were moved to `queue/corrupt/`, each with its
//!   reason. Nothing is ever deleted; inspect them, then re-queue or delete
//!   them by hand.
//! - A lock dies with its process: there are no stale locks to break, and
//!   the lock file must never be deleted while processes may use it.
//!
//! [`LockBackend`]: reedbase_concurrent_core::LockBackend
//! [`QueueBackend`]: reedbase_concurrent_core::QueueBackend

mod backend;
pub mod lock;
mod options;
mod paths;
pub mod queue;

pub use backend::FsBackend;
pub use lock::{
    LockHolder, TableLock, acquire_lock, is_locked, lock_holder, try_acquire_lock, wait_for_unlock,
};
pub use options::{Codec, Durability, FsOptions};
pub use paths::TablePaths;
pub use queue::{
    MovedAside, count_pending, get_next_pending, moved_aside, queue_write, queue_write_with,
    remove_from_queue,
};
pub use reedbase_concurrent_core::{ReedError, ReedResult};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
