// SPDX-License-Identifier: Apache-2.0
//! An in-memory [`LockBackend`] and [`QueueBackend`] for ReedBase, for fast
//! tests and for code that runs in one process.
//!
//! Each table has a slot holding its lock flag and its queue under one
//! `Mutex`, with a `Condvar` that release notifies: a waiter wakes when the
//! lock is released, without polling. Cloning a [`MemBackend`] shares its
//! state, so threads can each hold a clone.
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
mod sync;

pub use backend::{MemBackend, MemGuard};
