// SPDX-License-Identifier: Apache-2.0
//! Every call into `fs2`, and nothing else.
//!
//! Since Rust 1.89, std has inherent `File::unlock`, `File::lock_shared` and
//! `File::try_lock_shared` that shadow `fs2::FileExt`'s methods of the same
//! names (and std's `try_lock_shared` has another error type), so fs2 is
//! always called here as `fs2::FileExt::method(&file)`. Moving to std's own
//! `File::lock` family later touches this file only.
//!
//! On Unix fs2 uses `flock(2)`: the lock belongs to the open file
//! description, so two descriptors opened separately on the same file
//! exclude each other even inside one process, and the kernel drops the lock
//! when the last descriptor of that description is closed, including when
//! its process dies. On Windows fs2 uses `LockFileEx`.

use std::fs::File;
use std::io;

/// The outcome of a non-blocking lock attempt that did not fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TryLock {
    /// The lock is ours.
    Acquired,
    /// Another open file description holds a conflicting lock.
    Contended,
}

/// Tries to take the exclusive lock on `file` without blocking.
///
/// Contention is [`TryLock::Contended`]; any other failure is returned as
/// the `io::Error`, so that the caller never mistakes it for a held lock.
pub(crate) fn try_lock_exclusive(file: &File) -> io::Result<TryLock> {
    classify(fs2::FileExt::try_lock_exclusive(file))
}

/// Takes the exclusive lock on `file`, waiting as long as it takes (retried
/// when a signal interrupts the wait).
///
/// For short critical sections only, such as the queue's producers' lock:
/// the wait cannot time out.
pub(crate) fn lock_exclusive(file: &File) -> io::Result<()> {
    loop {
        match fs2::FileExt::lock_exclusive(file) {
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// Tries to take a shared lock on `file` without blocking.
///
/// Used to probe whether an exclusive holder exists: two probes never
/// conflict with each other, only with a writer's exclusive lock.
pub(crate) fn try_lock_shared(file: &File) -> io::Result<TryLock> {
    classify(fs2::FileExt::try_lock_shared(file))
}

/// Releases whatever lock `file` holds.
///
/// Closing the descriptor would also release a `flock`, but only once every
/// duplicate of it is closed: a child forked by another thread keeps a copy
/// until it calls `exec`. An explicit unlock releases at once regardless.
pub(crate) fn unlock(file: &File) -> io::Result<()> {
    fs2::FileExt::unlock(file)
}

/// Whether `error` is the error fs2 reports for a lock held elsewhere.
pub(crate) fn is_contended(error: &io::Error) -> bool {
    let contended = fs2::lock_contended_error();
    match (error.raw_os_error(), contended.raw_os_error()) {
        (Some(code), Some(expected)) => code == expected,
        _ => error.kind() == contended.kind(),
    }
}

fn classify(result: io::Result<()>) -> io::Result<TryLock> {
    match result {
        Ok(()) => Ok(TryLock::Acquired),
        Err(error) if is_contended(&error) => Ok(TryLock::Contended),
        Err(error) => Err(error),
    }
}
