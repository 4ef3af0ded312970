// SPDX-License-Identifier: Apache-2.0
//! An in-memory [`LockBackend`] and [`QueueBackend`] for ReedBase, for fast
//! tests and for code that runs in one process.
//!
//! [`LockBackend`]: reedbase_concurrent_core::LockBackend
//! [`QueueBackend`]: reedbase_concurrent_core::QueueBackend
//!
//! Each table has a slot holding its lock flag and its queue under one
//! `Mutex`, with a `Condvar` that a release notifies: a waiter wakes when the
//! lock is released, without polling. A release notifies every sleeper
//! (acquirers and `wait_for_unlock` callers share the condvar), and skips the
//! notification when nobody sleeps. Cloning a [`MemBackend`] shares its
//! state, so threads can each hold a clone.
//!
//! Locks exclude threads of one process only; nothing is written to disk, so
//! queued writes die with the process. A `MemBackend` is for one process:
//! it remembers the process that made it, and in any other (a child forked
//! with a copy of it) taking a lock or queueing a write fails at once with
//! an `IoError` of kind `Unsupported` that says so, instead of excluding
//! nobody. Use the file-system backend across processes. Queues keep strict FIFO order and hold
//! at most [`MemBackend::with_capacity`] entries (default
//! [`DEFAULT_QUEUE_CAPACITY`](reedbase_concurrent_core::DEFAULT_QUEUE_CAPACITY))
//! however many threads write at once. Queue ids look like
//! `mem-00000000000000000042`; they are unique across the backend's tables and
//! never reused.
//!
//! The crate follows the backends' layout: `backend.rs` implements both
//! traits, the lock lives in `lock/`, the queue in `queue/`, the table's
//! slot that both change in `slot.rs`, and `sync.rs` is the shim that swaps
//! std's synchronisation for loom's.
//!
//! # Verification
//!
//! Besides the conformance suite (`reedbase-concurrent-conformance`), the crate has
//! a proptest model test (`tests/proptest_model.rs`) and loom models of its
//! synchronisation (`tests/loom_*.rs`), run with
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release -p reedbase-concurrent-mem --test loom_lock --test loom_queue
//! ```
//!
//! Loom does not model time, so under `cfg(loom)` a zero timeout gives up at
//! once and any other timeout never expires (see `src/sync.rs`).
//!
//! # Examples
//!
//! ```
//! use std::time::Duration;
//! use reedbase_concurrent_core::{LockBackend, QueueBackend};
//! use reedbase_concurrent_mem::MemBackend;
//!
//! let backend = MemBackend::with_capacity(10);
//! let guard = backend.acquire_lock("users", Duration::from_millis(100))?;
//! let other = backend.clone();
//! let waiter = std::thread::spawn(move || other.acquire_lock("users", Duration::from_millis(10)).map(drop));
//! assert!(waiter.join().unwrap().unwrap_err().is_lock_timeout());
//! drop(guard);
//! assert!(!backend.is_locked("users")?);
//! # Ok::<(), reedbase_concurrent_core::ReedError>(())
//! ```

mod backend;
mod inspect;
mod lock;
mod queue;
mod slot;
mod sync;

pub use backend::MemBackend;
pub use lock::MemGuard;
