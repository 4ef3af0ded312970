// SPDX-License-Identifier: Apache-2.0
//! The old concurrent module: table locks ([`lock`]), the write queue
//! ([`queue`]) and their data types ([`types`]), as free functions over a
//! base directory.
//!
//! This is a behavioural reference, flaws included; see the crate's README.

pub mod lock;
pub mod queue;
pub mod types;

pub use lock::{TableLock, acquire_lock, is_locked, wait_for_unlock};
pub use queue::{count_pending, get_next_pending, queue_write, remove_from_queue};
pub use types::{CsvRow, PendingWrite, WriteOperation};
