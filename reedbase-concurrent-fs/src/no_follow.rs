// SPDX-License-Identifier: Apache-2.0
//! Directories and files below `<base>/tables`, opened relative to a
//! directory descriptor without following links or blocking, files judged
//! by `fstat` on the descriptor, and the errors that refuse what the layout
//! does not expect, naming the path and what was found there.
//!
//! A directory is opened with `openat2(RESOLVE_NO_SYMLINKS |
//! RESOLVE_BENEATH)` on Linux, and where that system call is missing (Linux
//! before 5.6, other Unix systems) one name at a time with `openat(O_NOFOLLOW
//! | O_DIRECTORY)`: a symbolic link anywhere on the way is refused.
//!
//! A file is opened with `O_NOFOLLOW | O_NONBLOCK`: a symbolic link is
//! refused by the kernel, a FIFO opens at once instead of waiting for a
//! writer, and the type and size that count are those of the descriptor, so
//! a file swapped after a listing cannot redirect or hang the reader.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reedbase_concurrent_core::{ReedError, ReedResult};
use rustix::fs::{AtFlags, FileType, Mode, OFlags, Stat, StatxFlags};
use rustix::io::Errno;
use rustix::path::Arg;

/// How every directory below the base is opened.
pub(crate) const DIR_FLAGS: OFlags = OFlags::RDONLY
    .union(OFlags::DIRECTORY)
    .union(OFlags::NOFOLLOW)
    .union(OFlags::CLOEXEC);

/// Opens the directory `relative` below `dir` without following any link.
///
/// # Errors
///
/// The system call's error: `FilesystemLoop` (ELOOP) for a link on the way,
/// `NotADirectory` for a file, `NotFound`, ...
pub(crate) fn open_beneath(dir: BorrowedFd<'_>, relative: &Path) -> io::Result<OwnedFd> {
    #[cfg(target_os = "linux")]
    {
        use rustix::fs::ResolveFlags;
        use std::sync::atomic::{AtomicBool, Ordering};
        static MISSING: AtomicBool = AtomicBool::new(false);
        if !MISSING.load(Ordering::Relaxed) {
            let resolve = ResolveFlags::NO_SYMLINKS | ResolveFlags::BENEATH;
            match rustix::fs::openat2(dir, relative, DIR_FLAGS, Mode::empty(), resolve) {
                Err(Errno::NOSYS) => MISSING.store(true, Ordering::Relaxed),
                other => return other.map_err(io::Error::from),
            }
        }
    }
    open_name_by_name(dir, relative)
}

/// The portable form of [`open_beneath`]: one `openat(O_NOFOLLOW |
/// O_DIRECTORY)` per name.
fn open_name_by_name(dir: BorrowedFd<'_>, relative: &Path) -> io::Result<OwnedFd> {
    let mut current: Option<OwnedFd> = None;
    for name in relative.iter() {
        let at = current.as_ref().map_or(dir, AsFd::as_fd);
        current = Some(rustix::fs::openat(at, name, DIR_FLAGS, Mode::empty())?);
    }
    current.ok_or_else(|| io::ErrorKind::InvalidInput.into())
}

/// The directory `name` in the directory `parent` (whose path is `path`),
/// to open or create without following a link; see [`child_dir`].
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChildDir<'a> {
    parent: BorrowedFd<'a>,
    name: &'a str,
    path: &'a Path,
    tables: &'a Path,
}

/// The directory `name` in `parent`, found at `path` below `tables`.
pub(crate) fn child_dir<'a>(
    parent: BorrowedFd<'a>,
    name: &'a str,
    path: &'a Path,
    tables: &'a Path,
) -> ChildDir<'a> {
    ChildDir {
        parent,
        name,
        path,
        tables,
    }
}

impl ChildDir<'_> {
    /// Opens the directory, or `None` if there is none.
    ///
    /// # Errors
    ///
    /// `IoError` `operation` naming the path: a link or a file in its place
    /// (described), or any other failure.
    pub(crate) fn open(&self, operation: &'static str) -> ReedResult<Option<OwnedFd>> {
        match rustix::fs::openat(self.parent, self.name, DIR_FLAGS, Mode::empty()) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::NOENT) => Ok(None),
            Err(e) => Err(self.explain(operation, e.into())),
        }
    }

    /// Opens the directory, creating it first if there is none.
    ///
    /// # Errors
    ///
    /// As [`open`](Self::open), and the failure to create it.
    pub(crate) fn create(&self, operation: &'static str) -> ReedResult<OwnedFd> {
        match rustix::fs::mkdirat(self.parent, self.name, Mode::from_bits_truncate(0o777)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(ReedError::io(operation, self.path, &e.into())),
        }
        rustix::fs::openat(self.parent, self.name, DIR_FLAGS, Mode::empty())
            .map_err(|e| self.explain(operation, e.into()))
    }

    fn explain(&self, operation: &'static str, error: io::Error) -> ReedError {
        let name = OsStr::new(self.name);
        explain_step(self.parent, name, self.path, self.tables, operation, error)
    }
}

/// Turns a failure to open the directory `name` in `dir` (at `path`) into
/// an error saying what is there if it is a link or not a directory, or
/// the failure as it was.
pub(crate) fn explain_step(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    path: &Path,
    tables: &Path,
    operation: &'static str,
    error: io::Error,
) -> ReedError {
    match stat_at(dir, Path::new(name))
        .ok()
        .flatten()
        .map(|facts| facts.found)
    {
        Some(Found::SymbolicLink) => refused(operation, path, tables, Refusal::Link),
        Some(found) if found != Found::Directory => {
            refused(operation, path, tables, Refusal::NotADirectory(found))
        }
        _ => ReedError::io(operation, path, &error),
    }
}

/// What was found at a path, by its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Found {
    SymbolicLink,
    Directory,
    RegularFile,
    Fifo,
    Socket,
    Device,
    Unknown,
}

impl Found {
    fn of(file_type: FileType) -> Found {
        match file_type {
            FileType::Symlink => Found::SymbolicLink,
            FileType::Directory => Found::Directory,
            FileType::RegularFile => Found::RegularFile,
            FileType::Fifo => Found::Fifo,
            FileType::Socket => Found::Socket,
            FileType::CharacterDevice | FileType::BlockDevice => Found::Device,
            _ => Found::Unknown,
        }
    }

    /// `is a FIFO (named pipe)`, ...
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Found::SymbolicLink => "is a symbolic link",
            Found::Directory => "is a directory",
            Found::RegularFile => "is a regular file",
            Found::Fifo => "is a FIFO (named pipe)",
            Found::Socket => "is a socket",
            Found::Device => "is a device file",
            Found::Unknown => "is a file of an unknown type",
        }
    }
}

/// Why a path was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// A symbolic link where a directory or a file is expected.
    Link,
    /// Something else where a directory is expected.
    NotADirectory(Found),
    /// Something else where a regular file is expected.
    NotARegularFile(Found),
    /// A lock file with this many names (hard links).
    HardLinked(u64),
}

/// The `IoError` for a path below `tables` that is not what the layout
/// expects, naming the path and what was found.
pub(crate) fn refused(
    operation: &'static str,
    path: &Path,
    tables: &Path,
    why: Refusal,
) -> ReedError {
    let (kind, reason) = match why {
        Refusal::Link => (
            io::Error::from(Errno::LOOP).kind(),
            format!(
                "is a symbolic link; links below {} are not followed, see the threat model in the \
                 reedbase-concurrent-fs docs",
                tables.display()
            ),
        ),
        Refusal::NotADirectory(found) => (
            io::ErrorKind::NotADirectory,
            format!("{}, not a directory", found.describe()),
        ),
        Refusal::NotARegularFile(Found::Directory) => (
            io::ErrorKind::IsADirectory,
            "is a directory, not a regular file".to_string(),
        ),
        Refusal::NotARegularFile(found) => (
            io::ErrorKind::InvalidData,
            format!("{}, not a regular file", found.describe()),
        ),
        Refusal::HardLinked(links) => (
            io::ErrorKind::InvalidData,
            format!(
                "is a regular file with {links} names (hard links); a lock file must have only \
                 its own name, see the threat model in the reedbase-concurrent-fs docs"
            ),
        ),
    };
    ReedError::IoError {
        operation,
        path: path.to_path_buf(),
        kind,
        reason,
    }
}

/// What `fstat` or `statat` tells about a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) links: u64,
    pub(crate) size: u64,
    pub(crate) found: Found,
    pub(crate) modified: SystemTime,
    /// The link count and the times, for comparing with a later look.
    pub(crate) stamp: Stamp,
}

impl Facts {
    // The field types of `struct stat` differ between architectures.
    #[allow(clippy::unnecessary_cast)]
    pub(crate) fn of(stat: &Stat) -> Facts {
        let secs = stat.st_mtime as i64;
        let nanos = (stat.st_mtime_nsec as u32).min(999_999_999);
        let modified = if secs >= 0 {
            UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
        } else {
            UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
        };
        Facts {
            dev: stat.st_dev as u64,
            ino: stat.st_ino as u64,
            links: stat.st_nlink as u64,
            size: u64::try_from(stat.st_size).unwrap_or(0),
            found: Found::of(FileType::from_raw_mode(stat.st_mode)),
            modified: modified.unwrap_or(UNIX_EPOCH),
            stamp: Stamp {
                links: stat.st_nlink as u64,
                modified: (secs, nanos),
                changed: (
                    stat.st_ctime as i64,
                    (stat.st_ctime_nsec as u32).min(999_999_999),
                ),
            },
        }
    }

    /// True when both describe the same file (device and inode).
    pub(crate) fn same_file(&self, other: &Facts) -> bool {
        (self.dev, self.ino) == (other.dev, other.ino)
    }
}

/// `fstat` of an open descriptor.
pub(crate) fn facts_of(fd: impl AsFd) -> io::Result<Facts> {
    Ok(Facts::of(&rustix::fs::fstat(fd)?))
}

/// What names a file, without its times: for the checks made on every
/// acquisition and queue call that a kept descriptor is still the file of
/// its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Identity {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
    pub(crate) links: u64,
    pub(crate) found: Found,
}

impl Identity {
    /// True when `facts` describe this file (device and inode).
    pub(crate) fn is(&self, facts: &Facts) -> bool {
        (self.dev, self.ino) == (facts.dev, facts.ino)
    }

    fn of(facts: &Facts) -> Identity {
        Identity {
            dev: facts.dev,
            ino: facts.ino,
            links: facts.links,
            found: facts.found,
        }
    }
}

/// As [`stat_at`], asking the kernel for the file's identity only, never
/// its times (`statx` without `STATX_MTIME` or `STATX_CTIME`).
///
/// Asking for a file's times marks them as seen, and the next change of
/// the file then stamps a fine-grained time and updates its inode (Linux
/// 6.13 and later, multigrain timestamps): after a plain `fstatat` of
/// `write.lock`, the holder record's `pwrite` cost an inode update through
/// the journal, about a microsecond more. Falls back to `fstatat` where
/// `statx` is missing or does not report these fields.
///
/// `name` may be any path type; a kept `&CStr` is passed to the kernel as
/// it is, without the copy and the search for a NUL that a `&Path` costs.
pub(crate) fn identity_at<N: Arg + Copy>(dir: impl AsFd, name: N) -> io::Result<Option<Identity>> {
    Ok(statx_at(dir, name, false)?.map(|(found, _)| found))
}

/// When a directory last changed, as far as a look at it tells: its link
/// count and its modification and change times. Any name created, removed
/// or renamed in it moves both times (and a subdirectory made or removed
/// moves the link count on most file systems), so an unchanged stamp means
/// unchanged entries, once the times can be trusted (see
/// [`Stamp::settled_before`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp {
    links: u64,
    modified: (i64, u32),
    changed: (i64, u32),
}

impl Stamp {
    /// How long before a look the last change must be for the look's stamp
    /// to be trusted: a change made after the look then gets a later time
    /// even from a clock that ticks only every few milliseconds (the
    /// kernel stamps changes from a coarse clock, a tick of 1 to 10 ms).
    pub(crate) const SETTLE: Duration = Duration::from_millis(100);

    /// True when the change time is at least [`Stamp::SETTLE`] before
    /// `look` (the wall-clock time of the look that made this stamp); a
    /// change time in the future is never settled.
    pub(crate) fn settled_before(&self, look: SystemTime) -> bool {
        let Ok(since_epoch) = look.duration_since(UNIX_EPOCH) else {
            return false;
        };
        let Some(settled) = since_epoch.checked_sub(Self::SETTLE) else {
            return false;
        };
        let settled = (
            i64::try_from(settled.as_secs()).unwrap_or(i64::MAX),
            settled.subsec_nanos(),
        );
        self.changed <= settled
    }
}

/// [`identity_at`], with the [`Stamp`] of what it finds when the file
/// system reports the times (`None` where it does not).
///
/// # Errors
///
/// As [`identity_at`].
pub(crate) fn identity_and_stamp_at<N: Arg + Copy>(
    dir: impl AsFd,
    name: N,
) -> io::Result<Option<(Identity, Option<Stamp>)>> {
    statx_at(dir, name, true)
}

/// `statx` of `name` in `dir` (no link followed) asking for its identity,
/// and with `times` its [`Stamp`] too (`None` where the file system does
/// not report the times); `fstatat` where `statx` is missing or does not
/// report the identity, which gives no stamp.
fn statx_at<N: Arg + Copy>(
    dir: impl AsFd,
    name: N,
    times: bool,
) -> io::Result<Option<(Identity, Option<Stamp>)>> {
    let identity = StatxFlags::TYPE | StatxFlags::NLINK | StatxFlags::INO;
    let stamp_fields = if times {
        StatxFlags::MTIME | StatxFlags::CTIME
    } else {
        StatxFlags::empty()
    };
    match rustix::fs::statx(
        &dir,
        name,
        AtFlags::SYMLINK_NOFOLLOW,
        identity | stamp_fields,
    ) {
        Ok(statx) if StatxFlags::from_bits_retain(statx.stx_mask).contains(identity) => {
            let stamp = (times
                && StatxFlags::from_bits_retain(statx.stx_mask).contains(stamp_fields))
            .then(|| Stamp {
                links: u64::from(statx.stx_nlink),
                modified: (statx.stx_mtime.tv_sec, statx.stx_mtime.tv_nsec),
                changed: (statx.stx_ctime.tv_sec, statx.stx_ctime.tv_nsec),
            });
            let found = Identity {
                dev: rustix::fs::makedev(statx.stx_dev_major, statx.stx_dev_minor),
                ino: statx.stx_ino,
                links: u64::from(statx.stx_nlink),
                found: Found::of(FileType::from_raw_mode(u32::from(statx.stx_mode))),
            };
            Ok(Some((found, stamp)))
        }
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        Ok(_) | Err(Errno::NOSYS | Errno::PERM | Errno::INVAL) => {
            Ok(stat_at(dir, name)?.map(|facts| (Identity::of(&facts), None)))
        }
        Err(e) => Err(e.into()),
    }
}

/// True on a local file system whose every change this kernel makes and
/// sees (and stamps with its own clock): an inotify watch hears every
/// change, and a directory's times move with every change of its entries.
/// False on a network or FUSE file system, and where it cannot be told.
#[cfg(target_os = "linux")]
pub(crate) fn is_local(dir: BorrowedFd<'_>) -> bool {
    const LOCAL: [u64; 8] = [
        0xEF53,      // ext2, ext3, ext4
        0x5846_5342, // XFS
        0x9123_683E, // Btrfs
        0x0102_1994, // tmpfs
        0xF2F5_2010, // F2FS
        0x2FC1_2FC2, // ZFS
        0xCA45_1A4E, // bcachefs
        0x8584_58F6, // ramfs
    ];
    rustix::fs::fstatfs(dir).is_ok_and(|stats| {
        #[allow(clippy::useless_conversion, clippy::unnecessary_cast)]
        let kind = stats.f_type as u64;
        LOCAL.contains(&kind)
    })
}

/// See the Linux version: elsewhere, never assumed.
#[cfg(not(target_os = "linux"))]
pub(crate) fn is_local(_dir: BorrowedFd<'_>) -> bool {
    false
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)` of `name` in `dir`; `None` if absent.
pub(crate) fn stat_at(dir: impl AsFd, name: impl Arg) -> io::Result<Option<Facts>> {
    match rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(Facts::of(&stat))),
        Err(Errno::NOENT | Errno::NOTDIR) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A regular file opened for reading, or why it was not.
#[derive(Debug)]
pub(crate) enum Opened {
    /// The file, with what `fstat` said about it.
    File(File, Facts),
    /// Nothing by that name.
    Missing,
    /// Something that is not a regular file (never opened for reading if
    /// it is a link; opened without blocking and closed if it is a FIFO).
    NotRegular(Found),
}

/// Opens `name` in `dir` for reading without following a link or blocking
/// on a FIFO, and checks on the descriptor that it is a regular file.
///
/// # Errors
///
/// The system call's error for anything but a missing file or a link.
pub(crate) fn open_regular(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<Opened> {
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(Errno::NOENT) => return Ok(Opened::Missing),
        Err(Errno::LOOP) => return Ok(Opened::NotRegular(Found::SymbolicLink)),
        Err(e @ (Errno::NXIO | Errno::NODEV | Errno::OPNOTSUPP)) => {
            return match stat_at(dir, Path::new(name))? {
                Some(facts) if facts.found != Found::RegularFile => {
                    Ok(Opened::NotRegular(facts.found))
                }
                Some(_) => Err(e.into()),
                None => Ok(Opened::Missing),
            };
        }
        Err(e) => return Err(e.into()),
    };
    let facts = facts_of(&fd)?;
    if facts.found == Found::RegularFile {
        Ok(Opened::File(File::from(fd), facts))
    } else {
        Ok(Opened::NotRegular(facts.found))
    }
}

/// Creates `name` in `dir` for writing, failing if anything (a link
/// included) already has that name.
///
/// # Errors
///
/// The system call's error; `AlreadyExists` if the name is taken.
pub(crate) fn create_new(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(dir, name, flags, Mode::from_bits_truncate(0o666))?;
    Ok(File::from(fd))
}

/// Calls `visit` with the name of every entry of `dir` but `.` and `..`,
/// reading the listing through the descriptor itself (which must be freshly
/// opened: the listing starts at its current position).
///
/// # Errors
///
/// The `io::Error` of reading the listing.
pub(crate) fn for_each_name(dir: BorrowedFd<'_>, mut visit: impl FnMut(&OsStr)) -> io::Result<()> {
    let mut keep = |name: &[u8]| {
        if name != b"." && name != b".." {
            visit(OsStr::from_bytes(name));
        }
    };
    #[cfg(target_os = "linux")]
    {
        let mut buffer = [std::mem::MaybeUninit::<u8>::uninit(); 8192];
        let mut listing = rustix::fs::RawDir::new(dir, &mut buffer);
        while let Some(entry) = listing.next() {
            keep(entry?.file_name().to_bytes());
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let mut listing = rustix::fs::Dir::read_from(dir)?;
        while let Some(entry) = listing.read() {
            keep(entry?.file_name().to_bytes());
        }
    }
    Ok(())
}

#[cfg(test)]
#[path = "no_follow_test.rs"]
mod tests;
