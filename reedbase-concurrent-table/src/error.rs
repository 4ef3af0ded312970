// SPDX-License-Identifier: Apache-2.0
//! [`TableError`]: everything that can stop a [`TableWriter`](crate::TableWriter).
//!
//! Every message names the table and, where a file is involved, its path;
//! I/O failures keep the `io::Error` itself (and so its kind) as their
//! source.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};

use reedbase_concurrent_core::{ReedError, WriteOperation};

/// Why a table writer did not apply a write, or could not read or repair its
/// table.
///
/// [`TableWriter::apply`](crate::TableWriter::apply) and
/// [`apply_batch`](crate::TableWriter::apply_batch) return it boxed as an
/// [`ApplyError`](reedbase_concurrent_core::ApplyError) so that they plug
/// straight into the coordinator; get it back with `downcast_ref`.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{ApplyKey, CsvRow, PendingWrite, WriteOperation};
/// use reedbase_concurrent_table::{TableError, TableWriter};
///
/// let base = tempfile::tempdir()?;
/// let writer = TableWriter::new(base.path(), "users")?;
/// let update = PendingWrite::new(WriteOperation::Update, vec![CsvRow::new("user:1", ["Bob"])]);
/// let error = writer.apply(ApplyKey::direct(None), &update).unwrap_err();
/// let error = error.downcast_ref::<TableError>().expect("a TableError");
/// assert!(matches!(error, TableError::Unsupported { .. }));
/// assert_eq!(error.table(), "users");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum TableError {
    /// A file-system operation failed.
    Io {
        /// The table.
        table: String,
        /// What was being done, e.g. `append_rows`, `open_table_dir`.
        operation: &'static str,
        /// The file or directory the operation was applied to.
        path: PathBuf,
        /// The underlying error (its kind tells "permission denied" from
        /// "no space left on device"; a symbolic link gives `ELOOP`).
        source: io::Error,
    },
    /// The table name is not a valid table name.
    InvalidTableName(ReedError),
    /// A write, a row or a queue id would corrupt the table or its journal.
    InvalidWrite {
        /// The table.
        table: String,
        /// The queued write's id (`None` for a direct write).
        queue_id: Option<String>,
        /// The validation error, naming the row and field.
        source: Box<ReedError>,
    },
    /// An `Update` or `Delete` write: the table file is only appended to.
    Unsupported {
        /// The table.
        table: String,
        /// The table file.
        path: PathBuf,
        /// The write's operation.
        operation: WriteOperation,
        /// The queued write's id (`None` for a direct write).
        queue_id: Option<String>,
    },
    /// The write carries a fencing token lower than one already recorded:
    /// its lock has since been taken over by another holder.
    Fenced {
        /// The table.
        table: String,
        /// The journal holding the highest token.
        path: PathBuf,
        /// The write's token.
        token: u64,
        /// The highest token recorded.
        highest: u64,
    },
    /// The journal cannot be read as a journal; the writer refuses to guess.
    CorruptJournal {
        /// The table.
        table: String,
        /// The journal.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The table file is shorter than the bytes its journal records as
    /// written: it was truncated or replaced outside the writer.
    TableTruncated {
        /// The table.
        table: String,
        /// The table file.
        path: PathBuf,
        /// Its length.
        len: u64,
        /// The length the journal records.
        committed: u64,
    },
    /// A table file without a journal (written before this writer) ends in a
    /// half-written line.
    TornUnjournaled {
        /// The table.
        table: String,
        /// The table file.
        path: PathBuf,
        /// Its length.
        len: u64,
    },
    /// A symbolic link at or below `<base>/tables`, which the writer never
    /// follows.
    SymbolicLink {
        /// The table.
        table: String,
        /// The link.
        path: PathBuf,
    },
    /// A name the writer uses is not a regular file (a FIFO, a directory, a
    /// device).
    NotAFile {
        /// The table.
        table: String,
        /// The path.
        path: PathBuf,
    },
}

impl TableError {
    /// A [`TableError::Io`].
    pub(crate) fn io(table: &str, operation: &'static str, path: &Path, source: io::Error) -> Self {
        TableError::Io {
            table: table.to_string(),
            operation,
            path: path.to_path_buf(),
            source,
        }
    }

    /// The table the error is about (the name as given, for an invalid one).
    pub fn table(&self) -> &str {
        match self {
            TableError::Io { table, .. }
            | TableError::InvalidWrite { table, .. }
            | TableError::Unsupported { table, .. }
            | TableError::Fenced { table, .. }
            | TableError::CorruptJournal { table, .. }
            | TableError::TableTruncated { table, .. }
            | TableError::TornUnjournaled { table, .. }
            | TableError::SymbolicLink { table, .. }
            | TableError::NotAFile { table, .. } => table,
            TableError::InvalidTableName(ReedError::InvalidTableName { name, .. }) => name,
            TableError::InvalidTableName(_) => "",
        }
    }

    /// The file or directory the error is about, if any.
    pub fn path(&self) -> Option<&Path> {
        match self {
            TableError::Io { path, .. }
            | TableError::Unsupported { path, .. }
            | TableError::Fenced { path, .. }
            | TableError::CorruptJournal { path, .. }
            | TableError::TableTruncated { path, .. }
            | TableError::TornUnjournaled { path, .. }
            | TableError::SymbolicLink { path, .. }
            | TableError::NotAFile { path, .. } => Some(path),
            TableError::InvalidTableName(_) | TableError::InvalidWrite { .. } => None,
        }
    }

    /// The `io::ErrorKind` of a [`TableError::Io`].
    pub fn io_kind(&self) -> Option<io::ErrorKind> {
        match self {
            TableError::Io { source, .. } => Some(source.kind()),
            _ => None,
        }
    }

    /// True for [`TableError::Fenced`].
    pub fn is_fenced(&self) -> bool {
        matches!(self, TableError::Fenced { .. })
    }
}

/// ` 'id'` for a queued write, nothing for a direct one.
fn queued(queue_id: &Option<String>) -> String {
    queue_id
        .as_deref()
        .map_or_else(String::new, |id| format!(" '{id}'"))
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableError::Io {
                table,
                operation,
                path,
                source,
            } => write!(
                f,
                "{operation} failed for table '{table}' on {}: {source} ({:?})",
                path.display(),
                source.kind()
            ),
            TableError::InvalidTableName(source) => source.fmt(f),
            TableError::InvalidWrite {
                table,
                queue_id,
                source,
            } => write!(
                f,
                "write{} to table '{table}' cannot be applied: {source}",
                queued(queue_id)
            ),
            TableError::Unsupported {
                table,
                path,
                operation,
                queue_id,
            } => write!(
                f,
                "{operation:?} write{} cannot be applied to table '{table}': its file {} is only \
                 appended to (Insert); check writes with TableWriter::check_write before \
                 submitting them",
                queued(queue_id),
                path.display()
            ),
            TableError::Fenced {
                table,
                path,
                token,
                highest,
            } => write!(
                f,
                "write to table '{table}' refused: its lock's fencing token {token} is lower than \
                 {highest}, recorded in {} by a later holder (this holder's lock was taken over)",
                path.display()
            ),
            TableError::CorruptJournal {
                table,
                path,
                reason,
            } => write!(
                f,
                "journal of table '{table}' at {} is corrupt ({reason}); the writer refuses to \
                 guess: restore it, or move it away to have the table adopted as it is",
                path.display()
            ),
            TableError::TableTruncated {
                table,
                path,
                len,
                committed,
            } => write!(
                f,
                "table file of '{table}' at {} is {len} bytes, shorter than the {committed} bytes \
                 its journal records as written: it was truncated or replaced outside the writer; \
                 nothing is appended until an operator restores it",
                path.display()
            ),
            TableError::TornUnjournaled { table, path, len } => write!(
                f,
                "table file of '{table}' at {} has no journal and ends in a half-written line \
                 (at byte {len}); the writer cannot tell what to keep: complete or remove that \
                 line by hand",
                path.display()
            ),
            TableError::SymbolicLink { table, path } => write!(
                f,
                "{} of table '{table}' is a symbolic link; the writer never follows a link at or \
                 below <base>/tables (it could lead outside the base directory)",
                path.display()
            ),
            TableError::NotAFile { table, path } => write!(
                f,
                "{} of table '{table}' is not a regular file; the writer opens only regular files",
                path.display()
            ),
        }
    }
}

impl std::error::Error for TableError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            TableError::Io { source, .. } => Some(source),
            TableError::InvalidTableName(source) => Some(source),
            TableError::InvalidWrite { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

#[cfg(test)]
#[path = "error_test.rs"]
mod tests;
