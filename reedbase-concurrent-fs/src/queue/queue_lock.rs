// SPDX-License-Identifier: Apache-2.0
//! The producers' lock on a queue directory, and the directory fsync.
//!
//! The lock is a blocking exclusive fs2 lock on `queue/.queue.lock`: flock
//! on Unix, `LockFileEx` on Windows. The section it guards (list the
//! directory, write one small file, rename it) is short, so a blocking lock
//! is cheaper than any polling, and it dies with its process, so a killed
//! producer never leaves the queue locked. It is released when the
//! [`QueueLock`] is dropped (closing the file releases the lock).

use std::fs::{File, OpenOptions};
use std::io;
use std::path::Path;

use crate::lock::flock;

/// Holds the producers' lock of one queue directory until dropped.
#[derive(Debug)]
pub(crate) struct QueueLock {
    _file: File,
}

impl QueueLock {
    /// Opens (creating it if needed) the lock file at `path` and waits for
    /// its exclusive lock.
    ///
    /// The file is first opened without `O_CREAT`, which the kernel resolves
    /// without taking the directory's lock, so that producers do not queue
    /// on the directory just to open a file that exists.
    ///
    /// # Errors
    ///
    /// The `io::Error` of opening or locking; the caller names the operation.
    pub(crate) fn acquire(path: &Path) -> io::Result<QueueLock> {
        let mut options = OpenOptions::new();
        options.read(true).write(true);
        let file = match options.open(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                options.create(true).truncate(false).open(path)?
            }
            opened => opened?,
        };
        // Every fs2 call of the crate is in `lock::flock`.
        flock::lock_exclusive(&file)?;
        Ok(QueueLock { _file: file })
    }
}

/// Makes a directory's entries (a rename, a new file) durable.
///
/// # Errors
///
/// The `io::Error` of opening or syncing the directory.
#[cfg(unix)]
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// Makes a directory's entries durable: a no-op where directories cannot be
/// opened as files (Windows commits a rename with the file system's own
/// journal).
#[cfg(not(unix))]
pub(crate) fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
