// SPDX-License-Identifier: Apache-2.0
//! The base directory ([`BaseDir`]): opened once and kept open, with the
//! descriptors kept for its tables, and opening or creating the directories
//! below it without following links (see the `tables_dir` module).

use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use reedbase_concurrent_core::{ReedError, ReedResult};
use rustix::fs::{Mode, OFlags};
use rustix::io::Errno;

use crate::lock::held::KeptLocks;
use crate::no_follow::{DIR_FLAGS, Found, explain_step, facts_of, identity_at, open_beneath};
use crate::options::Durability;
use crate::tables_dir::{
    Level, TablePaths, explain, relative_path, sync_dir, table_name, tables_dir,
};

/// The base directory, opened once and kept open.
///
/// Two kinds: an [`FsBackend`](crate::FsBackend)'s ([`new`](Self::new)) is
/// the directory its path led to when it was opened, and stays that one;
/// the free functions' ([`following`](Self::following)) is wherever the
/// caller's path leads at each call, as the old module resolved it. For the
/// second kind, kept descriptors are checked through the path (see
/// `Held::in_place`, `kept_queue`), and a call that opens something
/// through the base first checks (one `stat`) that the path still leads to
/// the directory opened; when it does not, that call opens the path afresh
/// and this value is [stale](Self::is_stale): the next call makes another.
#[derive(Debug)]
pub(crate) struct BaseDir {
    path: PathBuf,
    /// The descriptor, with its device and inode.
    fd: OnceLock<(OwnedFd, (u64, u64))>,
    /// The idle descriptors of the tables' locks.
    kept: KeptLocks,
    /// Resolved through its path at each call (the free functions' kind).
    follows_path: bool,
    /// Set once the path was found to lead elsewhere.
    stale: AtomicBool,
}

/// The base's descriptor for one call: the kept one, or (for a base that
/// follows its path, once the path leads elsewhere) one opened for it.
pub(crate) enum BaseFd<'a> {
    Kept(BorrowedFd<'a>),
    Fresh(OwnedFd),
}

impl AsFd for BaseFd<'_> {
    fn as_fd(&self) -> BorrowedFd<'_> {
        match self {
            BaseFd::Kept(fd) => *fd,
            BaseFd::Fresh(fd) => fd.as_fd(),
        }
    }
}

/// Dropping the last handle of a base waits (up to a second) until the
/// queue entries that lock holders of this process removed are freed, so
/// that unmounting the file system after dropping every backend on it
/// finds nothing of this crate still open, as `close_idle` does.
impl Drop for BaseDir {
    fn drop(&mut self) {
        crate::queue::wait_for_freeing(self.key());
    }
}

impl BaseDir {
    /// The base directory at `path`, an [`FsBackend`](crate::FsBackend)'s;
    /// nothing is opened yet.
    pub(crate) fn new(path: PathBuf) -> Self {
        BaseDir::of_kind(path, false)
    }

    /// The base directory at `path` for the free functions: resolved
    /// through the path at each call; nothing is opened yet.
    pub(crate) fn following(path: PathBuf) -> Self {
        BaseDir::of_kind(path, true)
    }

    fn of_kind(path: PathBuf, follows_path: bool) -> Self {
        BaseDir {
            path,
            fd: OnceLock::new(),
            kept: KeptLocks::default(),
            follows_path,
            stale: AtomicBool::new(false),
        }
    }

    /// Whether kept descriptors are checked through the path.
    pub(crate) fn follows_path(&self) -> bool {
        self.follows_path
    }

    /// For a base that follows its path: whether `<path>/tables` is a
    /// directory (not a link), looked at again at most every
    /// `TABLES_CHECK` as through a descriptor. A failure is a no.
    pub(crate) fn tables_in_place_by_path(&self) -> bool {
        // Asked before the path is joined: most calls are not due, and the
        // join's allocation cost more than the rest of such a call.
        if !self.kept.tables_check_due() {
            return true;
        }
        let tables = self.path.join("tables");
        self.tables_in_place_at(rustix::fs::CWD, tables.as_path())
            .unwrap_or(false)
    }

    /// Whether `tables` in the base's descriptor `base_fd` is a directory
    /// (not a link), looked at again at most every `TABLES_CHECK`.
    ///
    /// # Errors
    ///
    /// A look that fails otherwise than by finding nothing.
    pub(crate) fn tables_in_place_through(&self, base_fd: BorrowedFd<'_>) -> io::Result<bool> {
        self.tables_in_place_at(base_fd, "tables")
    }

    fn tables_in_place_at<N: rustix::path::Arg + Copy>(
        &self,
        at: BorrowedFd<'_>,
        tables: N,
    ) -> io::Result<bool> {
        if !self.kept.tables_check_due() {
            return Ok(true);
        }
        // Its identity only, as the lock pair's checks ask (see `identity_at`).
        let in_place =
            identity_at(at, tables)?.is_some_and(|found| found.found == Found::Directory);
        if in_place {
            self.kept.tables_checked();
        }
        Ok(in_place)
    }

    /// True once a call found that the path no longer leads to the
    /// directory opened (a base that follows its path only).
    pub(crate) fn is_stale(&self) -> bool {
        self.stale.load(Ordering::Relaxed)
    }

    /// The base directory's path, as given.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The base directory's device and inode, if it has been opened.
    pub(crate) fn key(&self) -> Option<(u64, u64)> {
        self.fd.get().map(|(_, key)| *key)
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
    fn existing(&self, operation: &'static str) -> ReedResult<Option<BaseFd<'_>>> {
        if let Some((fd, _)) = self.fd.get() {
            if !self.follows_path || self.still_at_path() {
                return Ok(Some(BaseFd::Kept(fd.as_fd())));
            }
            self.stale.store(true, Ordering::Relaxed);
            return match self.open_path(operation)? {
                Some((fd, _)) => Ok(Some(BaseFd::Fresh(fd))),
                None => Ok(None),
            };
        }
        match self.open_path(operation)? {
            Some((fd, key)) => {
                let opened = self.fd.get_or_init(|| (fd, key));
                Ok(Some(BaseFd::Kept(opened.0.as_fd())))
            }
            None => Ok(None),
        }
    }

    /// Opens the path (following links, as any path of the caller's).
    fn open_path(&self, operation: &'static str) -> ReedResult<Option<(OwnedFd, (u64, u64))>> {
        match rustix::fs::open(
            &self.path,
            DIR_FLAGS.difference(OFlags::NOFOLLOW),
            Mode::empty(),
        ) {
            Ok(fd) => {
                let facts = facts_of(&fd).map_err(|e| ReedError::io(operation, &self.path, &e))?;
                Ok(Some((fd, (facts.dev, facts.ino))))
            }
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(ReedError::io(operation, &self.path, &e.into())),
        }
    }

    /// The base's descriptor, creating the base (with its parents) if needed.
    fn created(&self, operation: &'static str) -> ReedResult<BaseFd<'_>> {
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
        let base = base.as_fd();
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
        let base = base.as_fd();
        match open_beneath(base, &relative_path(paths, level)) {
            Ok(fd) => return Ok(fd),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(explain(base, paths, level, operation, &e)),
        }
        let table = OsStr::new(table_name(paths));
        let mut parent: Option<OwnedFd> = None;
        let chain = level.chain();
        for (index, &step) in chain.iter().enumerate() {
            let at = parent.as_ref().map_or(base, AsFd::as_fd);
            let path = step.path(paths);
            let name = step.name(table);
            // Relaxed, a directory above the missing one (`tables` of a new
            // table) is most likely there: opened first, it costs no
            // `mkdirat`, which locks its parent even to find it there.
            if durability == Durability::Relaxed && index + 1 < chain.len() {
                match rustix::fs::openat(at, name, DIR_FLAGS, Mode::empty()) {
                    Ok(opened) => {
                        parent = Some(opened);
                        continue;
                    }
                    Err(Errno::NOENT) => {}
                    Err(e) => {
                        let tables = tables_dir(paths);
                        return Err(explain_step(at, name, &path, tables, operation, e.into()));
                    }
                }
            }
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
        let base = base.as_fd();
        match rustix::fs::openat(base, "tables", DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => {
                let tables = self.path.join("tables");
                let name = OsStr::new("tables");
                Err(explain_step(
                    base,
                    name,
                    &tables,
                    &tables,
                    operation,
                    e.into(),
                ))
            }
        }
    }
}
