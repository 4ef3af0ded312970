// SPDX-License-Identifier: Apache-2.0
//! A durable, replay-safe table writer for ReedBase: [`TableWriter`] is the
//! `apply` function that the
//! [`WriteCoordinator`](reedbase_concurrent_core::WriteCoordinator) calls,
//! per write or per batch, on every backend.
//!
//! ```
//! use std::time::Duration;
//! use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteCoordinator, WriteOperation};
//! use reedbase_concurrent_fs::FsBackend;
//! use reedbase_concurrent_table::{TableWriter, recover_all};
//!
//! let base = tempfile::tempdir()?;
//! let coordinator = WriteCoordinator::new(FsBackend::new(base.path()));
//! let users = TableWriter::new(base.path(), "users")?;
//!
//! // At start-up: repair every table a crash or power cut left (rows that
//! // never committed, queued writes applied but not removed) ...
//! recover_all(base.path(), coordinator.backend(), Duration::from_secs(5))?;
//! // ... then apply what other processes queued and left.
//! coordinator.drain_all(Duration::from_secs(5), |table, key, write| {
//!     TableWriter::new(base.path(), table)?.apply(key, write)
//! })?;
//!
//! let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
//! users.check_write(&write)?; // refuse what the writer cannot apply before it is queued
//! // Per write ...
//! coordinator.submit("users", write.clone(), Duration::from_millis(100), |key, write| users.apply(key, write))?;
//! // ... or per batch: one fsync for every queued write drained with it.
//! coordinator.submit_batch("users", write, Duration::from_millis(100), |batch| users.apply_batch(batch))?;
//! assert_eq!(users.committed_lines()?, ["user:1|Alice", "user:1|Alice"]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Contract
//!
//! - [`apply`](TableWriter::apply) and [`apply_batch`](TableWriter::apply_batch)
//!   run under the table's lock, which the coordinator holds; a step returns
//!   `Ok` only once its rows and its journal record are durable (fsynced),
//!   and a batch is all or nothing.
//! - A queued write whose id the journal records is skipped: a replay after
//!   a crash between apply and removal applies nothing twice, for as long
//!   as [`WriterOptions::remember_ids`] covers the coordinator's `max_batch`.
//! - Only `Insert` is applied; `Update` and `Delete` are refused with
//!   [`TableError::Unsupported`], and [`TableWriter::check_write`] refuses
//!   them (and invalid rows) before they are queued.
//! - A step that carries a fencing token lower than the highest recorded is
//!   refused with [`TableError::Fenced`]; a key without a token is not fenced.
//! - Errors come back as [`ApplyError`](reedbase_concurrent_core::ApplyError)
//!   wrapping a [`TableError`] that names the table and the path.
//!
//! # Invariants
//!
//! - The table file `<base>/tables/<table>/table.csv` is only appended to;
//!   the journal `table.journal` beside it records, per committed step, the
//!   byte range, the new queue ids and the token.
//! - A complete, committed line is never removed. At open, bytes past the
//!   committed length (a crash mid-step) are cut and kept in
//!   `table.discarded`; a table shorter than its committed length, a damaged
//!   journal line before the last, or an unjournaled table ending mid-line
//!   is refused, never repaired. [`recover_all`] runs that repair on every
//!   table under a base, under each table's lock: the start-up step before
//!   `drain_all`.
//! - Creating a table's files, and the first step of each process on a
//!   table (and the next after a failed sync), also syncs the table's
//!   directories, so no name a step depends on is lost in a power cut; a
//!   failed fsync is never retried and trusted.
//! - No symbolic link at or below `<base>/tables` is followed and no FIFO is
//!   waited on (Unix only: this needs `openat`).
//!
//! The files, the steps, recovery, how long an id is remembered, fencing and
//! measurements: `docs/design/2026-12-06-table-writer.md` in the repository.

#[cfg(not(unix))]
compile_error!("reedbase-concurrent-table needs openat with O_NOFOLLOW: it builds on Unix only");

mod error;
mod journal;
mod open_table;
mod options;
mod reader;
mod recovery;
mod step;
mod table_dir;
mod writer;

pub use error::TableError;
pub use options::{DEFAULT_REMEMBERED_IDS, WriterOptions};
pub use reader::TableStatus;
pub use recovery::{RecoveryReport, recover_all};
pub use writer::{TableWriter, WriterStats};

/// The crate's README examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

/// The workspace README's examples, compiled and run as doctests here,
/// where every crate they use is a (dev-)dependency.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct WorkspaceReadmeDoctests;
