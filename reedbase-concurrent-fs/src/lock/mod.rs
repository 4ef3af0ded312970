// SPDX-License-Identifier: Apache-2.0
//! Table locks: an exclusive advisory lock per table, across threads and
//! processes, on `<base>/tables/<table>/write.lock` and the table directory.
//!
//! `write.lock` is the file the old module locks, with the same `fs2`
//! exclusive lock, so a process using the old module and one using this
//! crate exclude each other on the same base directory.
//!
//! # Cross-process semantics
//!
//! On Unix `fs2` takes a `flock(2)` lock, which belongs to an *open file
//! description*. Every [`acquire_lock`] opens its files afresh, so two
//! acquires exclude each other whether they come from two processes or two
//! threads of one process, and the lock is not reentrant. The kernel drops
//! the lock when the holder's descriptors are closed, which happens when its
//! process exits or is killed (SIGKILL included): there are no stale locks
//! and nothing to break by hand. The lock file is never deleted by this
//! crate.
//!
//! A table's lock is two `flock`s, taken in this order on descriptors opened
//! for the acquisition: `write.lock`, then the table directory itself. Then
//! the acquisition checks that the locked file is still the only name
//! `write.lock` in the locked directory, and that directory still the one at
//! `<base>/tables/<table>` (device and inode, two `fstatat` calls); if not,
//! it drops both and starts again. So:
//!
//! - `write.lock` deleted or renamed while it is held gives no second
//!   holder: the next acquirer locks the new `write.lock` but meets the
//!   directory's lock. An old-module process, which locks only
//!   `write.lock`, would get in, so the holder's
//!   [`is_held`](reedbase_concurrent_core::LockGuard::is_held) turns false
//!   and the coordinator stops with `LockLost`; [`is_locked`] still sees the
//!   holder through the directory.
//! - The table directory renamed or replaced while the lock is held is
//!   detected, not prevented: a new acquirer locks the new directory;
//!   `is_held` of the old holder turns false.
//! - `write.lock` as a symbolic link, a hard link to another file, a FIFO,
//!   a socket or a directory is refused at once with an `IoError` naming
//!   the path and what was found: it is opened with `O_NOFOLLOW |
//!   O_NONBLOCK` and checked with `fstat` (regular, one name) before it is
//!   locked or written to.
//!
//! Only contention is retried. Any other failure (a base path that is a
//! regular file, an unwritable directory, a refused lock file) is returned
//! at once as [`ReedError::IoError`] naming the operation, the path and the
//! [`std::io::ErrorKind`]; it is never reported as a
//! [`ReedError::LockTimeout`].
//!
//! # How a waiter waits
//!
//! A waiter polls with non-blocking `flock` attempts and sleeps between
//! them, the pause doubling from 20 us to a cap of 1 ms. A release is
//! noticed at most about 1 ms (plus the timer slack and the scheduler's
//! wake-up delay) after it happens, half that on average; a short wait
//! polls faster, and a long one costs one wake-up and a few system calls
//! per millisecond.
//!
//! The cap was chosen by measurement, on a 2-core virtual machine (ext4),
//! between two processes, the waiter waiting 20-40 ms before each release
//! (41 trials per run), and with a waiter kept waiting 1 s; the hand-off and
//! waiter measurements now live in `cargo xtask bench`:
//!
//! | cap | hand-off median | hand-off p90 | waiter CPU |
//! | --- | --- | --- | --- |
//! | 250 us | 0.11-0.14 ms | 0.32-0.36 ms | 5.3-7.1% |
//! | 500 us | 0.22-0.37 ms | 0.49-0.55 ms | 3.2-4.6% |
//! | 750 us | 0.34-0.50 ms | 0.74-0.83 ms | 2.6-3.8% |
//! | 1 ms (chosen) | 0.33-0.62 ms | 0.87-1.09 ms | 1.6-2.5% |
//!
//! A wake-up cost 15-25 us of CPU there (the `flock` call itself under
//! 1 us), so the waiting cost is set by the number of wake-ups. The old
//! module slept 100 ms between attempts (hand-off median about 50 ms).
//!
//! Rejected alternatives:
//! - a blocking `flock` in a helper thread: `flock` has no timeout, and
//!   without signals a blocked call cannot be cancelled, so every timed-out
//!   acquire would leave a thread blocked in the kernel that later takes the
//!   lock (only to drop it) and piles up under repeated timeouts;
//! - interrupting a blocking `flock` with a signal (`SIGALRM`): signal
//!   handlers need `unsafe` code, which this workspace forbids, and a
//!   process-wide signal is no business of a library;
//! - a fixed short poll: a 100 us poll notices releases a little sooner but
//!   costs 8% of a core while waiting; the back-off keeps short waits short
//!   and long waits cheap.
//!
//! There is no fairness: a waiter may be overtaken by a later one, or by
//! the releasing process taking the lock again.
//!
//! [`is_locked`] and [`wait_for_unlock`] probe both `flock`s with *shared*
//! locks, which conflict only with a writer's exclusive lock: probes never
//! see each other as holders. A probe holds its shared lock for two system
//! calls; an acquire attempt that meets it simply tries again after its
//! next pause.
//!
//! # Holder diagnostics
//!
//! Right after acquiring, the holder writes one fixed-size line into the
//! lock file at offset 0 with a single `pwrite` (its pid, start time, host
//! name and the acquisition time), and blanks it right before releasing:
//!
//! ```text
//! reedbase-lock-holder v1 pid=4242 start=123456 host=db-1 acquired_ns=1767225600000000000 sum=118c513d6cdca4bc
//! ```
//!
//! [`lock_holder`] (and [`FsBackend::lock_holder`](crate::FsBackend::lock_holder))
//! reads it. The `flock` is the truth, the record only a label on it: a free
//! lock has no holder whatever the file says (a killed holder's record stays
//! behind), and a record naming a process of this host that is gone is not
//! believed. The record is written only into the file just locked, which
//! was checked to be a regular file with one name, never through a link.
//! Old-module processes open the lock file with create+write, never
//! truncate or read it, and write no record, so the record is harmless to
//! them and their locks show as held by an unknown holder.
//!
//! # What an acquisition costs
//!
//! Uncontended, with an [`FsBackend`](crate::FsBackend) (which keeps the
//! base directory open), an acquire and release is 14 system calls: open
//! the table directory (`openat2`) and `write.lock` (`openat`), `fstat`
//! it, two `flock`s, two `fstatat` checks and the record's `pwrite`; then
//! the blanking `pwrite`, two unlocking `flock`s and two `close`s. The old
//! module made 6 (`mkdir`, `statx`, `open`, `flock`, `flock`, `close`); the
//! difference buys the checks above.
//!
//! # Network file systems
//!
//! On NFS, Linux emulates `flock` with POSIX byte-range locks through the
//! NFS lock manager: exclusion across clients then depends on the lock
//! manager running (a `nolock` mount makes locks local to one client), and a
//! lock can be lost when the server restarts or a client is cut off, after
//! which two writers may both believe they hold it. A directory cannot be
//! locked there (the emulation needs a descriptor open for writing): the
//! table lock then consists of `write.lock` alone, and a `write.lock`
//! deleted while held is detected by `is_held` but no longer kept from a
//! second holder. The pid in a record from another host cannot be checked,
//! and is reported as written. Keep a base directory that several machines
//! share on a file system with dependable locks, or give each machine its
//! own.
//!
//! [`ReedError::IoError`]: reedbase_concurrent_core::ReedError::IoError
//! [`ReedError::LockTimeout`]: reedbase_concurrent_core::ReedError::LockTimeout

pub(crate) mod flock;
mod holder;
mod notify;
pub(crate) mod table_lock;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use reedbase_concurrent_core::ReedResult;

pub use reedbase_concurrent_core::LockHolder;
pub use table_lock::TableLock;

use crate::tables_dir::BaseDir;

/// Takes the exclusive write lock of `table_name`, waiting at most
/// `timeout` for another holder (thread or process) to release it.
///
/// Creates `<base>/tables/<table>/write.lock` (and its directories) if it
/// does not exist. While the lock is held elsewhere, tries again after
/// pauses that grow from 20 us to 1 ms, so a release is noticed within
/// about a millisecond (see [how a waiter waits](self#how-a-waiter-waits)); one last attempt is
/// made at the deadline, and a zero timeout means one attempt. The lock is
/// not reentrant: a second acquire of the same table in the same process
/// waits for the first guard like any other holder.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName) for a bad name, before anything is
///   touched;
/// - [`ReedError::LockTimeout`](crate::ReedError::LockTimeout) with the real `Duration` waited, and the
///   holder when its record can be read, when the lock is still held after
///   `timeout`;
/// - [`ReedError::IoError`](crate::ReedError::IoError) `create_lock_dir`, `open_lock_file`,
///   `lock_file` or `lock_table_dir`, at once, naming the path and the error
///   kind, for any failure that is not contention: a base path that is a
///   regular file, an unwritable directory, and a symbolic link, hard link,
///   FIFO, socket or directory where a directory or the lock file is
///   expected (see the crate's [threat model](crate#threat-model)). It is
///   never retried nor reported as a timeout.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::acquire_lock;
///
/// let dir = tempfile::tempdir()?;
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// let err = acquire_lock(dir.path(), "users", Duration::from_millis(20)).unwrap_err();
/// assert!(err.is_lock_timeout());
/// drop(guard);
/// let _again = acquire_lock(dir.path(), "users", Duration::ZERO)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn acquire_lock(
    base_path: &Path,
    table_name: &str,
    timeout: Duration,
) -> ReedResult<TableLock> {
    table_lock::acquire(
        Arc::new(BaseDir::new(base_path.to_path_buf())),
        table_name,
        timeout,
    )
}

/// Takes the exclusive write lock of `table_name` if it is free, never
/// waiting; `Ok(None)` when another holder has it.
///
/// Creates the lock file as [`acquire_lock`] does.
///
/// # Errors
///
/// As [`acquire_lock`], without the timeout.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_fs::lock::try_acquire_lock;
///
/// let dir = tempfile::tempdir()?;
/// let guard = try_acquire_lock(dir.path(), "users")?.expect("free");
/// assert!(try_acquire_lock(dir.path(), "users")?.is_none());
/// drop(guard);
/// assert!(try_acquire_lock(dir.path(), "users")?.is_some());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn try_acquire_lock(base_path: &Path, table_name: &str) -> ReedResult<Option<TableLock>> {
    table_lock::try_acquire(Arc::new(BaseDir::new(base_path.to_path_buf())), table_name)
}

/// Tells whether some holder, in this or another process, has the lock of
/// `table_name` at this instant.
///
/// Probes `write.lock` and the table directory with *shared* `flock`s,
/// released at once: they conflict only with a writer's exclusive lock, so
/// two probes never see each other as holders, and a holder whose
/// `write.lock` was deleted while held is still seen through the directory.
/// The answer may be stale by the time it is read; use it for diagnostics,
/// not to decide to write. Never creates anything: a missing table
/// directory or lock file means "not locked".
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName) for a bad name, before anything is
///   touched;
/// - [`ReedError::IoError`](crate::ReedError::IoError) `open_lock_file` when a path on the way is not
///   a directory (a base path that is a regular file) or cannot be opened,
///   or the lock file is a link, FIFO, socket or directory (the old module
///   answered `false` here; an error tells the caller nothing is known);
/// - [`ReedError::IoError`](crate::ReedError::IoError) `lock_file` or `lock_table_dir` when a probe
///   fails other than by contention.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::{acquire_lock, is_locked};
///
/// let dir = tempfile::tempdir()?;
/// assert!(!is_locked(dir.path(), "users")?);
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// assert!(is_locked(dir.path(), "users")?);
/// drop(guard);
/// assert!(!is_locked(dir.path(), "users")?);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn is_locked(base_path: &Path, table_name: &str) -> ReedResult<bool> {
    table_lock::is_locked(&BaseDir::new(base_path.to_path_buf()), table_name)
}

/// Waits until the lock of `table_name` is free, without taking it, for at
/// most `timeout`.
///
/// Returns at once when the lock is free (or the table was never locked).
/// Otherwise it probes as [`is_locked`] does, through descriptors opened
/// once, with the same back-off as [`acquire_lock`]. The lock may be taken
/// again by someone else before the caller acts.
///
/// # Errors
///
/// - [`ReedError::LockTimeout`](crate::ReedError::LockTimeout) carrying the time really waited (and the
///   holder, when known) when the lock is still held after `timeout`;
/// - the errors of [`is_locked`], at once.
///
/// # Examples
///
/// ```
/// use std::thread;
/// use std::time::Duration;
/// use reedbase_concurrent_fs::{acquire_lock, wait_for_unlock};
///
/// let dir = tempfile::tempdir()?;
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// let err = wait_for_unlock(dir.path(), "users", Duration::from_millis(50)).unwrap_err();
/// assert!(err.is_lock_timeout());
/// let releaser = thread::spawn(move || {
///     thread::sleep(Duration::from_millis(50));
///     drop(guard);
/// });
/// wait_for_unlock(dir.path(), "users", Duration::from_secs(5))?;
/// releaser.join().expect("releaser");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn wait_for_unlock(base_path: &Path, table_name: &str, timeout: Duration) -> ReedResult<()> {
    table_lock::wait_for_unlock(&BaseDir::new(base_path.to_path_buf()), table_name, timeout)
}

/// Who holds the lock of `table_name`, or `None` if nobody does.
///
/// The `flock` decides: if the lock is free, the answer is `None` whatever
/// the lock file says (a killed holder's record stays behind). If it is
/// held, the record in the lock file names the holder, unless the record is
/// missing, blank or unreadable, names a process on this host that is
/// certainly gone (no such pid, or a pid reused by a process that started
/// later), or the holder's `write.lock` was deleted while held: then every
/// field of the [`LockHolder`] is `None`. A record from another host cannot
/// be checked and is taken at its word. A snapshot for an operator, it may
/// be stale by the time it is read. Never creates anything.
///
/// # Errors
///
/// As [`is_locked`], and `IoError` `read_lock_file`.
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
    table_lock::lock_holder(&BaseDir::new(base_path.to_path_buf()), table_name)
}
