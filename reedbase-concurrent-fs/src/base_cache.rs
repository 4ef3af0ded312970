// SPDX-License-Identifier: Apache-2.0
//! The base directories the free functions keep open, by path, so that a
//! loop of free calls pays for opening and checking a table's files once,
//! as calls through one [`FsBackend`](crate::FsBackend) do.
//!
//! Each base follows its path (see `BaseDir::following`): a kept table
//! descriptor is used only while `<path>/tables/<table>` still leads to it
//! (the path followed as the old module followed it, the table's own
//! directory not), and a call that opens through the base first checks
//! that the path still leads to the directory opened. A base directory
//! deleted, replaced or renamed between calls is opened afresh, as the old
//! module would have resolved its path. At most [`KEPT_BASES`] are kept,
//! least recently used first out; [`close_idle`] closes one.

use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};

use crate::tables_dir::BaseDir;

/// How many base directories the free functions keep open.
const KEPT_BASES: usize = 4;

/// The kept base directories, least recently used first.
static BASES: Mutex<Vec<Arc<BaseDir>>> = Mutex::new(Vec::new());

/// The base directory at `path` for a free function: the kept one unless
/// a call found that the path leads elsewhere now, else a new one (kept
/// from now on). No system call: what is used through it is checked
/// against the path when it is used.
pub(crate) fn base_at(path: &Path) -> Arc<BaseDir> {
    let found = {
        let bases = BASES.lock().unwrap_or_else(PoisonError::into_inner);
        bases.iter().rev().find(|base| base.path() == path).cloned()
    };
    if let Some(base) = found
        && !base.is_stale()
    {
        return base;
    }
    let base = Arc::new(BaseDir::following(path.to_path_buf()));
    let mut bases = BASES.lock().unwrap_or_else(PoisonError::into_inner);
    bases.retain(|kept| kept.path() != path);
    if bases.len() >= KEPT_BASES {
        bases.remove(0);
    }
    bases.push(Arc::clone(&base));
    base
}

/// Closes the descriptors the free functions keep for the base directory
/// at `base_path`: the idle lock files and table directories, and the base
/// directory itself. A call in progress or a held lock keeps its own until
/// it ends; the next call opens them again. Like
/// [`FsBackend::close_idle`](crate::FsBackend::close_idle), it also waits
/// (up to a second) until queue entries removed by lock holders of this
/// process are freed.
///
/// A kept descriptor keeps its file system busy: call this (or
/// [`FsBackend::close_idle`](crate::FsBackend::close_idle) for a backend)
/// before remounting it read-only or unmounting it.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::{acquire_lock, close_idle, is_locked};
///
/// let dir = tempfile::tempdir()?;
/// drop(acquire_lock(dir.path(), "users", Duration::from_secs(1))?);
/// close_idle(dir.path());
/// assert!(!is_locked(dir.path(), "users")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn close_idle(base_path: &Path) {
    let closed: Vec<Arc<BaseDir>> = {
        let mut bases = BASES.lock().unwrap_or_else(PoisonError::into_inner);
        let (closed, kept) = std::mem::take(&mut *bases)
            .into_iter()
            .partition(|base| base.path() == base_path);
        *bases = kept;
        closed
    };
    for base in closed {
        base.kept().close_idle();
    }
    // The free functions keep no read descriptors (see `late_free`).
    crate::queue::wait_for_freeing(None);
}

#[cfg(test)]
#[path = "base_cache_test.rs"]
mod tests;
