// SPDX-License-Identifier: Apache-2.0
//! Opening a table for one apply step, under the table's lock: the files are
//! opened (created on first use), the journal is read, and what a crash left
//! behind is repaired or refused before anything is appended.
//!
//! What the table and the journal can look like after a crash, and what is
//! done:
//!
//! | state | cause | action |
//! | --- | --- | --- |
//! | journal ends in a torn line | crash while appending a record | cut the torn line off: that step did not commit |
//! | table longer than the journal's committed length | crash after appending rows, before their record was durable | roll the table back to the committed length, keeping the cut bytes in `table.discarded` |
//! | table shorter than the committed length | truncated or replaced by someone else | refuse ([`TableError::TableTruncated`]) |
//! | bad journal line before the last | not a crash of this writer | refuse ([`TableError::CorruptJournal`]) |
//! | table without a journal, ending in a line break | written before this writer | adopt it: a journal is created with its length as committed |
//! | table without a journal, ending mid-line | written before this writer, torn | refuse ([`TableError::TornUnjournaled`]) |
//!
//! Rolling back is safe because an apply step returns `Ok` only after its
//! record is durable: the rows of a step without a record belong to queued
//! writes that are still queued (the coordinator removes an entry only after
//! its apply returned `Ok`) and will be applied again, or to a direct write
//! whose `submit` never returned. Keeping them instead would apply those
//! queued writes twice, and leave a torn last line.

use std::fs::{File, Metadata};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::error::TableError;
use crate::journal::{Header, Journal, Record};
use crate::table_dir::{DISCARDED_FILE, JOURNAL_FILE, JOURNAL_TEMP_FILE, TABLE_FILE, TableDir};

/// What opening a table repaired.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Repair {
    /// Bytes of a torn journal line cut off.
    pub(crate) torn_journal_bytes: u64,
    /// Uncommitted table bytes rolled back (and kept in `table.discarded`).
    pub(crate) discarded_bytes: u64,
}

impl Repair {
    pub(crate) fn is_empty(&self) -> bool {
        *self == Repair::default()
    }
}

/// A journal as a writer last saw it, and which file held it: kept between
/// steps so that the next step reads only the records other processes
/// appended since. A journal rewritten since (compaction) is another file or
/// has another generation in its header, and is read whole again.
#[derive(Debug)]
pub(crate) struct KnownJournal {
    file_id: FileId,
    journal: Journal,
}

/// A table opened for one apply step, repaired and consistent with its
/// journal: the table file is exactly `journal.committed()` bytes long.
#[derive(Debug)]
pub(crate) struct OpenTable {
    table: String,
    pub(crate) dir: TableDir,
    table_file: File,
    journal_file: File,
    journal_id: FileId,
    pub(crate) journal: Journal,
    pub(crate) repair: Repair,
}

/// Device and inode: which file this is.
type FileId = (u64, u64);

fn file_id(metadata: &Metadata) -> FileId {
    (metadata.dev(), metadata.ino())
}

fn file_len(file: &File) -> io::Result<u64> {
    file.metadata().map(|metadata| metadata.len())
}

/// Reads a whole file from its start.
pub(crate) fn read_all(mut file: &File) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(0))?;
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// True when the file is empty or its last byte is a line break.
pub(crate) fn ends_with_line_break(mut file: &File, len: u64) -> io::Result<bool> {
    if len == 0 {
        return Ok(true);
    }
    let mut last = [0u8];
    file.seek(SeekFrom::Start(len - 1))?;
    file.read_exact(&mut last)?;
    Ok(last[0] == b'\n')
}

impl OpenTable {
    /// Opens (creating on first use) and repairs the table; see the
    /// [module docs](self). `known` is the journal as the caller last saw
    /// it, if it kept it.
    pub(crate) fn open(
        base: &Path,
        table: &str,
        known: Option<KnownJournal>,
    ) -> Result<OpenTable, TableError> {
        let dir = TableDir::open_or_create(base, table)?;
        let journal_file = match dir.open_for_append(JOURNAL_FILE)? {
            Some(file) => file,
            None => create_journal(&dir, table)?,
        };
        let table_file = match dir.open_for_append(TABLE_FILE)? {
            Some(file) => file,
            None => dir.create_for_append(TABLE_FILE)?,
        };
        let (journal_id, journal) =
            read_journal(&journal_file, known, table, &dir.path_of(JOURNAL_FILE))?;
        let mut open = OpenTable {
            table: table.to_string(),
            dir,
            table_file,
            journal_file,
            journal_id,
            journal,
            repair: Repair::default(),
        };
        open.cut_torn_journal_tail()?;
        open.roll_back_uncommitted_rows()?;
        Ok(open)
    }

    fn fail(&self, operation: &'static str, name: &str, source: io::Error) -> TableError {
        TableError::io(&self.table, operation, &self.dir.path_of(name), source)
    }

    fn cut_torn_journal_tail(&mut self) -> Result<(), TableError> {
        if self.journal.torn_len == 0 {
            return Ok(());
        }
        self.journal_file
            .set_len(self.journal.valid_len)
            .and_then(|()| self.journal_file.sync_data())
            .map_err(|e| self.fail("cut_torn_journal_line", JOURNAL_FILE, e))?;
        self.repair.torn_journal_bytes = self.journal.torn_len;
        self.journal.torn_len = 0;
        Ok(())
    }

    fn roll_back_uncommitted_rows(&mut self) -> Result<(), TableError> {
        let committed = self.journal.committed();
        let len = file_len(&self.table_file).map_err(|e| self.fail("stat", TABLE_FILE, e))?;
        if len < committed {
            return Err(TableError::TableTruncated {
                table: self.table.clone(),
                path: self.dir.path_of(TABLE_FILE),
                len,
                committed,
            });
        }
        if len == committed {
            return Ok(());
        }
        self.keep_discarded(committed, len)?;
        self.table_file
            .set_len(committed)
            .and_then(|()| self.table_file.sync_data())
            .map_err(|e| self.fail("roll_back_uncommitted_rows", TABLE_FILE, e))?;
        self.repair.discarded_bytes = len - committed;
        Ok(())
    }

    /// Appends the table's bytes `from..to` to `table.discarded`, after a
    /// comment line saying where they came from, and syncs it.
    fn keep_discarded(&self, from: u64, to: u64) -> Result<(), TableError> {
        let fail = |e| self.fail("keep_discarded_rows", DISCARDED_FILE, e);
        let mut kept = match self.dir.open_for_append(DISCARDED_FILE)? {
            Some(file) => file,
            None => self.dir.create_for_append(DISCARDED_FILE)?,
        };
        let note = format!(
            "# {} bytes rolled back from {TABLE_FILE} at byte {from}: an apply that did not \
             commit (its queued writes are applied again)\n",
            to - from
        );
        kept.write_all(note.as_bytes()).map_err(fail)?;
        let mut source = &self.table_file;
        source
            .seek(SeekFrom::Start(from))
            .map_err(|e| self.fail("read_uncommitted_rows", TABLE_FILE, e))?;
        io::copy(&mut source.take(to - from), &mut kept)
            .map_err(|e| self.fail("keep_discarded_rows", DISCARDED_FILE, e))?;
        if !ends_with_line_break(&self.table_file, to)
            .map_err(|e| self.fail("read_uncommitted_rows", TABLE_FILE, e))?
        {
            kept.write_all(b"\n").map_err(fail)?;
        }
        kept.sync_data().map_err(fail)
    }

    /// Appends `rows` to the table and makes them durable. On failure the
    /// table is cut back to its committed length (if that fails too, the
    /// next open rolls it back).
    pub(crate) fn append_rows(&mut self, rows: &[u8]) -> Result<(), TableError> {
        if rows.is_empty() {
            return Ok(());
        }
        let written = self
            .table_file
            .write_all(rows)
            .and_then(|()| self.table_file.sync_data());
        written.map_err(|error| {
            let _ = self.cut_back_table();
            self.fail("append_rows", TABLE_FILE, error)
        })
    }

    /// Appends `record` to the journal and makes it durable: the step
    /// commits here.
    ///
    /// If writing or syncing the record fails, the step is undone before
    /// the error is returned, so that nothing says "applied" about rows the
    /// caller is told were not: the journal is cut back to its last
    /// committed record and the table to its committed length, each synced.
    /// A failed fsync is never retried: after one, the kernel may have
    /// dropped the dirty pages, and a second fsync could succeed without
    /// them. The descriptors of this step are dropped with it, and the next
    /// step opens and reads the files afresh. If the undo fails too, the
    /// error is `undo_uncommitted_step` and the outcome is unknown.
    pub(crate) fn commit(&mut self, record: Record) -> Result<(), TableError> {
        let written = self
            .journal_file
            .write_all(record.render().as_bytes())
            .and_then(|()| self.journal_file.sync_data());
        if let Err(error) = written {
            let undone = self
                .journal_file
                .set_len(self.journal.valid_len)
                .and_then(|()| self.journal_file.sync_data());
            if let Err(undo) = undone {
                return Err(self.fail("undo_uncommitted_step", JOURNAL_FILE, undo));
            }
            let _ = self.cut_back_table();
            return Err(self.fail("append_journal_record", JOURNAL_FILE, error));
        }
        self.journal.push(record);
        Ok(())
    }

    /// Cuts the table back to its committed length and syncs it.
    fn cut_back_table(&self) -> io::Result<()> {
        self.table_file
            .set_len(self.journal.committed())
            .and_then(|()| self.table_file.sync_data())
    }

    /// Rewrites the journal with only what must be remembered (see
    /// [`Journal::compacted`]), through a temporary file and a rename.
    pub(crate) fn compact(&mut self, remember: usize) -> Result<(), TableError> {
        let compacted = self.journal.compacted(remember);
        self.journal_id = write_journal(&self.dir, &self.table, &compacted)?;
        self.journal = compacted;
        Ok(())
    }

    /// The journal as this step leaves it, for the next step.
    pub(crate) fn into_known(self) -> KnownJournal {
        KnownJournal {
            file_id: self.journal_id,
            journal: self.journal,
        }
    }
}

/// Reads the journal at `path`: only what was appended since `known`, if
/// that is still the same journal, else the whole file.
fn read_journal(
    file: &File,
    known: Option<KnownJournal>,
    table: &str,
    path: &Path,
) -> Result<(FileId, Journal), TableError> {
    let fail = |e| TableError::io(table, "read_journal", path, e);
    let metadata = file.metadata().map_err(fail)?;
    let id = file_id(&metadata);
    let same_file = known.filter(|known| {
        known.file_id == id
            && known.journal.torn_len == 0
            && metadata.len() >= known.journal.valid_len
    });
    if let Some(known) = same_file
        && let Some(journal) = continue_known(file, known.journal).map_err(fail)?
    {
        return Ok((id, journal));
    }
    let bytes = read_all(file).map_err(fail)?;
    let journal = Journal::parse(&bytes).map_err(|reason| TableError::CorruptJournal {
        table: table.to_string(),
        path: path.to_path_buf(),
        reason,
    })?;
    Ok((id, journal))
}

/// `journal` with the records appended to `file` since, or `None` when the
/// file's header is not `journal`'s (it was rewritten) or its new bytes do
/// not continue it (then the caller reads it whole, and reports what is
/// wrong).
fn continue_known(mut file: &File, mut journal: Journal) -> io::Result<Option<Journal>> {
    let header = journal.header.render();
    let mut first = vec![0; header.len()];
    file.seek(SeekFrom::Start(0))?;
    file.read_exact(&mut first)?;
    if first != header.as_bytes() {
        return Ok(None);
    }
    let mut appended = Vec::new();
    file.seek(SeekFrom::Start(journal.valid_len))?;
    file.read_to_end(&mut appended)?;
    Ok(journal.parse_appended(&appended).ok().map(|()| journal))
}

/// Writes a whole journal to the temporary name, syncs it and renames it
/// into place: a reader sees the old journal or the new one, never a mix.
/// Returns which file the journal now is.
fn write_journal(dir: &TableDir, table: &str, journal: &Journal) -> Result<FileId, TableError> {
    let fail = |e| TableError::io(table, "write_journal", &dir.path_of(JOURNAL_TEMP_FILE), e);
    let mut temp = dir.create_truncated(JOURNAL_TEMP_FILE)?;
    temp.write_all(journal.render().as_bytes())
        .and_then(|()| temp.sync_data())
        .map_err(fail)?;
    let id = temp
        .metadata()
        .map(|metadata| file_id(&metadata))
        .map_err(fail)?;
    dir.replace(JOURNAL_TEMP_FILE, JOURNAL_FILE)?;
    Ok(id)
}

/// Creates the journal of a table that has none: committed from 0 for a new
/// table, or from the whole length of a table written before this writer
/// (adopted if it ends with a line break, refused if not).
fn create_journal(dir: &TableDir, table: &str) -> Result<File, TableError> {
    let table_path = dir.path_of(TABLE_FILE);
    let committed = match dir.open_for_reading(TABLE_FILE)? {
        None => 0,
        Some(file) => {
            let read = |e| TableError::io(table, "read_table", &table_path, e);
            let len = file_len(&file).map_err(read)?;
            if !ends_with_line_break(&file, len).map_err(read)? {
                return Err(TableError::TornUnjournaled {
                    table: table.to_string(),
                    path: table_path,
                    len,
                });
            }
            len
        }
    };
    // A new journal's generation starts from the clock, so that a journal
    // deleted and created again does not repeat an earlier generation.
    let generation = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_nanos() as u64);
    let header = Header {
        committed,
        token: None,
        generation,
    };
    write_journal(dir, table, &Journal::new(header))?;
    dir.open_for_append(JOURNAL_FILE)?.ok_or_else(|| {
        let gone = io::Error::new(io::ErrorKind::NotFound, "the new journal vanished");
        TableError::io(table, "open_journal", &dir.path_of(JOURNAL_FILE), gone)
    })
}

#[cfg(test)]
#[path = "open_table_test.rs"]
mod tests;
