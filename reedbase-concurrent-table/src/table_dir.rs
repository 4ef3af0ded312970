// SPDX-License-Identifier: Apache-2.0
//! A table's directory, `<base>/tables/<table>/`, and the files the writer
//! keeps in it, opened without ever following a symbolic link at or below
//! `<base>/tables`.
//!
//! The base directory is opened by path (it may itself be, or lie under, a
//! symbolic link: that is the operator's choice). From there each component
//! (`tables`, the table's name, the file's name) is opened relative to its
//! parent's descriptor with `O_NOFOLLOW`, so a link planted anywhere below
//! fails with `ELOOP` instead of leading the writer outside the base.
//! Files are opened with `O_NONBLOCK` and checked to be regular files, so a
//! FIFO planted under a file's name is refused instead of blocking the
//! writer for ever.

use std::collections::BTreeSet;
use std::fs::File;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use rustix::fs::{AtFlags, FileType, Mode, OFlags};
use rustix::io::Errno;

use crate::error::TableError;

/// The table file.
pub(crate) const TABLE_FILE: &str = "table.csv";
/// The journal of applied steps.
pub(crate) const JOURNAL_FILE: &str = "table.journal";
/// A journal being rewritten (creation, compaction).
pub(crate) const JOURNAL_TEMP_FILE: &str = "table.journal.tmp";
/// Where bytes rolled back at recovery are kept for operators.
pub(crate) const DISCARDED_FILE: &str = "table.discarded";

const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);
const FILE_FLAGS: OFlags = OFlags::NOFOLLOW
    .union(OFlags::CLOEXEC)
    .union(OFlags::NONBLOCK);

fn mode(bits: u32) -> Mode {
    Mode::from_raw_mode(bits)
}

/// Why a name could not be opened.
#[derive(Debug)]
enum OpenFailure {
    /// The name is a symbolic link.
    Link,
    /// Any other failure.
    Io(io::Error),
}

impl From<io::Error> for OpenFailure {
    fn from(error: io::Error) -> Self {
        OpenFailure::Io(error)
    }
}

impl OpenFailure {
    fn into_error(self, table: &str, operation: &'static str, path: &Path) -> TableError {
        match self {
            OpenFailure::Link => TableError::SymbolicLink {
                table: table.to_string(),
                path: path.to_path_buf(),
            },
            OpenFailure::Io(source) => TableError::io(table, operation, path, source),
        }
    }
}

/// Opens `name` under `parent`; `Ok(None)` when it does not exist.
///
/// `O_NOFOLLOW` makes the kernel refuse a symbolic link (`ELOOP`, or
/// `ENOTDIR` together with `O_DIRECTORY`); such a refusal is told apart from
/// other failures by looking at the name without following it.
fn open_at(parent: &File, name: &str, flags: OFlags) -> Result<Option<File>, OpenFailure> {
    match rustix::fs::openat(parent, name, flags, mode(0o644)) {
        Ok(fd) => Ok(Some(File::from(fd))),
        Err(Errno::NOENT) => Ok(None),
        Err(errno @ (Errno::LOOP | Errno::NOTDIR)) => {
            match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
                Ok(stat) if FileType::from_raw_mode(stat.st_mode) == FileType::Symlink => {
                    Err(OpenFailure::Link)
                }
                _ => Err(OpenFailure::Io(errno.into())),
            }
        }
        Err(errno) => Err(OpenFailure::Io(errno.into())),
    }
}

fn open_dir_at(parent: &File, name: &str) -> Result<Option<File>, OpenFailure> {
    open_at(parent, name, DIR_FLAGS)
}

/// The table directories (device, inode) whose chain of directories this
/// process has synced since it opened them: the first open in a process
/// syncs the table's directory and its parents once, so that names another
/// process (or a step whose sync failed) left unsynced become durable
/// before anything here is acknowledged. A failed sync takes the directory
/// out again.
static SYNCED: Mutex<BTreeSet<(u64, u64)>> = Mutex::new(BTreeSet::new());

fn synced() -> std::sync::MutexGuard<'static, BTreeSet<(u64, u64)>> {
    SYNCED.lock().unwrap_or_else(PoisonError::into_inner)
}

/// An open table directory, with its parents kept open so that they can be
/// synchronised when the table's files are first created.
#[derive(Debug)]
pub(crate) struct TableDir {
    table: String,
    path: PathBuf,
    dir: File,
    /// The directory's device and inode.
    id: (u64, u64),
    parents: Vec<(PathBuf, File)>,
}

impl TableDir {
    /// Opens the table's directory, creating it (and `<base>/tables`, and
    /// the base directory) if needed; a directory it creates is made durable
    /// by a sync of its parent.
    pub(crate) fn open_or_create(base: &Path, table: &str) -> Result<TableDir, TableError> {
        let fail = |operation, path: &Path, source| TableError::io(table, operation, path, source);
        std::fs::create_dir_all(base).map_err(|e| fail("create_base_dir", base, e))?;
        let base_dir = File::open(base).map_err(|e| fail("open_base_dir", base, e))?;
        let tables_path = base.join("tables");
        let tables = ensure_dir(&base_dir, "tables", &tables_path)
            .map_err(|e| e.into_error(table, "open_tables_dir", &tables_path))?;
        let path = tables_path.join(table);
        let dir = ensure_dir(&tables, table, &path)
            .map_err(|e| e.into_error(table, "open_table_dir", &path))?;
        let id = dir
            .metadata()
            .map(|metadata| (metadata.dev(), metadata.ino()))
            .map_err(|e| fail("stat", &path, e))?;
        let opened = TableDir {
            table: table.to_string(),
            path,
            dir,
            id,
            parents: vec![(tables_path, tables), (base.to_path_buf(), base_dir)],
        };
        if !synced().contains(&id) {
            opened.sync_all_dirs()?;
            synced().insert(id);
        }
        Ok(opened)
    }

    /// Opens the table's directory if it exists; never creates anything.
    pub(crate) fn open_existing(base: &Path, table: &str) -> Result<Option<TableDir>, TableError> {
        let fail = |operation, path: &Path, source| TableError::io(table, operation, path, source);
        let base_dir = match File::open(base) {
            Ok(dir) => dir,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(fail("open_base_dir", base, error)),
        };
        let tables_path = base.join("tables");
        let Some(tables) = open_dir_at(&base_dir, "tables")
            .map_err(|e| e.into_error(table, "open_tables_dir", &tables_path))?
        else {
            return Ok(None);
        };
        let path = tables_path.join(table);
        let Some(dir) = open_dir_at(&tables, table)
            .map_err(|e| e.into_error(table, "open_table_dir", &path))?
        else {
            return Ok(None);
        };
        let id = dir
            .metadata()
            .map(|metadata| (metadata.dev(), metadata.ino()))
            .map_err(|e| fail("stat", &path, e))?;
        Ok(Some(TableDir {
            table: table.to_string(),
            path,
            dir,
            id,
            parents: Vec::new(),
        }))
    }

    /// The path of a file in this directory, for messages.
    pub(crate) fn path_of(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    fn fail(&self, operation: &'static str, name: &str, source: io::Error) -> TableError {
        TableError::io(&self.table, operation, &self.path_of(name), source)
    }

    /// Checks that an opened name is a regular file.
    fn regular(&self, name: &str, file: File) -> Result<File, TableError> {
        let metadata = file.metadata().map_err(|e| self.fail("stat", name, e))?;
        if metadata.is_file() {
            Ok(file)
        } else {
            Err(TableError::NotAFile {
                table: self.table.clone(),
                path: self.path_of(name),
            })
        }
    }

    fn open_with(&self, name: &str, flags: OFlags) -> Result<Option<File>, TableError> {
        let opened = open_at(&self.dir, name, flags | FILE_FLAGS)
            .map_err(|e| e.into_error(&self.table, "open", &self.path_of(name)))?;
        opened.map(|file| self.regular(name, file)).transpose()
    }

    /// Opens an existing file to read it and append to it.
    pub(crate) fn open_for_append(&self, name: &str) -> Result<Option<File>, TableError> {
        self.open_with(name, OFlags::RDWR | OFlags::APPEND)
    }

    /// Opens an existing file to read it.
    pub(crate) fn open_for_reading(&self, name: &str) -> Result<Option<File>, TableError> {
        self.open_with(name, OFlags::RDONLY)
    }

    /// Creates a file that must not exist yet, opened to read and append,
    /// and makes its name durable.
    pub(crate) fn create_for_append(&self, name: &str) -> Result<File, TableError> {
        let flags = OFlags::RDWR | OFlags::APPEND | OFlags::CREATE | OFlags::EXCL;
        let file = self
            .open_with(name, flags)?
            .ok_or_else(|| self.fail("create", name, io::ErrorKind::NotFound.into()))?;
        self.sync_all_dirs()?;
        Ok(file)
    }

    /// Creates or empties a file to write it from the start (a temporary
    /// file that [`replace`](Self::replace) moves into place).
    pub(crate) fn create_truncated(&self, name: &str) -> Result<File, TableError> {
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::TRUNC;
        self.open_with(name, flags)?
            .ok_or_else(|| self.fail("create", name, io::ErrorKind::NotFound.into()))
    }

    /// Renames `from` over `to` and makes the rename durable.
    pub(crate) fn replace(&self, from: &str, to: &str) -> Result<(), TableError> {
        rustix::fs::renameat(&self.dir, from, &self.dir, to)
            .map_err(|errno| self.fail("rename", to, errno.into()))?;
        self.sync_all_dirs()
    }

    /// Syncs the table's directory and the parents this call opened (only
    /// [`open_or_create`](Self::open_or_create) keeps them): done when a
    /// file is created or replaced, so that its name survives a power cut
    /// even when the directories were created by someone who did not sync
    /// them.
    fn sync_all_dirs(&self) -> Result<(), TableError> {
        let fail = |path: &Path, e| {
            synced().remove(&self.id);
            TableError::io(&self.table, "sync_dir", path, e)
        };
        self.dir.sync_all().map_err(|e| fail(&self.path, e))?;
        for (path, dir) in &self.parents {
            dir.sync_all().map_err(|e| fail(path, e))?;
        }
        Ok(())
    }
}

/// Opens `name` under `parent` as a directory, creating it (and syncing
/// `parent`) if it does not exist.
fn ensure_dir(parent: &File, name: &str, path: &Path) -> Result<File, OpenFailure> {
    if let Some(dir) = open_dir_at(parent, name)? {
        return Ok(dir);
    }
    match rustix::fs::mkdirat(parent, name, mode(0o755)) {
        Ok(()) | Err(Errno::EXIST) => {}
        Err(errno) => return Err(io::Error::from(errno).into()),
    }
    parent.sync_all()?;
    open_dir_at(parent, name)?.ok_or_else(|| {
        let message = format!("{} vanished right after it was created", path.display());
        io::Error::new(io::ErrorKind::NotFound, message).into()
    })
}

#[cfg(test)]
#[path = "table_dir_test.rs"]
mod tests;
