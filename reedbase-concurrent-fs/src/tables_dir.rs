// SPDX-License-Identifier: Apache-2.0
//! The layout's directories: where a table's files live ([`TablePaths`]),
//! the base directory ([`BaseDir`]), and opening or creating the
//! directories below it without following links.
//!
//! The base directory is the caller's: its path is resolved as any path is,
//! links included, and [`BaseDir`] keeps it open. Everything at or below
//! `<base>/tables` is reached relative to its descriptor with
//! [`open_beneath`](crate::no_follow::open_beneath), so a symbolic link met on the way is refused, never
//! followed, and the error names the path and what was found there (see the
//! crate's [threat model](crate#threat-model)).

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::BorrowedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use reedbase_concurrent_core::{ReedError, ReedResult, validate_table_name};

pub(crate) use crate::base_dir::BaseDir;
use crate::no_follow::{Found, Refusal, refused, stat_at};

/// The paths of one table's lock and queue, built from a validated name.
///
/// # Examples
///
/// ```
/// use std::path::Path;
/// use reedbase_concurrent_fs::TablePaths;
///
/// let paths = TablePaths::new(Path::new("/data"), "users")?;
/// assert_eq!(paths.lock_file, Path::new("/data/tables/users/write.lock"));
/// assert_eq!(paths.queue_dir, Path::new("/data/tables/users/queue"));
/// assert!(TablePaths::new(Path::new("/data"), "../x").is_err());
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TablePaths {
    /// `<base>/tables/<table>`
    pub table_dir: PathBuf,
    /// `<base>/tables/<table>/write.lock`
    pub lock_file: PathBuf,
    /// `<base>/tables/<table>/queue`
    pub queue_dir: PathBuf,
    /// `<base>/tables/<table>/queue/corrupt`: entries moved aside.
    pub corrupt_dir: PathBuf,
}

impl TablePaths {
    /// Validates `table_name` and joins the table's paths under `base_path`.
    ///
    /// # Errors
    ///
    /// [`reedbase_concurrent_core::ReedError::InvalidTableName`] for a name that would leave `<base>/tables/`.
    pub fn new(base_path: &Path, table_name: &str) -> ReedResult<TablePaths> {
        validate_table_name(table_name)?;
        // Sized once: these paths are built on every call of a queue
        // operation, and growing them join by join cost more than the
        // system calls of some.
        let with = |parent: &Path, name: &str| {
            let mut path = PathBuf::with_capacity(parent.as_os_str().len() + name.len() + 1);
            path.push(parent);
            path.push(name);
            path
        };
        let mut table_dir =
            PathBuf::with_capacity(base_path.as_os_str().len() + table_name.len() + 8);
        table_dir.push(base_path);
        table_dir.push("tables");
        table_dir.push(table_name);
        let queue_dir = with(&table_dir, "queue");
        Ok(TablePaths {
            lock_file: with(&table_dir, "write.lock"),
            corrupt_dir: with(&queue_dir, "corrupt"),
            queue_dir,
            table_dir,
        })
    }
}

/// A directory of the layout, from `<base>/tables` down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// `<base>/tables`
    Tables,
    /// `<base>/tables/<table>`
    Table,
    /// `<base>/tables/<table>/queue`
    Queue,
    /// `<base>/tables/<table>/queue/corrupt`
    Corrupt,
}

impl Level {
    /// This level and the ones above it, from `tables` down.
    pub(crate) fn chain(self) -> &'static [Level] {
        const ALL: [Level; 4] = [Level::Tables, Level::Table, Level::Queue, Level::Corrupt];
        let depth = match self {
            Level::Tables => 1,
            Level::Table => 2,
            Level::Queue => 3,
            Level::Corrupt => 4,
        };
        &ALL[..depth]
    }

    /// This level's own name in its parent.
    pub(crate) fn name(self, table: &OsStr) -> &OsStr {
        match self {
            Level::Tables => OsStr::new("tables"),
            Level::Table => table,
            Level::Queue => OsStr::new("queue"),
            Level::Corrupt => OsStr::new("corrupt"),
        }
    }

    /// The level's path.
    pub(crate) fn path(self, paths: &TablePaths) -> PathBuf {
        match self {
            Level::Tables => tables_dir(paths).to_path_buf(),
            Level::Table => paths.table_dir.clone(),
            Level::Queue => paths.queue_dir.clone(),
            Level::Corrupt => paths.corrupt_dir.clone(),
        }
    }
}

/// `<base>/tables` of a table's paths.
pub(crate) fn tables_dir(paths: &TablePaths) -> &Path {
    paths.table_dir.parent().unwrap_or(&paths.table_dir)
}

/// The table name of a table's paths (its directory's last component).
pub(crate) fn table_name(paths: &TablePaths) -> &str {
    // What follows the last `/` of the table directory, which
    // `TablePaths::new` ends with the validated name (no separator in it):
    // read off the bytes rather than by parsing path components, on every
    // lock and queue call.
    let bytes = paths.table_dir.as_os_str().as_bytes();
    let name = bytes
        .iter()
        .rposition(|&b| b == b'/')
        .map_or(bytes, |slash| &bytes[slash + 1..]);
    std::str::from_utf8(name).unwrap_or_default()
}

/// `tables/<table>/...` down to `level`, relative to the base.
pub(crate) fn relative_path(paths: &TablePaths, level: Level) -> PathBuf {
    let table = OsStr::new(table_name(paths));
    // Joined in one buffer: `PathBuf::push` step by step cost more than the
    // system call this path is for.
    let mut relative = OsString::with_capacity(32 + table.len());
    for (at, step) in level.chain().iter().enumerate() {
        if at > 0 {
            relative.push("/");
        }
        relative.push(step.name(table));
    }
    PathBuf::from(relative)
}

/// Turns a failure to open `level` into an error naming the first path on
/// the way that is a link or not a directory, or the failure as it was.
pub(crate) fn explain(
    base: BorrowedFd<'_>,
    paths: &TablePaths,
    level: Level,
    operation: &'static str,
    error: &io::Error,
) -> ReedError {
    let table = OsStr::new(table_name(paths));
    let mut relative = PathBuf::new();
    for &step in level.chain() {
        relative.push(step.name(table));
        let found = stat_at(base, &relative)
            .ok()
            .flatten()
            .map(|facts| facts.found);
        match found {
            Some(Found::SymbolicLink) => {
                return refused(
                    operation,
                    &step.path(paths),
                    tables_dir(paths),
                    Refusal::Link,
                );
            }
            Some(found) if found != Found::Directory => {
                return refused(
                    operation,
                    &step.path(paths),
                    tables_dir(paths),
                    Refusal::NotADirectory(found),
                );
            }
            _ => {}
        }
    }
    ReedError::io(operation, &level.path(paths), error)
}

/// Makes a directory's entries (a new name, a rename, a removal) durable.
///
/// # Errors
///
/// The `io::Error` of the `fsync`.
pub(crate) fn sync_dir(dir: BorrowedFd<'_>) -> io::Result<()> {
    rustix::fs::fsync(dir).map_err(io::Error::from)
}

#[cfg(test)]
#[path = "tables_dir_test.rs"]
mod tests;
