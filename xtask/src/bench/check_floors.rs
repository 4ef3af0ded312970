// SPDX-License-Identifier: Apache-2.0
//! The checks floors: the system calls that the fs crate's threat model
//! requires of an old-API call, and nothing else, for the three rows where
//! those calls are most of the cost (`remove_from_queue`, and `is_locked`
//! and `wait_for_unlock` on a free lock). Each is a column of the same
//! criterion group as the subjects, measured in the same run.
//!
//! These are not floors of the disk or the kernel: the old module makes
//! none of these checks, and is faster than they can be. They are what the
//! fs crate cannot leave out without giving up a guarantee (a table
//! directory, queue directory or lock file swapped or replaced by a link
//! while its descriptor is kept; descriptors inherited across a fork),
//! made as directly as possible: descriptors opened once outside the timed
//! loop, names prepared as C strings, no allocation, no pool, no error
//! value built on success. What the fs columns spend above a floor is the
//! fs crate's own work; what a floor spends above the old module is the
//! price of the checks.
//!
//! - [`CHECKED_UNLINKAT`]: `fstatat(base, "tables/<table>")`
//!   (`AT_SYMLINK_NOFOLLOW`), compared (device, inode) with the kept
//!   directory and its link count and times with those of the last look,
//!   then `unlinkat(queue, "<id>.pending")`, as
//!   `FsBackend::remove_from_queue` makes them through its kept
//!   descriptors while the table directory does not change (when it has
//!   changed, `fstatat(table, "queue")` is compared too).
//! - [`CHECKED_UNLINKAT_BY_PATH`]: the same with the first check an
//!   `lstat("<base>/tables/<table>")`, as the fs crate's free functions,
//!   which follow the base's path, make it.
//! - [`CHECKED_PROBE`]: `getpid` (the kept descriptors' fork check),
//!   `fstatat(base, "tables/<table>")` compared as above (when the table
//!   directory has changed, `fstatat(table, "write.lock")` too, the lock
//!   file also with one name), then a shared non-blocking `flock`
//!   and its unlock on `write.lock` and the same on the table directory (a
//!   holder locks both), as `FsBackend::is_locked` probes a free lock.
//! - [`CHECKED_PROBE_BY_PATH`]: the same with the first check an `lstat`
//!   of the whole path, as the free functions make it.

use std::ffi::{CStr, CString};
use std::fs::{self, File, OpenOptions};
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};

use rustix::fs::{AtFlags, CWD, FlockOperation, Stat, flock, fstat, statat, unlinkat};
use rustix::io::Errno;

/// The `remove_from_queue` floor through the base's descriptor.
pub const CHECKED_UNLINKAT: &str = "floor: checked unlinkat";
/// The `remove_from_queue` floor through the base's path.
pub const CHECKED_UNLINKAT_BY_PATH: &str = "floor: checked unlinkat, by path";
/// The free-lock probe floor through the base's descriptor.
pub const CHECKED_PROBE: &str = "floor: checked probe";
/// The free-lock probe floor through the base's path.
pub const CHECKED_PROBE_BY_PATH: &str = "floor: checked probe, by path";

/// The columns of the checks floors, each with whether it reaches the
/// table directory by the base's path.
pub const UNLINKAT_FLOORS: [(&str, bool); 2] =
    [(CHECKED_UNLINKAT, false), (CHECKED_UNLINKAT_BY_PATH, true)];
/// See [`UNLINKAT_FLOORS`].
pub const PROBE_FLOORS: [(&str, bool); 2] = [(CHECKED_PROBE, false), (CHECKED_PROBE_BY_PATH, true)];

/// A table directory laid out as the fs crate lays it out, under a base
/// directory of its own, with the descriptors the fs crate keeps between
/// calls opened once.
struct Table {
    base: File,
    /// `tables/<table>`, relative to the base.
    relative: CString,
    /// `<base>/tables/<table>`.
    path: CString,
    dir_path: PathBuf,
    dir: File,
    /// The table directory as it was opened.
    dir_stat: Stat,
}

impl Table {
    fn create(base: &Path, table: &str) -> Result<Table, String> {
        let dir_path = base.join("tables").join(table);
        fs::create_dir_all(&dir_path)
            .map_err(|e| format!("creating {}: {e}", dir_path.display()))?;
        let open =
            |path: &Path| File::open(path).map_err(|e| format!("opening {}: {e}", path.display()));
        let dir = open(&dir_path)?;
        let dir_stat = fstat(&dir).map_err(|e| format!("fstat of {}: {e}", dir_path.display()))?;
        Ok(Table {
            base: open(base)?,
            relative: c_string(Path::new("tables").join(table))?,
            path: c_string(dir_path.clone())?,
            dir_path,
            dir,
            dir_stat,
        })
    }

    /// Takes the table directory's stamp again, once its names are laid
    /// out: the look that found them in place.
    fn looked(&mut self) -> Result<(), String> {
        self.dir_stat =
            fstat(&self.dir).map_err(|e| format!("fstat of {}: {e}", self.dir_path.display()))?;
        Ok(())
    }

    /// Checks that `tables/<table>` is still the kept directory (not a
    /// link): one `fstatat` from the base's descriptor, or with `by_path`
    /// one `lstat` of the whole path. True when the directory's link count
    /// and times are still those of its opening: then no name in it was
    /// made, removed or renamed since, and a name in it needs no look (the
    /// fs crate keeps such a stamp only when it was settled at its look).
    fn check_dir(&self, by_path: bool) -> Result<bool, String> {
        let found = if by_path {
            statat(CWD, self.path.as_c_str(), AtFlags::SYMLINK_NOFOLLOW)
        } else {
            statat(
                &self.base,
                self.relative.as_c_str(),
                AtFlags::SYMLINK_NOFOLLOW,
            )
        };
        let unchanged = found
            .as_ref()
            .is_ok_and(|stat| stamp(stat) == stamp(&self.dir_stat));
        same_file(found, &self.dir_stat, "the table directory").map(|()| unchanged)
    }
}

/// A directory's link count and modification and change times.
#[allow(clippy::unnecessary_cast)]
fn stamp(stat: &Stat) -> (u64, i64, i64, i64, i64) {
    (
        stat.st_nlink as u64,
        stat.st_mtime as i64,
        stat.st_mtime_nsec as i64,
        stat.st_ctime as i64,
        stat.st_ctime_nsec as i64,
    )
}

/// A path as a C string, made once so that no call converts it.
fn c_string(path: PathBuf) -> Result<CString, String> {
    CString::new(path.into_os_string().into_vec()).map_err(|e| e.to_string())
}

/// Whether a `stat` found the kept file (same device and inode).
fn same_file(found: rustix::io::Result<Stat>, kept: &Stat, what: &str) -> Result<(), String> {
    match found {
        Ok(stat) if (stat.st_dev, stat.st_ino) == (kept.st_dev, kept.st_ino) => Ok(()),
        Ok(_) => Err(format!("{what} is no longer the kept one")),
        Err(e) => Err(format!("stat of {what}: {e}")),
    }
}

/// The `remove_from_queue` floors: a queue directory `tables/<table>/queue`
/// under a base of its own, kept open with its table directory.
pub struct CheckedUnlink {
    table: Table,
    queue: File,
    queue_stat: Stat,
    queue_path: PathBuf,
    /// What each entry holds.
    body: Vec<u8>,
    /// Entries written so far, for fresh names.
    written: std::cell::Cell<u64>,
}

impl CheckedUnlink {
    /// Lays the queue out under `base` and fills it with `depth` entries of
    /// `body`.
    ///
    /// # Errors
    ///
    /// A directory or file that cannot be made or opened.
    pub fn create(
        base: &Path,
        table: &str,
        body: Vec<u8>,
        depth: usize,
    ) -> Result<CheckedUnlink, String> {
        let mut table = Table::create(base, table)?;
        let queue_path = table.dir_path.join("queue");
        fs::create_dir_all(&queue_path)
            .map_err(|e| format!("creating {}: {e}", queue_path.display()))?;
        let queue = File::open(&queue_path)
            .map_err(|e| format!("opening {}: {e}", queue_path.display()))?;
        let queue_stat =
            fstat(&queue).map_err(|e| format!("fstat of {}: {e}", queue_path.display()))?;
        table.looked()?;
        let floor = CheckedUnlink {
            table,
            queue,
            queue_stat,
            queue_path,
            body,
            written: std::cell::Cell::new(0),
        };
        for _ in 0..depth {
            floor.write_entry()?;
        }
        Ok(floor)
    }

    /// Writes a fresh entry (untimed: the floor is of the removal) and
    /// returns its file name, named as the fs crate names one (a 20-digit
    /// sequence, a dash, 32 hex digits, `.pending`).
    ///
    /// # Errors
    ///
    /// A file that cannot be written.
    pub fn write_entry(&self) -> Result<CString, String> {
        let sequence = self.written.get();
        self.written.set(sequence + 1);
        let name = format!("{sequence:020}-{:032x}.pending", u128::from(sequence));
        let path = self.queue_path.join(&name);
        fs::write(&path, &self.body).map_err(|e| format!("writing {}: {e}", path.display()))?;
        CString::new(name).map_err(|e| e.to_string())
    }

    /// The timed calls: the two identity checks, then the `unlinkat` of
    /// `name` in the kept queue directory.
    ///
    /// # Errors
    ///
    /// A check that fails, or an entry that cannot be removed.
    pub fn remove(&self, name: &CStr, by_path: bool) -> Result<(), String> {
        if !self.table.check_dir(by_path)? {
            let queue = statat(&self.table.dir, c"queue", AtFlags::SYMLINK_NOFOLLOW);
            same_file(queue, &self.queue_stat, "the queue directory")?;
        }
        unlinkat(&self.queue, name, AtFlags::empty())
            .map_err(|e| format!("unlinkat of {name:?}: {e}"))
    }

    /// The number of entries in the queue directory.
    ///
    /// # Errors
    ///
    /// A directory that cannot be listed.
    pub fn count(&self) -> Result<usize, String> {
        fs::read_dir(&self.queue_path)
            .map(Iterator::count)
            .map_err(|e| format!("listing {}: {e}", self.queue_path.display()))
    }
}

/// The free-lock probe floors: `tables/<table>/write.lock` under a base of
/// its own, kept open with its table directory.
pub struct CheckedProbe {
    table: Table,
    lock: File,
    lock_stat: Stat,
    /// The process that opened the descriptors.
    pid: u32,
}

impl CheckedProbe {
    /// Lays the lock file out under `base`.
    ///
    /// # Errors
    ///
    /// A directory or file that cannot be made or opened.
    pub fn create(base: &Path, table: &str) -> Result<CheckedProbe, String> {
        let mut table = Table::create(base, table)?;
        let lock_path = table.dir_path.join("write.lock");
        let lock = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(|e| format!("opening {}: {e}", lock_path.display()))?;
        let lock_stat =
            fstat(&lock).map_err(|e| format!("fstat of {}: {e}", lock_path.display()))?;
        table.looked()?;
        Ok(CheckedProbe {
            table,
            lock,
            lock_stat,
            pid: std::process::id(),
        })
    }

    /// The timed calls: the fork check, the two identity checks, and the
    /// probe of both locks; whether the lock is free.
    ///
    /// # Errors
    ///
    /// A check that fails, or a `flock` that fails.
    pub fn probe(&self, by_path: bool) -> Result<bool, String> {
        if std::process::id() != self.pid {
            return Err("the descriptors were opened by another process".to_string());
        }
        if !self.table.check_dir(by_path)? {
            let lock = statat(&self.table.dir, c"write.lock", AtFlags::SYMLINK_NOFOLLOW);
            if lock.as_ref().is_ok_and(|stat| stat.st_nlink != 1) {
                return Err("write.lock has more than one name".to_string());
            }
            same_file(lock, &self.lock_stat, "write.lock")?;
        }
        Ok(!held(&self.lock)? && !held(&self.table.dir)?)
    }
}

/// The first acquisition of a new table's lock, made bare: on a kept
/// descriptor of `<base>/tables`, `mkdirat` of the table directory and its
/// `openat`, `openat` of `write.lock` (created, no link followed), `fstat`
/// of both (a lock file must be a regular file with one name, the directory
/// a directory), an exclusive `flock` of each (a holder locks both), the
/// check that both are still in place once locked (`fstatat` of the table
/// directory by its name in `tables` and of `write.lock` in it: a directory
/// renamed or a lock file replaced between the opening and the lock would
/// leave the holder excluding no one), the holder record written (`pwrite`
/// of its 256 bytes: `lock_holder` and a stale holder's detection read it),
/// both unlocked and closed.
pub struct CheckedNewTable {
    tables: File,
    next: std::cell::Cell<u64>,
}

/// The new-table floor's column.
pub const CHECKED_NEW_TABLE: &str = "floor: checked new table";

impl CheckedNewTable {
    /// Makes `<base>/tables` and keeps it open.
    ///
    /// # Errors
    ///
    /// A directory that cannot be made or opened.
    pub fn create(base: &Path) -> Result<CheckedNewTable, String> {
        let path = base.join("tables");
        fs::create_dir_all(&path).map_err(|e| format!("creating {}: {e}", path.display()))?;
        let tables = File::open(&path).map_err(|e| format!("opening {}: {e}", path.display()))?;
        Ok(CheckedNewTable {
            tables,
            next: std::cell::Cell::new(0),
        })
    }

    /// Takes and releases the lock of a table never seen before.
    ///
    /// # Errors
    ///
    /// A call that fails, or a file of the wrong kind.
    pub fn acquire_release(&self) -> Result<(), String> {
        use rustix::fs::{Mode, OFlags, mkdirat, openat};
        let number = self.next.replace(self.next.get() + 1);
        let name = CString::new(format!("t{number}")).map_err(|e| e.to_string())?;
        let fail = |what: &str, e: Errno| format!("{what}: {e}");
        mkdirat(
            &self.tables,
            name.as_c_str(),
            Mode::from_bits_truncate(0o777),
        )
        .map_err(|e| fail("mkdirat", e))?;
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let dir = openat(&self.tables, name.as_c_str(), dir_flags, Mode::empty())
            .map_err(|e| fail("openat", e))?;
        let lock_flags = OFlags::RDWR | OFlags::CREATE | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let lock = openat(
            &dir,
            c"write.lock",
            lock_flags,
            Mode::from_bits_truncate(0o666),
        )
        .map_err(|e| fail("openat write.lock", e))?;
        let (lock_stat, dir_stat) = (
            fstat(&lock).map_err(|e| fail("fstat", e))?,
            fstat(&dir).map_err(|e| fail("fstat", e))?,
        );
        if rustix::fs::FileType::from_raw_mode(lock_stat.st_mode)
            != rustix::fs::FileType::RegularFile
            || lock_stat.st_nlink != 1
            || rustix::fs::FileType::from_raw_mode(dir_stat.st_mode)
                != rustix::fs::FileType::Directory
        {
            return Err("write.lock or its directory is not what it should be".into());
        }
        flock(&lock, FlockOperation::NonBlockingLockExclusive).map_err(|e| fail("flock", e))?;
        flock(&dir, FlockOperation::NonBlockingLockExclusive).map_err(|e| fail("flock", e))?;
        let flags = AtFlags::SYMLINK_NOFOLLOW;
        same_file(
            statat(&self.tables, name.as_c_str(), flags),
            &dir_stat,
            "the table directory",
        )?;
        let placed = statat(&dir, c"write.lock", flags);
        if placed.as_ref().is_ok_and(|stat| stat.st_nlink != 1) {
            return Err("write.lock has more than one name".into());
        }
        same_file(placed, &lock_stat, "write.lock")?;
        let record = [b' '; 256];
        rustix::io::pwrite(&lock, &record, 0).map_err(|e| fail("pwrite", e))?;
        flock(&lock, FlockOperation::Unlock).map_err(|e| fail("unlock", e))?;
        flock(&dir, FlockOperation::Unlock).map_err(|e| fail("unlock", e))?;
        Ok(())
    }
}

/// One shared non-blocking `flock` on `file`, released at once: whether
/// an exclusive lock holds it.
fn held(file: &File) -> Result<bool, String> {
    match flock(file, FlockOperation::NonBlockingLockShared) {
        Ok(()) => flock(file, FlockOperation::Unlock)
            .map(|()| false)
            .map_err(|e| format!("unlock: {e}")),
        Err(Errno::WOULDBLOCK) => Ok(true),
        Err(e) => Err(format!("flock: {e}")),
    }
}

#[cfg(test)]
#[path = "check_floors_test.rs"]
mod tests;
