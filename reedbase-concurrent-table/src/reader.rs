// SPDX-License-Identifier: Apache-2.0
//! Reading a table without its lock: the committed rows
//! ([`TableWriter::committed_lines`]) and the state of the files
//! ([`TableWriter::status`]).
//!
//! Committed bytes are never changed once their record is durable (recovery
//! cuts only bytes past the committed length, and compaction rewrites the
//! journal, not the table), so a reader that takes the committed length
//! from the journal and then reads that prefix of the table sees a
//! consistent table while writers append, without the lock and without
//! repairing anything.

use std::fs::File;
use std::io::{self, Read};

use crate::error::TableError;
use crate::journal::Journal;
use crate::open_table::read_all;
use crate::table_dir::{JOURNAL_FILE, TABLE_FILE, TableDir};
use crate::writer::TableWriter;

/// The state of a table's files, read without the lock (a snapshot for
/// diagnostics).
///
/// ```
/// use reedbase_concurrent_table::TableWriter;
///
/// let base = tempfile::tempdir()?;
/// let status = TableWriter::new(base.path(), "users")?.status()?;
/// assert_eq!((status.table_len, status.committed_len, status.uncommitted_len()), (0, 0, 0));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableStatus {
    /// The table file's length in bytes (0 when it does not exist).
    pub table_len: u64,
    /// The length the journal records as committed.
    pub committed_len: u64,
    /// The highest fencing token recorded.
    pub highest_token: Option<u64>,
    /// Queue ids the journal remembers.
    pub remembered_ids: usize,
    /// Whether the journal ends in a torn line (cut off by the next apply).
    pub torn_journal: bool,
    /// Whether the table has a journal (false before the first apply, or for
    /// a table written before this writer).
    pub journaled: bool,
}

impl TableStatus {
    /// Bytes past the committed length: rows of an apply step in progress,
    /// or left by a crash and rolled back by the next apply.
    pub fn uncommitted_len(&self) -> u64 {
        self.table_len.saturating_sub(self.committed_len)
    }
}

/// A table's files as read without the lock.
struct Snapshot {
    table: Option<File>,
    table_len: u64,
    journal: Option<Journal>,
}

impl TableWriter {
    fn snapshot(&self) -> Result<Snapshot, TableError> {
        let table_name = self.table_name();
        let Some(dir) = TableDir::open_existing(self.base_path(), table_name)? else {
            return Ok(Snapshot {
                table: None,
                table_len: 0,
                journal: None,
            });
        };
        let journal = match dir.open_for_reading(JOURNAL_FILE)? {
            None => None,
            Some(file) => {
                let path = dir.path_of(JOURNAL_FILE);
                let bytes = read_all(&file)
                    .map_err(|e| TableError::io(table_name, "read_journal", &path, e))?;
                let journal =
                    Journal::parse(&bytes).map_err(|reason| TableError::CorruptJournal {
                        table: table_name.to_string(),
                        path,
                        reason,
                    })?;
                Some(journal)
            }
        };
        // The table is opened after the journal: it is at least as long as
        // the committed length read, unless someone cut it.
        let table = dir.open_for_reading(TABLE_FILE)?;
        let table_len = match &table {
            Some(file) => file
                .metadata()
                .map_err(|e| TableError::io(table_name, "stat", &self.table_path(), e))?
                .len(),
            None => 0,
        };
        Ok(Snapshot {
            table,
            table_len,
            journal,
        })
    }

    /// The state of the table's files; needs no lock and repairs nothing.
    ///
    /// # Errors
    ///
    /// [`TableError::CorruptJournal`] and I/O errors (a symbolic link below
    /// `<base>/tables` included).
    pub fn status(&self) -> Result<TableStatus, TableError> {
        let snapshot = self.snapshot()?;
        Ok(match &snapshot.journal {
            Some(journal) => TableStatus {
                table_len: snapshot.table_len,
                committed_len: journal.committed(),
                highest_token: journal.highest_token(),
                remembered_ids: journal.remembered_count(),
                torn_journal: journal.torn_len > 0,
                journaled: true,
            },
            None => TableStatus {
                table_len: snapshot.table_len,
                committed_len: snapshot.table_len,
                ..TableStatus::default()
            },
        })
    }

    /// Whether the journal records the queued write `queue_id` as applied
    /// (among the ids it still remembers: the newest
    /// [`WriterOptions::remember_ids`](crate::WriterOptions::remember_ids)
    /// at least). Tells an entry moved aside after a power cut (for example
    /// one that came back empty in relaxed mode) whose rows are in the table
    /// from one that was lost. Needs no lock.
    ///
    /// # Errors
    ///
    /// As [`status`](Self::status).
    ///
    /// ```
    /// use reedbase_concurrent_core::{ApplyKey, CsvRow, PendingWrite, WriteOperation};
    /// use reedbase_concurrent_table::TableWriter;
    ///
    /// let base = tempfile::tempdir()?;
    /// let writer = TableWriter::new(base.path(), "users")?;
    /// let id = "00000000000000000001-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f";
    /// assert!(!writer.is_applied(id)?);
    /// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
    /// writer.apply(ApplyKey::queued(id, None), &write)?;
    /// assert!(writer.is_applied(id)?);
    /// # Ok::<(), reedbase_concurrent_core::ApplyError>(())
    /// ```
    pub fn is_applied(&self, queue_id: &str) -> Result<bool, TableError> {
        Ok(self
            .snapshot()?
            .journal
            .is_some_and(|journal| journal.remembers(queue_id)))
    }

    /// The table's committed rows, one line each without its line break, in
    /// the order they were appended. Needs no lock: rows of an apply step in
    /// progress (or of one a crash interrupted) are not included.
    ///
    /// A table without a journal (no apply yet, or written before this
    /// writer) is read whole, except a last line without a line break.
    ///
    /// # Errors
    ///
    /// [`TableError::CorruptJournal`], [`TableError::TableTruncated`] when
    /// the table is shorter than its committed length, I/O errors.
    ///
    /// ```
    /// use reedbase_concurrent_core::{ApplyKey, CsvRow, PendingWrite, WriteOperation};
    /// use reedbase_concurrent_table::TableWriter;
    ///
    /// let base = tempfile::tempdir()?;
    /// let writer = TableWriter::new(base.path(), "users")?;
    /// assert!(writer.committed_lines()?.is_empty());
    /// let rows = vec![CsvRow::new("user:1", ["Alice"]), CsvRow::new("user:2", ["Bob"])];
    /// writer.apply(ApplyKey::direct(None), &PendingWrite::new(WriteOperation::Insert, rows))?;
    /// assert_eq!(writer.committed_lines()?, ["user:1|Alice", "user:2|Bob"]);
    /// # Ok::<(), reedbase_concurrent_core::ApplyError>(())
    /// ```
    pub fn committed_lines(&self) -> Result<Vec<String>, TableError> {
        let snapshot = self.snapshot()?;
        let Some(table) = snapshot.table else {
            return Ok(Vec::new());
        };
        let read = |e| TableError::io(self.table_name(), "read_table", &self.table_path(), e);
        let committed = snapshot
            .journal
            .as_ref()
            .map_or(snapshot.table_len, Journal::committed);
        if snapshot.table_len < committed {
            return Err(TableError::TableTruncated {
                table: self.table_name().to_string(),
                path: self.table_path(),
                len: snapshot.table_len,
                committed,
            });
        }
        let mut bytes = Vec::new();
        let mut from_start = &table;
        io::Seek::rewind(&mut from_start).map_err(read)?;
        from_start
            .take(committed)
            .read_to_end(&mut bytes)
            .map_err(read)?;
        let text = String::from_utf8(bytes)
            .map_err(|e| read(io::Error::new(io::ErrorKind::InvalidData, e.utf8_error())))?;
        // Without a journal, a last line lacking its line break is dropped.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        Ok(complete
            .split('\n')
            .filter(|_| !complete.is_empty())
            .map(str::to_string)
            .collect())
    }
}

#[cfg(test)]
#[path = "reader_test.rs"]
mod tests;
