// SPDX-License-Identifier: Apache-2.0
//! Core of ReedBase's concurrent write layer: the types that travel through
//! it, its error type, input validation, the [`LockBackend`] and
//! [`QueueBackend`] contracts, and the [`WriteCoordinator`] that implements
//! the write flow once for every backend.
//!
//! Backends live in their own crates: `reedbase-concurrent-fs` (production,
//! across processes) and `reedbase-concurrent-mem` (in-process, for tests).
//! With the `conformance` feature, [`conformance`] holds the suite that every
//! backend passes unchanged.

pub mod backend;
#[cfg(feature = "conformance")]
pub mod conformance;
pub mod coordinator;
mod error;
mod types;
pub mod validation;

#[cfg(test)]
mod error_test;
#[cfg(test)]
mod types_test;
#[cfg(test)]
mod validation_test;

pub use backend::{DEFAULT_QUEUE_CAPACITY, LockBackend, QueueBackend};
pub use coordinator::{ApplyKey, CoordinatorError, RejectedWrite, SubmitOutcome, WriteCoordinator};
pub use error::{ReedError, ReedResult};
pub use types::{CsvRow, PendingWrite, WriteOperation, now_nanos};
pub use validation::{
    MAX_NAME_BYTES, NameRule, RowField, RowRule, validate_queue_id, validate_row,
    validate_table_name, validate_write,
};
