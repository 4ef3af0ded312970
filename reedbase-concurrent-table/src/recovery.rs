// SPDX-License-Identifier: Apache-2.0
//! [`recover_all`]: the start-up step that leaves every table under a base
//! as its acknowledged writes made it, with or without queued writes.
//!
//! After a crash or a power cut a table can hold rows past its committed
//! length (an apply step that did not commit), which a plain reader of
//! `table.csv` would take for rows; and a queue can hold entries the
//! journal records as applied but whose removal was lost (after a power
//! cut in relaxed mode such an entry can come back empty). `drain_all`
//! reaches only tables with queued writes, and would move an empty entry
//! aside as unreadable. `recover_all` runs before it: for every table it
//! repairs the files under the table's lock and removes from the queue
//! every entry the journal records as applied. It costs one look at each
//! table's files and queue length when there is nothing to do, and takes
//! no lock then.

use std::path::{Path, PathBuf};
use std::time::Duration;

use reedbase_concurrent_core::{ApplyError, Backend, validate_table_name};

use crate::error::TableError;
use crate::open_table::OpenTable;
use crate::writer::TableWriter;

/// What [`recover_all`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct RecoveryReport {
    /// Tables looked at (directories under `<base>/tables` with a table
    /// file or a journal).
    pub tables: usize,
    /// Tables whose files were repaired (a torn journal line cut off, rows
    /// past the committed length rolled back into `table.discarded`).
    pub repaired: Vec<String>,
    /// Queue entries removed because the journal records them as applied:
    /// their removal was lost in a crash.
    pub settled: usize,
    /// One error per table that could not be recovered (its lock busy past
    /// the timeout, a refusal of recovery, I/O), with the table's name.
    pub failed: Vec<(String, ApplyError)>,
}

/// Recovers every table under `base`: under each table's lock (taken
/// through `backend`, at most `timeout` per table) it repairs what a crash
/// left in the table's files, as [`TableWriter::recover`] does, and removes
/// from the table's queue every pending entry whose queue id the journal
/// records as applied. Run it at start-up before
/// [`drain_all`](reedbase_concurrent_core::WriteCoordinator::drain_all),
/// passing the coordinator's backend (`coordinator.backend()`).
///
/// A table with nothing past its committed length, no torn journal line
/// and an empty queue is only looked at: no lock is taken.
///
/// # Errors
///
/// [`TableError::Io`] when `<base>/tables` exists but cannot be listed. A
/// table that cannot be recovered is reported in
/// [`RecoveryReport::failed`] and the others are still recovered.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::WriteCoordinator;
/// use reedbase_concurrent_fs::FsBackend;
/// use reedbase_concurrent_table::{TableWriter, recover_all};
///
/// let base = tempfile::tempdir()?;
/// let coordinator = WriteCoordinator::new(FsBackend::new(base.path()));
/// let report = recover_all(base.path(), coordinator.backend(), Duration::from_secs(5))?;
/// assert!(report.failed.is_empty());
/// coordinator.drain_all(Duration::from_secs(5), |table, key, write| {
///     TableWriter::new(base.path(), table)?.apply(key, write)
/// })?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn recover_all<B: Backend>(
    base: impl AsRef<Path>,
    backend: &B,
    timeout: Duration,
) -> Result<RecoveryReport, TableError> {
    let base = base.as_ref();
    let mut report = RecoveryReport::default();
    for table in table_names(base)? {
        let writer = TableWriter::new(base, &table)?;
        let status = match writer.status() {
            Ok(status) if !status.journaled && status.table_len == 0 => continue,
            Ok(status) => status,
            Err(error) => {
                report.tables += 1;
                report.failed.push((table, error.into()));
                continue;
            }
        };
        report.tables += 1;
        let pending = match backend.count_pending(&table) {
            Ok(pending) => pending,
            Err(error) => {
                report.failed.push((table, error.into()));
                continue;
            }
        };
        if status.uncommitted_len() == 0 && !status.torn_journal && pending == 0 {
            continue;
        }
        match recover_table(&writer, backend, timeout, pending > 0) {
            Ok((repaired, settled)) => {
                if repaired {
                    report.repaired.push(table);
                }
                report.settled += settled;
            }
            Err(error) => report.failed.push((table, error)),
        }
    }
    Ok(report)
}

/// Repairs one table under its lock and settles its applied entries;
/// returns whether it repaired and how many entries it removed.
fn recover_table<B: Backend>(
    writer: &TableWriter,
    backend: &B,
    timeout: Duration,
    settle: bool,
) -> Result<(bool, usize), ApplyError> {
    let table = writer.table_name();
    let _guard = backend.acquire_lock(table, timeout)?;
    let open = OpenTable::open(writer.base_path(), table, None)?;
    let repaired = !open.repair.is_empty();
    let mut settled = 0;
    if settle {
        for id in open.journal.remembered_ids() {
            if backend.is_pending(table, id)? {
                backend.remove_from_queue(table, id)?;
                settled += 1;
            }
        }
    }
    Ok((repaired, settled))
}

/// The names under `<base>/tables` that are directories (not links) and
/// valid table names, sorted.
fn table_names(base: &Path) -> Result<Vec<String>, TableError> {
    let tables: PathBuf = base.join("tables");
    let fail = |error| TableError::io("", "read_tables_dir", &tables, error);
    let listing = match std::fs::read_dir(&tables) {
        Ok(listing) => listing,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(fail(error)),
    };
    let mut names = Vec::new();
    for entry in listing {
        let entry = entry.map_err(fail)?;
        let is_dir = entry.file_type().map_err(fail)?.is_dir();
        if let Some(name) = entry.file_name().to_str()
            && is_dir
            && validate_table_name(name).is_ok()
        {
            names.push(name.to_string());
        }
    }
    names.sort();
    Ok(names)
}

#[cfg(test)]
#[path = "recovery_test.rs"]
mod tests;
