// SPDX-License-Identifier: Apache-2.0
//! [`TableWriter`]: the apply function of a ReedBase table, per write and per
//! batch.

use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use reedbase_concurrent_core::{
    ApplyError, ApplyKey, BatchItem, PendingWrite, validate_table_name,
};

use crate::error::TableError;
use crate::open_table::{KnownJournal, OpenTable, Repair};
use crate::options::WriterOptions;
use crate::step::{Step, check_write};
use crate::table_dir::{DISCARDED_FILE, JOURNAL_FILE, TABLE_FILE};

/// What a [`TableWriter`] has done since it was made.
///
/// ```
/// use reedbase_concurrent_core::{ApplyKey, CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_table::TableWriter;
///
/// let base = tempfile::tempdir()?;
/// let writer = TableWriter::new(base.path(), "users")?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["a"]), CsvRow::new("l", ["b"])]);
/// writer.apply(ApplyKey::direct(None), &write)?;
/// let stats = writer.stats();
/// assert_eq!((stats.commits, stats.rows_appended, stats.replays_skipped), (1, 2, 0));
/// # Ok::<(), reedbase_concurrent_core::ApplyError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterStats {
    /// Apply steps that wrote to the table and journal (each made durable
    /// with one fsync of the table and one of the journal).
    pub commits: u64,
    /// Rows appended.
    pub rows_appended: u64,
    /// Queued writes skipped because their id was already recorded: replays
    /// after a crash between apply and removal.
    pub replays_skipped: u64,
    /// Opens that repaired what a crash left (a torn journal line, rows
    /// rolled back).
    pub repairs: u64,
    /// Uncommitted table bytes rolled back (kept in `table.discarded`).
    pub discarded_bytes: u64,
    /// Journal compactions.
    pub compactions: u64,
}

/// Appends the rows of a table's writes to `<base>/tables/<table>/table.csv`,
/// durably and replay-safely; plug [`apply`](Self::apply) or
/// [`apply_batch`](Self::apply_batch) into the
/// [`WriteCoordinator`](reedbase_concurrent_core::WriteCoordinator). See the
/// [crate docs](crate) for the layout, the journal and the guarantees.
///
/// Call its methods only under the table's lock, as the coordinator does:
/// the writer relies on that lock for exclusion. Cheap to make (no I/O until
/// the first apply); every apply opens the files afresh, so one writer may
/// serve many calls, threads and lock holders.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteCoordinator, WriteOperation};
/// use reedbase_concurrent_fs::FsBackend;
/// use reedbase_concurrent_table::TableWriter;
///
/// let base = tempfile::tempdir()?;
/// let coordinator = WriteCoordinator::new(FsBackend::new(base.path()));
/// let writer = TableWriter::new(base.path(), "users")?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
/// coordinator.submit("users", write, Duration::from_secs(1), |key, write| writer.apply(key, write))?;
/// assert_eq!(writer.committed_lines()?, ["user:1|Alice"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TableWriter {
    base: PathBuf,
    table: String,
    options: WriterOptions,
    stats: Mutex<WriterStats>,
    /// The journal as the last step left it, so that the next step reads
    /// only what other processes appended since.
    known_journal: Mutex<Option<KnownJournal>>,
}

impl std::fmt::Debug for TableWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TableWriter")
            .field("base", &self.base)
            .field("table", &self.table)
            .field("options", &self.options)
            .field("stats", &self.stats())
            .finish_non_exhaustive()
    }
}

impl TableWriter {
    /// A writer of table `table` under `base`, with the default options.
    /// Touches no file.
    ///
    /// # Errors
    ///
    /// [`TableError::InvalidTableName`] for a name that is not a valid table
    /// name ([`validate_table_name`]).
    pub fn new(base: impl Into<PathBuf>, table: &str) -> Result<TableWriter, TableError> {
        TableWriter::with_options(base, table, WriterOptions::default())
    }

    /// A writer with the given options. Touches no file.
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn with_options(
        base: impl Into<PathBuf>,
        table: &str,
        options: WriterOptions,
    ) -> Result<TableWriter, TableError> {
        validate_table_name(table).map_err(TableError::InvalidTableName)?;
        Ok(TableWriter {
            base: base.into(),
            table: table.to_string(),
            options,
            stats: Mutex::new(WriterStats::default()),
            known_journal: Mutex::new(None),
        })
    }

    /// The table's name.
    pub fn table_name(&self) -> &str {
        &self.table
    }

    /// The base directory.
    pub fn base_path(&self) -> &Path {
        &self.base
    }

    /// `<base>/tables/<table>/table.csv`: inside the table's own directory,
    /// so that no two tables share a path.
    ///
    /// ```
    /// use std::path::Path;
    /// use reedbase_concurrent_table::TableWriter;
    ///
    /// let users = TableWriter::new("/data", "users")?;
    /// let users_csv = TableWriter::new("/data", "users.csv")?;
    /// assert_eq!(users.table_path(), Path::new("/data/tables/users/table.csv"));
    /// assert_eq!(users_csv.table_path(), Path::new("/data/tables/users.csv/table.csv"));
    /// assert_eq!(users.journal_path(), Path::new("/data/tables/users/table.journal"));
    /// # Ok::<(), reedbase_concurrent_table::TableError>(())
    /// ```
    pub fn table_path(&self) -> PathBuf {
        self.file_path(TABLE_FILE)
    }

    /// `<base>/tables/<table>/table.journal`.
    pub fn journal_path(&self) -> PathBuf {
        self.file_path(JOURNAL_FILE)
    }

    /// `<base>/tables/<table>/table.discarded`, where rows rolled back at
    /// recovery are kept for an operator.
    pub fn discarded_path(&self) -> PathBuf {
        self.file_path(DISCARDED_FILE)
    }

    fn file_path(&self, name: &str) -> PathBuf {
        self.base.join("tables").join(&self.table).join(name)
    }

    /// What this writer has done so far.
    pub fn stats(&self) -> WriterStats {
        *self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn count(&self, update: impl FnOnce(&mut WriterStats)) {
        update(&mut self.stats.lock().unwrap_or_else(PoisonError::into_inner));
    }

    /// Opens the table for a step, with the journal the last step left.
    fn open(&self) -> Result<OpenTable, TableError> {
        let known = self
            .known_journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        let open = OpenTable::open(&self.base, &self.table, known)?;
        self.count_repair(open.repair);
        Ok(open)
    }

    /// Keeps the journal of a step that succeeded for the next one (after a
    /// failure, the next step reads the journal whole).
    fn keep_journal(&self, open: OpenTable) {
        *self
            .known_journal
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(open.into_known());
    }

    /// Checks that the writer can apply `write`: an `Insert` whose rows are
    /// valid. Call it before `submit` so that a write it would refuse never
    /// enters the queue (where it would block the table).
    ///
    /// # Errors
    ///
    /// [`TableError::Unsupported`] for `Update` and `Delete`;
    /// [`TableError::InvalidWrite`] for a row that would corrupt the table.
    ///
    /// ```
    /// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
    /// use reedbase_concurrent_table::TableWriter;
    ///
    /// let writer = TableWriter::new("/data", "users")?;
    /// let insert = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
    /// assert!(writer.check_write(&insert).is_ok());
    /// let delete = PendingWrite::new(WriteOperation::Delete, vec![CsvRow::new("k", ["v"])]);
    /// assert!(writer.check_write(&delete).is_err());
    /// # Ok::<(), reedbase_concurrent_table::TableError>(())
    /// ```
    pub fn check_write(&self, write: &PendingWrite) -> Result<(), TableError> {
        check_write(&self.table, &self.table_path(), None, write)
    }

    /// Applies one write: appends its rows, one `CsvRow::to_csv` line each,
    /// and records its queue id, in one durable step; a queued write whose
    /// id is already recorded is skipped. The per-write form for
    /// [`WriteCoordinator::submit`](reedbase_concurrent_core::WriteCoordinator::submit)
    /// and `drain`.
    ///
    /// # Errors
    ///
    /// A [`TableError`], boxed (`downcast_ref::<TableError>()` gets it
    /// back); nothing is applied then:
    /// - [`Unsupported`](TableError::Unsupported) and
    ///   [`InvalidWrite`](TableError::InvalidWrite), before any file is
    ///   touched;
    /// - [`Fenced`](TableError::Fenced) for a fencing token lower than one
    ///   recorded;
    /// - the refusals of recovery ([`CorruptJournal`](TableError::CorruptJournal),
    ///   [`TableTruncated`](TableError::TableTruncated),
    ///   [`TornUnjournaled`](TableError::TornUnjournaled),
    ///   [`NotAFile`](TableError::NotAFile));
    /// - [`Io`](TableError::Io), for example a symbolic link below
    ///   `<base>/tables` (`ELOOP`) or a full disk.
    ///
    /// # Examples
    ///
    /// ```
    /// use reedbase_concurrent_core::{ApplyKey, CsvRow, PendingWrite, WriteOperation};
    /// use reedbase_concurrent_table::TableWriter;
    ///
    /// let base = tempfile::tempdir()?;
    /// let writer = TableWriter::new(base.path(), "users")?;
    /// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
    /// let key = ApplyKey::queued("00000000000000000001-a", None);
    /// writer.apply(key, &write)?;
    /// writer.apply(key, &write)?; // a replay: skipped
    /// assert_eq!(writer.committed_lines()?, ["user:1|Alice"]);
    /// assert_eq!(writer.stats().replays_skipped, 1);
    /// # Ok::<(), reedbase_concurrent_core::ApplyError>(())
    /// ```
    pub fn apply(&self, key: ApplyKey<'_>, write: &PendingWrite) -> Result<(), ApplyError> {
        self.apply_batch(&[reedbase_concurrent_core::BatchItem { key, write }])
    }

    /// Applies a batch in one durable step: every row of every write not
    /// applied before, in order, with one fsync of the table and one of the
    /// journal for the whole batch (group commit). The batch form for
    /// [`WriteCoordinator::submit_batch`](reedbase_concurrent_core::WriteCoordinator::submit_batch)
    /// and `drain_batch`. All or nothing: if any write is refused, nothing
    /// of the batch is applied.
    ///
    /// # Errors
    ///
    /// As [`apply`](Self::apply).
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteCoordinator, WriteOperation};
    /// use reedbase_concurrent_mem::MemBackend;
    /// use reedbase_concurrent_table::TableWriter;
    ///
    /// let base = tempfile::tempdir()?;
    /// let coordinator = WriteCoordinator::new(MemBackend::new());
    /// let writer = TableWriter::new(base.path(), "users")?;
    /// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
    /// coordinator.submit_batch("users", write, Duration::from_secs(1), |batch| writer.apply_batch(batch))?;
    /// assert_eq!(writer.committed_lines()?, ["user:1|Alice"]);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn apply_batch(&self, items: &[BatchItem<'_>]) -> Result<(), ApplyError> {
        self.apply_items(items).map_err(ApplyError::from)
    }

    fn apply_items(&self, items: &[BatchItem<'_>]) -> Result<(), TableError> {
        let table_path = self.table_path();
        for item in items {
            check_write(&self.table, &table_path, item.key.queue_id(), item.write)?;
        }
        let mut open = self.open()?;
        let journal_path = open.dir.path_of(JOURNAL_FILE);
        let step = Step::plan(&self.table, &journal_path, items, &open.journal)?;
        self.count(|stats| stats.replays_skipped += step.skipped);
        if step.writes_nothing() {
            self.keep_journal(open);
            return Ok(());
        }
        let start = open.journal.committed();
        open.append_rows(step.rows.as_bytes())?;
        open.commit(step.record(start))?;
        // The step has committed: from here on nothing may fail it, or a
        // direct write that is in the table would be handed back to its
        // caller (who might submit it again). A compaction that fails is
        // tried again at the next step.
        let compact = open.journal.needs_compaction(self.options.remember_ids)
            && open.compact(self.options.remember_ids).is_ok();
        self.count(|stats| {
            stats.commits += 1;
            stats.rows_appended += step.row_count;
            stats.compactions += u64::from(compact);
        });
        self.keep_journal(open);
        Ok(())
    }

    fn count_repair(&self, repair: Repair) {
        if !repair.is_empty() {
            self.count(|stats| {
                stats.repairs += 1;
                stats.discarded_bytes += repair.discarded_bytes;
            });
        }
    }

    /// Opens the table and repairs what a crash left, without applying
    /// anything; returns true if there was something to repair. Every apply
    /// does this first; call it under the table's lock to clean up before
    /// reading the table file directly.
    ///
    /// # Errors
    ///
    /// The refusals and I/O errors listed at [`apply`](Self::apply).
    ///
    /// ```
    /// use reedbase_concurrent_table::TableWriter;
    ///
    /// let base = tempfile::tempdir()?;
    /// let writer = TableWriter::new(base.path(), "users")?;
    /// assert!(!writer.recover()?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn recover(&self) -> Result<bool, TableError> {
        let open = self.open()?;
        let repaired = !open.repair.is_empty();
        self.keep_journal(open);
        Ok(repaired)
    }
}

#[cfg(test)]
#[path = "writer_test.rs"]
mod tests;
