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
//! A waiter sleeps until the holder releases: after a failed first attempt
//! it watches the table directory with inotify (through the descriptor it
//! holds open, `/proc/self/fd/<n>`, so no path below the base directory is
//! looked up), tries again, and then sleeps in `poll(2)` on the inotify
//! descriptor until an event on `write.lock` or the directory itself, its
//! deadline, or a fallback interval of 50 ms passes; then it tries again
//! (the events it wakes on are listed in `src/lock/notify.rs`). A release
//! is noticed:
//!
//! - by this crate's guard, and by an old-module guard: at once. Both unlock
//!   explicitly and then close `write.lock`, and the close is the event
//!   (Linux emits it before removing the `flock`s of a plain close, so the
//!   explicit unlock before the close matters);
//! - by a process that dies holding the lock, of either module: its close
//!   comes a few microseconds before the kernel drops its lock; a waiter
//!   whose attempt after a close event fails tries again after 50, 100, 200
//!   and 400 us, and otherwise within the fallback interval (50 ms);
//! - where no event comes (a holder on another NFS client, a holder whose
//!   `write.lock` was deleted while held, a file system without inotify
//!   events) or no watch can be made (no inotify, too many instances or
//!   watches, no `/proc`): within 50 ms, respectively with the old back-off
//!   poll (pauses doubling from 20 us to 1 ms, so about 1 ms).
//!
//! Timeouts are honoured as before: the sleep never reaches past the
//! deadline, and one last attempt is made there. A waiter keeps its
//! descriptors open across attempts, so waiters never wake each other;
//! events on other names (`table.csv`, the queue directory) are read and
//! ignored. Up to 4 idle inotify instances are kept per process between
//! waits: closing one costs an SRCU grace period in the kernel (3-15 ms
//! measured here), which would otherwise sit between taking the lock and
//! returning it; more are not kept, as instances count against a per-user
//! limit (128 by default) shared with other programs.
//!
//! Measured with `cargo xtask bench --only handoff` (release build; 40
//! hand-offs between two processes, the waiter waiting 20-120 ms first; the
//! CPU of a waiter kept waiting 1 s, 3 trials), on the 2-core virtual
//! machine (ext4) while another build was running on it, so the blocking
//! `flock` floor of the same run is shown beside each:
//!
//! | waiter | hand-off median | hand-off p90 | waiter CPU | `flock` floor median / p90 |
//! | --- | --- | --- | --- | --- |
//! | back-off poll, 1 ms cap (before) | 0.97 ms | 1.28 ms | 2.05% | 0.099 / 0.76 ms |
//! | watch, 25 ms fallback, instance closed per wait | 13.07 ms | 17.14 ms | 0.29% | 0.14 / 0.90 ms |
//! | watch, 25 ms fallback, instance kept | 1.04 ms | 1.26 ms | 0.31% | 0.96 / 1.23 ms |
//! | watch, 50 ms fallback, instance kept (chosen), 4 runs | 0.26-0.58 ms | 1.11-1.30 ms | 0.15-0.19% | 0.056-0.77 / 0.64-1.19 ms |
//!
//! The second row is the closing of the inotify instance (the waiter wakes
//! at once, then spends 3-15 ms in `close`); the third and fourth differ
//! mostly in the machine's load, as the floor shows: the p90 is at the
//! floor's (ratio 0.9), the median within 0.2-0.25 ms of it. A hand-off
//! takes, beyond the floor's wake-up, the holder's blanking `pwrite`, two
//! unlocks and a close, and the waiter's `read` of the events, two `flock`s,
//! two `fstatat` checks and its record's `pwrite`. With a 25 ms fallback the
//! waiter's CPU was at the 0.3% target (a wake-up costs a `ppoll` and a
//! `flock`, 25-70 us of CPU under that load); 50 ms halves it. The old
//! module sleeps 100 ms between attempts (hand-off median about 50 ms).
//!
//! Rejected alternatives:
//! - the back-off poll alone (the previous design): a 1 ms cap costs 2% of
//!   a core per waiter and still notices a release 0.3-1 ms late; a shorter
//!   cap costs more (250 us: 5-7% of a core, 0.11-0.14 ms median);
//! - watching `write.lock` itself instead of the directory: a waiter whose
//!   `write.lock` was replaced would not hear the holder of the new one;
//! - a blocking `flock` in a helper thread: `flock` has no timeout, and
//!   without signals a blocked call cannot be cancelled, so every timed-out
//!   acquire would leave a thread blocked in the kernel that later takes the
//!   lock (only to drop it) and piles up under repeated timeouts;
//! - interrupting a blocking `flock` with a signal (`SIGALRM`): signal
//!   handlers need `unsafe` code, which this workspace forbids, and a
//!   process-wide signal is no business of a library.
//!
//! There is no fairness: a waiter may be overtaken by a later one, or by
//! the releasing process taking the lock again.
//!
//! [`is_locked`] and [`wait_for_unlock`] probe both `flock`s with *shared*
//! locks, which conflict only with a writer's exclusive lock: probes never
//! see each other as holders. A probe holds its shared lock for two system
//! calls; an acquire attempt that meets it tries again after 50-400 us (a
//! probe's close of `write.lock` wakes it too).
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
//! difference buys the checks above. A waiter's inotify watch is made only
//! after a failed first attempt, so it costs the uncontended path nothing.
//!
//! The bare cost of each call, on the 2-core virtual machine under another
//! build's load (medians of 7 x 20,000 calls in a loop, from a throwaway
//! Rust program on `rustix`), beside what it buys:
//!
//! | calls | bare cost | buys |
//! | --- | --- | --- |
//! | `openat2` + `close` of the table directory | 4.4-4.8 us | no link followed, and the directory's `flock` |
//! | (the old module's plain `open` + `close` of it, for comparison) | 4.4-5.2 us | - |
//! | `openat` + `close` of `write.lock` | 3.9-4.2 us | both modules need it |
//! | `fstat` of `write.lock` | 0.5 us | a regular file with one name |
//! | `flock` + unlock of the directory | 1.2 us | no second holder when `write.lock` is deleted |
//! | `fstatat` in the directory, `fstatat` from the base | 1.4 us + 1.7 us | the locked file is still in place |
//! | two 256-byte `pwrite`s | 2 x 1.1 us | the holder record (`lock_holder`) |
//! | (the old module's `mkdir` of an existing directory) | 2.0 us | - |
//!
//! `is_locked` of a table never locked is one `openat2` that fails (1.4-1.8
//! us bare; the old module's `open` of the absolute path that fails: 2.1-2.3
//! us); what it costs beyond is building the table's paths.
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
/// does not exist. While the lock is held elsewhere, sleeps on an inotify
/// watch of the table directory and tries again when the holder releases
/// (or at the latest every 50 ms, and with a back-off poll where inotify is
/// unavailable; see [how a waiter waits](self#how-a-waiter-waits)); one last attempt is
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
/// once, waking as [`acquire_lock`] does. The lock may be taken
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
