// SPDX-License-Identifier: Apache-2.0
//! Holder diagnostics: who holds a table's lock.
//!
//! A holder writes its [`record`] into the lock file right
//! after acquiring and blanks it right before releasing. The `flock` is the
//! truth, the record only a label on it: see [`lock_holder`].

use std::fs::File;
use std::path::Path;
use std::time::SystemTime;

use reedbase_concurrent_core::{LockHolder, ReedError, ReedResult};

use super::identity;
use super::open::open_existing;
use super::probe::probe_held;
use super::record::{self, CLEARED_RECORD, HolderRecord, RECORD_LEN};
use crate::backend::FsBackend;
use crate::paths::TablePaths;

fn holder_from(record: HolderRecord) -> LockHolder {
    LockHolder::new(
        Some(record.pid),
        Some(record.host),
        Some(record.acquired_at),
    )
}

/// Who holds the lock of `table_name`, or `None` if nobody does.
///
/// The `flock` decides: if the lock is free, the answer is `None` whatever
/// the lock file says (a killed holder's record stays behind). If it is
/// held, the record in the lock file names the holder, unless the record is
/// missing, blank or unreadable, or names a process on this host that is
/// certainly gone (no such pid, or a pid reused by a process that started
/// later): then every field of the [`LockHolder`] is `None`. A record from
/// another host cannot be checked and is taken at its word.
///
/// The answer is a snapshot for an operator; it may be stale by the time it
/// is read, and in the instant between a holder taking the lock and writing
/// its record the previous holder's record (or none) is seen.
///
/// Never creates a file or a directory.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`] for
///   a bad name, before anything is touched;
/// - [`ReedError::IoError`] `open_lock_file`,
///   `lock_file` or `read_lock_file` for a failure other than a missing
///   lock file (which means "not held").
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::lock::{acquire_lock, lock_holder};
///
/// let dir = tempfile::tempdir()?;
/// assert_eq!(lock_holder(dir.path(), "users")?, None);
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// let holder = lock_holder(dir.path(), "users")?.expect("held");
/// assert_eq!(holder.pid, Some(std::process::id()));
/// drop(guard);
/// assert_eq!(lock_holder(dir.path(), "users")?, None);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn lock_holder(base_path: &Path, table_name: &str) -> ReedResult<Option<LockHolder>> {
    let paths = TablePaths::new(base_path, table_name)?;
    let Some(file) = open_existing(&paths)? else {
        return Ok(None);
    };
    // Probe first, then read: a record read after seeing the lock held is
    // the current holder's or a later one's, never an earlier one's.
    if !probe_held(&file, &paths.lock_file)? {
        return Ok(None);
    }
    let bytes = read_record(&file)
        .map_err(|error| ReedError::io("read_lock_file", &paths.lock_file, &error))?;
    let holder = match record::parse_record(&bytes) {
        Some(record)
            if !identity::is_certainly_gone(record.pid, record.start_ticks, &record.host) =>
        {
            holder_from(record)
        }
        _ => LockHolder::unknown(),
    };
    Ok(Some(holder))
}

impl FsBackend {
    /// Who holds the lock of `table_name` under this backend's base
    /// directory; see [`lock_holder`].
    ///
    /// # Errors
    ///
    /// As [`lock_holder`].
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use reedbase_concurrent_core::LockBackend;
    /// use reedbase_concurrent_fs::FsBackend;
    ///
    /// let dir = tempfile::tempdir()?;
    /// let backend = FsBackend::new(dir.path());
    /// let _guard = backend.acquire_lock("users", Duration::from_secs(1))?;
    /// let holder = backend.lock_holder("users")?.expect("held");
    /// assert_eq!(holder.pid, Some(std::process::id()));
    /// assert!(holder.acquired_at.is_some());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        lock_holder(self.base_path(), table_name)
    }
}

/// Writes this process's record into a lock file it has just locked.
///
/// Best effort: the lock is held whether or not the record could be
/// written, and a holder without a record is reported with unknown fields.
pub(crate) fn write_own_record(file: &File) {
    write_record(file, &record::own_record(SystemTime::now()));
}

/// Blanks the record of a lock file about to be released (best effort).
pub(crate) fn clear_record(file: &File) {
    write_record(file, &CLEARED_RECORD);
}

#[cfg(unix)]
fn write_record(file: &File, bytes: &[u8; RECORD_LEN]) {
    use std::os::unix::fs::FileExt as _;
    // One pwrite at offset 0; a failure only costs the diagnostics.
    let _ = file.write_all_at(bytes, 0);
}

/// Windows locks are mandatory byte-range locks that keep other handles
/// from reading the file, so no record is written there.
#[cfg(not(unix))]
fn write_record(_file: &File, _bytes: &[u8; RECORD_LEN]) {}

#[cfg(unix)]
fn read_record(file: &File) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt as _;
    let mut buffer = vec![0; RECORD_LEN];
    let mut filled = 0;
    while filled < RECORD_LEN {
        match file.read_at(&mut buffer[filled..], filled as u64)? {
            0 => break,
            read => filled += read,
        }
    }
    buffer.truncate(filled);
    Ok(buffer)
}

#[cfg(not(unix))]
fn read_record(_file: &File) -> std::io::Result<Vec<u8>> {
    Ok(Vec::new())
}
