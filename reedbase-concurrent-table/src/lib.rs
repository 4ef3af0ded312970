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
//! # Where the files go
//!
//! ```text
//! <base>/tables/<table>/table.csv          the rows, `CsvRow::to_csv` per line
//! <base>/tables/<table>/table.journal      what was applied: byte ranges, queue ids, fencing token
//! <base>/tables/<table>/table.discarded    rows rolled back after a crash, kept for an operator
//! <base>/tables/<table>/write.lock, queue/ the fs backend's lock and queue
//! ```
//!
//! The table file lives inside the table's own directory. The obvious
//! `<base>/tables/<table>.csv` collides with the directory of a table named
//! `<table>.csv` (table `users` and table `users.csv` would share a path);
//! inside its own directory a table's file can only be its own. No symbolic
//! link at or below `<base>/tables` is ever followed: each component is
//! opened relative to its parent with `O_NOFOLLOW`, so a planted link fails
//! with `ELOOP` ([`TableError::Io`]); a FIFO or a directory where a file
//! belongs is refused ([`TableError::NotAFile`]), never waited on. The base
//! directory itself may be a link. (Unix only: this needs `openat`.)
//!
//! # One apply step
//!
//! Each [`apply`](TableWriter::apply) or [`apply_batch`](TableWriter::apply_batch)
//! call, under the table's lock (the coordinator holds it):
//!
//! 1. checks every write first (an `Insert` with valid rows; see below), so a
//!    refused write touches no file;
//! 2. opens the table directory, the journal and the table file afresh (so
//!    that, on storage shared between hosts, the lock holder sees what the
//!    previous holder wrote: close-to-open consistency), and repairs what a
//!    crash left ([recovery](#recovery-at-open));
//! 3. refuses the step if it carries a fencing token lower than the highest
//!    recorded ([fencing](#fencing-tokens));
//! 4. skips every queued write whose id the journal already records (a
//!    replay), and appends the rows of the others, one line per row, with
//!    one `write` and one fsync (`fdatasync`) of the table;
//! 5. appends one journal record (the byte range, the new queue ids, the
//!    token) and fsyncs the journal: **the step commits here**, and only
//!    then does the call return `Ok` (and the coordinator remove the queue
//!    entries);
//! 6. compacts the journal when it holds twice what it must remember.
//!
//! A batch costs the same two fsyncs as a single write: that is the group
//! commit of [`submit_batch`](reedbase_concurrent_core::WriteCoordinator::submit_batch).
//! A batch is all or nothing. Creating the table's files (first use) also
//! syncs the table directory and its parents, and so does the first step of
//! each process on a table (and the next step after a failed sync), so
//! that no name another process or a failed step left unsynced can be lost
//! with an acknowledged write in a power cut.
//!
//! # Recovery at open
//!
//! A torn last line is **repaired**, not refused: the rows past the
//! journal's committed length belong to a step that did not commit, so
//! their queued writes are still queued and are applied again (keeping the
//! rows would apply them twice), or to a direct write whose `submit` never
//! returned. The table is cut back to its committed length, and the cut
//! bytes are appended to `table.discarded` with a comment line, so nothing
//! disappears without a trace; a torn journal line is cut off likewise. A
//! complete, committed line is never removed. What is not a crash of this
//! writer is refused with an error naming the file: a table shorter than its
//! committed length ([`TableError::TableTruncated`]), a damaged journal line
//! before the last ([`TableError::CorruptJournal`]), a table without a
//! journal that ends mid-line ([`TableError::TornUnjournaled`]). A table
//! written before this writer, ending with a line break, is adopted as it
//! is. [`TableWriter::recover`] runs this on its own, and [`recover_all`]
//! on every table under a base (the start-up step before `drain_all`);
//! [`TableWriter::committed_lines`] reads the committed rows without the
//! lock.
//!
//! # How long an id is remembered
//!
//! Delivery through the coordinator is at least once: a queued write is
//! applied again when its lock holder dies between the apply and the
//! removal of the entry. The journal records each applied queue id in the
//! same durable step as its rows, and a write whose id is recorded is
//! skipped.
//!
//! An id must be remembered only until its entry is removed from the queue,
//! because queue ids are never reused. The coordinator applies the writes of
//! one fetch from the queue (at most
//! [`max_batch`](reedbase_concurrent_core::CoordinatorOptions::max_batch)
//! ids, in at most `max_batch + 1` apply steps counting the caller's own
//! write) and removes them before it fetches more; a new lock holder starts
//! with the head of the queue, which is exactly the unremoved rest. So at any
//! time at most one fetch of applied but unremoved ids exists, and they are
//! the newest in the journal. Compaction keeps whole records, newest first,
//! until [`WriterOptions::remember_ids`] ids or that many records are kept
//! (the default, 1024, is ten times the coordinator's default `max_batch`);
//! set it above `max_batch` if you raise that. The journal is rewritten once
//! it holds twice that, so it stays bounded (under 200 KB with the
//! default). A writer keeps the journal it last read in memory and, at the
//! next step, reads only the records appended since (by any process); a
//! journal rewritten in between is told apart by its inode and the
//! generation in its header, and read whole.
//!
//! # Fencing tokens
//!
//! When a key carries a fencing token
//! ([`ApplyKey::fencing_token`](reedbase_concurrent_core::ApplyKey::fencing_token),
//! handed out by backends whose locks can be taken over, such as the
//! PostgreSQL one; the fs and mem backends hand none out), the writer stores
//! the highest token it has seen in the journal, in the same durable step,
//! and refuses a step whose token is lower ([`TableError::Fenced`]): a
//! holder whose lock was taken over can no longer write. A key without a
//! token is not fenced.
//!
//! # Insert, Update, Delete
//!
//! The table file is only appended to, and the journal's byte ranges rely on
//! that. An `Insert` appends its rows. `Update` and `Delete` are refused with
//! [`TableError::Unsupported`] rather than appended as rows that a reader
//! would take for inserts: no surprise in the table. Check writes with
//! [`TableWriter::check_write`] before submitting them; a refused write that
//! is already queued blocks its table (or becomes a dead letter, under the
//! coordinator's
//! [`DeadLetterPolicy`](reedbase_concurrent_core::DeadLetterPolicy)), with
//! this error as the reason.
//!
//! # Errors
//!
//! [`apply`](TableWriter::apply) and [`apply_batch`](TableWriter::apply_batch)
//! return [`ApplyError`](reedbase_concurrent_core::ApplyError) so that they
//! plug into the coordinator as they are; the error inside is a
//! [`TableError`] (`error.downcast_ref::<TableError>()`), which names the
//! table and the path and keeps the `io::Error`.
//!
//! # Measured
//!
//! Eight writer processes appending to one table through the coordinator
//! on the fs backend, release build, ext4 on a 2-core VM shared with other
//! builds; five interleaved pairs of runs per set of
//!
//! ```text
//! cargo run --release -p reedbase-concurrent-table --example table_writers -- --writers 8 --rows 1000 --no-drainer [--batch]
//! ```
//!
//! | set | per write ([`apply`](TableWriter::apply)), writes/s | batch ([`apply_batch`](TableWriter::apply_batch)), writes/s | ratio |
//! | --- | --- | --- | --- |
//! | disk busy (load 5 to 6; `--rows 300`, with the drainer) | 227 (160-446) | 1,030 (959-3,186) | 4.5x |
//! | disk quieter (load 3.6) | 2,364 (1,826-2,736) | 4,476 (4,121-4,602) | 1.9x |
//!
//! (medians, ranges in brackets). Per write, every write is one durable
//! step (two fsyncs under the lock); in batches, a step makes every write
//! queued meanwhile durable. How many that is depends on fsync latency:
//! with fast fsyncs most writers get the lock within their 1 ms timeout,
//! and batches held 1.9 writes on average (8,000 writes in about 4,200
//! steps); with slow ones more writers queue and batches grow.

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
