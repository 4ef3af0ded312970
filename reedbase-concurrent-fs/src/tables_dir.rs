// SPDX-License-Identifier: Apache-2.0
//! The layout's directories: where a table's files live ([`TablePaths`]),
//! the base directory ([`BaseDir`]), and opening or creating the
//! directories below it without following links.
//!
//! The base directory is the caller's: its path is resolved as any path is,
//! links included, and [`BaseDir`] keeps it open. Everything at or below
//! `<base>/tables` is reached relative to its descriptor with
//! [`open_beneath`], so a symbolic link met on the way is refused, never
//! followed, and the error names the path and what was found there (see the
//! crate's [threat model](crate#threat-model)).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use reedbase_concurrent_core::{ReedError, ReedResult, validate_table_name};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::lock::held::KeptLocks;
use crate::no_follow::{
    DIR_FLAGS, Found, Refusal, explain_step, facts_of, open_beneath, refused, stat_at,
};
use crate::options::Durability;

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
    /// [`ReedError::InvalidTableName`](reedbase_concurrent_core::ReedError::InvalidTableName)
    /// for a name that would leave `<base>/tables/`.
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
    fn chain(self) -> &'static [Level] {
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
    fn name(self, table: &OsStr) -> &OsStr {
        match self {
            Level::Tables => OsStr::new("tables"),
            Level::Table => table,
            Level::Queue => OsStr::new("queue"),
            Level::Corrupt => OsStr::new("corrupt"),
        }
    }

    /// The level's path.
    fn path(self, paths: &TablePaths) -> PathBuf {
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

/// The base directory, opened once and kept open.
#[derive(Debug)]
pub(crate) struct BaseDir {
    path: PathBuf,
    /// The descriptor, with its device and inode.
    fd: OnceLock<(OwnedFd, (u64, u64))>,
    /// The idle descriptors of the tables' locks.
    kept: KeptLocks,
}

impl BaseDir {
    /// The base directory at `path`; nothing is opened yet.
    pub(crate) fn new(path: PathBuf) -> Self {
        BaseDir {
            path,
            fd: OnceLock::new(),
            kept: KeptLocks::default(),
        }
    }

    /// The base directory's path, as given.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The base's descriptor, if it has been opened.
    pub(crate) fn opened(&self) -> Option<BorrowedFd<'_>> {
        self.fd.get().map(|(fd, _)| fd.as_fd())
    }

    /// The idle descriptors of the tables' locks, kept for the next
    /// acquisition or probe.
    pub(crate) fn kept(&self) -> &KeptLocks {
        &self.kept
    }

    /// Whether the path still leads to the directory opened (one `stat` of
    /// the path, following links as any path of the caller's); true if
    /// nothing was opened yet.
    pub(crate) fn still_at_path(&self) -> bool {
        let Some((_, opened)) = self.fd.get() else {
            return true;
        };
        rustix::fs::stat(&self.path).is_ok_and(|stat| {
            let facts = crate::no_follow::Facts::of(&stat);
            (facts.dev, facts.ino) == *opened
        })
    }

    /// The base's descriptor, `None` if the base does not exist (nothing is
    /// created).
    fn existing(&self, operation: &'static str) -> ReedResult<Option<BorrowedFd<'_>>> {
        if let Some((fd, _)) = self.fd.get() {
            return Ok(Some(fd.as_fd()));
        }
        match rustix::fs::open(
            &self.path,
            DIR_FLAGS.difference(OFlags::NOFOLLOW),
            Mode::empty(),
        ) {
            Ok(fd) => {
                let facts = facts_of(&fd).map_err(|e| ReedError::io(operation, &self.path, &e))?;
                let opened = self.fd.get_or_init(|| (fd, (facts.dev, facts.ino)));
                Ok(Some(opened.0.as_fd()))
            }
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(ReedError::io(operation, &self.path, &e.into())),
        }
    }

    /// The base's descriptor, creating the base (with its parents) if needed.
    fn created(&self, operation: &'static str) -> ReedResult<BorrowedFd<'_>> {
        if let Some(fd) = self.existing(operation)? {
            return Ok(fd);
        }
        std::fs::create_dir_all(&self.path)
            .map_err(|e| ReedError::io(operation, &self.path, &e))?;
        self.existing(operation)?.ok_or_else(|| {
            let gone = io::Error::from(io::ErrorKind::NotFound);
            ReedError::io(operation, &self.path, &gone)
        })
    }

    /// Opens the directory at `level` of a table, or `None` if it (or
    /// anything above it) does not exist. Nothing is created.
    ///
    /// # Errors
    ///
    /// `IoError` `operation` naming the path: a link or a file met on the
    /// way (described), a base path that is not a directory, any other
    /// failure.
    pub(crate) fn open(
        &self,
        paths: &TablePaths,
        level: Level,
        operation: &'static str,
    ) -> ReedResult<Option<OwnedFd>> {
        let Some(base) = self.existing(operation)? else {
            return Ok(None);
        };
        let relative = relative_path(paths, level);
        match open_beneath(base, &relative) {
            Ok(fd) => Ok(Some(fd)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(explain(base, paths, level, operation, &e)),
        }
    }

    /// Opens the directory at `level` of a table, creating it and the
    /// directories above it as needed. With [`Durability::Durable`] the
    /// parent of every directory on the way is synced when the directory at
    /// `level` is missing, so that its name survives a power cut.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), and the failure to create a directory.
    pub(crate) fn create(
        &self,
        paths: &TablePaths,
        level: Level,
        durability: Durability,
        operation: &'static str,
    ) -> ReedResult<OwnedFd> {
        let base = self.created(operation)?;
        match open_beneath(base, &relative_path(paths, level)) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(explain(base, paths, level, operation, &e)),
        }
        let table = OsStr::new(table_name(paths));
        let mut parent: Option<OwnedFd> = None;
        for &step in level.chain() {
            let at = parent.as_ref().map_or(base, AsFd::as_fd);
            let path = step.path(paths);
            let name = step.name(table);
            // Durable: the parent is synced even when the directory was
            // there (created relaxed, by the lock, or by a call whose sync
            // failed); a directory created here whose sync fails is removed
            // again, so that the next call creates and syncs it.
            match rustix::fs::mkdirat(at, name, Mode::from_bits_truncate(0o777)) {
                created @ (Ok(()) | Err(Errno::EXIST)) if durability == Durability::Durable => {
                    let parent_path = path.parent().unwrap_or(&path);
                    if let Err(e) = sync_dir(at) {
                        if created.is_ok() {
                            let _ = rustix::fs::unlinkat(at, name, rustix::fs::AtFlags::REMOVEDIR);
                        }
                        return Err(ReedError::io("sync_dir", parent_path, &e));
                    }
                }
                Ok(()) | Err(Errno::EXIST) => {}
                Err(e) => return Err(ReedError::io(operation, &path, &e.into())),
            }
            let opened = rustix::fs::openat(at, name, DIR_FLAGS, Mode::empty()).map_err(|e| {
                explain_step(at, name, &path, tables_dir(paths), operation, e.into())
            })?;
            parent = Some(opened);
        }
        parent.ok_or_else(|| {
            ReedError::io(
                operation,
                &paths.table_dir,
                &io::ErrorKind::InvalidInput.into(),
            )
        })
    }

    /// Opens `<base>/tables`, or `None` if it does not exist.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open).
    pub(crate) fn open_tables(&self, operation: &'static str) -> ReedResult<Option<OwnedFd>> {
        let Some(base) = self.existing(operation)? else {
            return Ok(None);
        };
        let tables = self.path.join("tables");
        match rustix::fs::openat(base, "tables", DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(explain_step(
                base,
                OsStr::new("tables"),
                &tables,
                &tables,
                operation,
                e.into(),
            )),
        }
    }
}

/// The table name of a table's paths (its directory's last component).
fn table_name(paths: &TablePaths) -> &str {
    paths
        .table_dir
        .file_name()
        .and_then(OsStr::to_str)
        .unwrap_or_default()
}

/// `tables/<table>/...` down to `level`, relative to the base.
fn relative_path(paths: &TablePaths, level: Level) -> PathBuf {
    let table = OsStr::new(table_name(paths));
    level.chain().iter().map(|step| step.name(table)).collect()
}

/// Turns a failure to open `level` into an error naming the first path on
/// the way that is a link or not a directory, or the failure as it was.
fn explain(
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
