// SPDX-License-Identifier: Apache-2.0
//! Opening a table's lock file.

use std::fs::{self, File, OpenOptions};
use std::io;

use reedbase_concurrent_core::{ReedError, ReedResult};

use crate::paths::TablePaths;

/// Opens the lock file for locking, creating it (and the table directory)
/// if it does not exist yet.
///
/// The file is opened first and the directories are created only when that
/// fails with `NotFound`, so the common case (a table locked before) costs a
/// single `open` instead of the old module's `mkdir`, `stat` and `open`.
/// The file is opened write-only, without truncation, as the old module
/// opens it.
///
/// # Errors
///
/// `IoError` `create_lock_dir` or `open_lock_file` with the path and the
/// error kind, e.g. `NotADirectory` when the base path is a regular file.
pub(crate) fn open_for_locking(paths: &TablePaths) -> ReedResult<File> {
    let open = || {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&paths.lock_file)
    };
    match open() {
        Ok(file) => Ok(file),
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            fs::create_dir_all(&paths.table_dir)
                .map_err(|error| ReedError::io("create_lock_dir", &paths.table_dir, &error))?;
            open().map_err(|error| ReedError::io("open_lock_file", &paths.lock_file, &error))
        }
        Err(error) => Err(ReedError::io("open_lock_file", &paths.lock_file, &error)),
    }
}

/// Opens an existing lock file read-only, never creating anything.
///
/// Returns `Ok(None)` when the lock file or a directory above it does not
/// exist: a table that was never locked.
///
/// # Errors
///
/// `IoError` `open_lock_file` for any other failure (permission denied, a
/// base path that is a regular file, ...).
pub(crate) fn open_existing(paths: &TablePaths) -> ReedResult<Option<File>> {
    match File::open(&paths.lock_file) {
        Ok(file) => Ok(Some(file)),
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(error) => Err(ReedError::io("open_lock_file", &paths.lock_file, &error)),
    }
}
