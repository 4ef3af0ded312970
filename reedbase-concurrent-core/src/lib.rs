// SPDX-License-Identifier: Apache-2.0
//! Core of ReedBase's concurrent write layer: the types that travel through
//! it, its error type, input validation, the [`LockBackend`] and
//! [`QueueBackend`] contracts (together: [`Backend`]), and the
//! [`WriteCoordinator`] that implements the write flow once for every
//! backend, per write or in batches.
//!
//! Backends live in their own crates: `reedbase-concurrent-fs` (one host,
//! across processes), `reedbase-concurrent-pg` (several hosts, through
//! PostgreSQL) and `reedbase-concurrent-mem` (one process, for tests);
//! `reedbase-concurrent-conformance` holds the suite and the operation model
//! that every backend passes unchanged. The [`events`] module lists the
//! `tracing` events they all emit.

pub mod backend;
pub mod coordinator;
mod diagnostics;
mod error;
pub mod events;
mod inspect;
mod rules;
mod types;
pub mod validation;

pub use backend::{Backend, DEFAULT_QUEUE_CAPACITY, LockBackend, LockGuard, QueueBackend};
pub use coordinator::{
    ApplyError, ApplyKey, BatchItem, CoordinatorOptions, DeadLetterPolicy, DrainReport, Drainer,
    DrainerStats, SubmitOutcome, WriteCoordinator, WriteError, WriteFailure, apply_batch,
    apply_each,
};
pub use diagnostics::{LockHolder, MovedAside, QueuedEntry};
pub use error::{ReedError, ReedResult};
pub use inspect::{InspectBackend, RestoreBackend, TableSummary};
pub use types::{CsvRow, PendingWrite, RowValues, WriteOperation, now_nanos};
pub use validation::{
    MAX_NAME_BYTES, NameRule, RowField, RowRule, validate_queue_id, validate_row,
    validate_table_name, validate_write,
};
