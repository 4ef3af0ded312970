// SPDX-License-Identifier: Apache-2.0
//! Table locks: an exclusive advisory lock per table, across threads and
//! processes of one host, on `<base>/tables/<table>/write.lock` and the
//! table directory.
//!
//! # Contract
//!
//! - **Exclusive, not reentrant.** At most one `TableLock` of a table
//!   exists at a time among all threads and processes of this crate; a
//!   second acquire in the same process waits like any other. The lock is
//!   a `flock(2)` (through `fs2`) on `write.lock`, the file the old module
//!   locks, so old-module processes and this crate exclude each other.
//! - **Dies with its holder.** The kernel drops a `flock` when its holder's
//!   descriptors close, including on SIGKILL: there are no stale locks.
//!   The lock file is never deleted.
//! - **Bounded waits.** `acquire_lock` and `wait_for_unlock` return within
//!   their timeout plus a scheduler wake-up; a zero timeout is one attempt
//!   (none while this process knows of a turn claimed before it, see
//!   [Taking turns](#taking-turns)). Only contention is retried: any other
//!   failure is an `IoError` at once, never a `LockTimeout`.
//! - **Turns.** A waiter that has waited 3 ms claims a turn; while its claim
//!   stands, every other acquirer takes the lock at most once before it
//!   (see [Taking turns](#taking-turns) for the exact bound).
//! - **Probes never take the lock.** `is_locked`, `wait_for_unlock` and
//!   `lock_holder` probe with shared locks, which conflict only with a
//!   holder, never with each other, and create nothing.
//!
//! # Invariants
//!
//! - A holder has `flock`ed both `write.lock` and the table directory (the
//!   directory alone where the file system cannot lock one, NFS), and,
//!   after taking them, has checked that the locked file is the only name
//!   `write.lock` in the locked directory and that directory the one at
//!   `<base>/tables/<table>`. So `write.lock` deleted or replaced while
//!   held gives no second holder of this crate, and a renamed table
//!   directory is detected by the
//!   guard's `is_held`.
//! - `write.lock` is opened with `O_NOFOLLOW | O_NONBLOCK` relative to the
//!   table directory's descriptor and must be a regular file with one name:
//!   a link, FIFO, socket or directory there is refused, never written
//!   through or waited on.
//! - The two descriptors are opened and checked once per process and
//!   table, then kept (idle, never shared between two acquisitions) for the
//!   next acquisition or probe, which checks with two `statx` calls that
//!   they are still the table's (asking for identity only, never times: a
//!   read of `write.lock`'s times would make the holder record's next
//!   `pwrite` update its inode, see `no_follow::identity_at`);
//!   `<base>/tables` itself is looked at every 50 ms. An acquisition makes
//!   the check after taking the lock, and the coordinator counts it as its
//!   check before the first batch (`checked_at_acquisition`).
//!   `FsBackend::close_idle` and `close_idle` close idle ones.
//! - A probe, which only takes and drops shared locks, looks at
//!   `write.lock` once per change of the table directory: its check of the
//!   table directory also asks for the directory's stamp (below), and while
//!   the stamp is the one of a settled look that found `write.lock` in
//!   place, no name in the directory has changed and the second `statx` is
//!   spared. A second name given to the kept `write.lock` meanwhile (a hard
//!   link made elsewhere) changes only the file: the next acquisition,
//!   which looks every time before it writes the holder record, refuses it.
//! - That check of the table directory also asks for its stamp (link count,
//!   modification and change times; not through a base that follows its
//!   path, nor on a file system not known to set its own times). Where the
//!   stamp is the one of this process's last look for `queue` in it, that
//!   look's answer stands; otherwise one `statx` of `queue` looks (only
//!   when the coordinator asks, still under the lock), and its answer is
//!   kept with the stamp if the directory's last change was at least
//!   100 ms before the look. A guard that knows there is no `queue` tells
//!   the coordinator it need not fetch (`queue_empty_at_acquisition`):
//!   every name made in the directory moves the stamp, so a queue made
//!   since, by anyone, is looked at and fetched from. Whether a file
//!   system's times can be trusted (`fstatfs`) is asked once per device.
//!   Where `queue` exists, a fetch that found it without an entry notes
//!   its stamp (taken before the read, and settled), and a guard asked
//!   later answers `true` after one `statx` of `queue` finds the same
//!   directory with the same stamp.
//! - The holder record (pid, start time, host, acquisition time; one
//!   `pwrite` at offset 0 of `write.lock`) is written only under the lock
//!   and left in place at release. The `flock` is the truth: a free lock
//!   has no holder whatever the file says, and a record is believed only
//!   while the process of this host it names holds that `flock`
//!   (`/proc/locks`) and is the process that wrote it.
//!
//! # How a waiter waits
//!
//! After a failed first attempt a waiter tries again on a timer, with
//! pauses doubling from 200 us to 1 ms, and sleeps on no watch: a holder
//! that releases and at once asks again (a process writing in a loop) takes
//! the lock again, and nobody is woken for nothing. A waiter that has waited
//! 3 ms claims a turn (below) and then sleeps in `poll(2)` on an inotify
//! watch of the table directory (through its open descriptor) until a
//! release event, its deadline or a fallback interval of 50 ms; where no
//! watch can be made it goes on with the timer. A guard's release is the
//! event: having unlocked, it reads the claim slots of its kept
//! `write.lock` (`IN_ACCESS`); an old-module holder's close and a dying
//! holder's are events too.
//!
//! # Taking turns
//!
//! A claim is a line in one of 8 slots after the holder record in
//! `write.lock`: the waiter's pid, start time and host, and when it began
//! waiting, written with one `pwrite` into the file checked to be the
//! table's `write.lock` with one name, and blanked when the waiter releases
//! the lock it waited for, or stops waiting. Every guard reads the slots as
//! it releases (the read that wakes waiters), so a process learns of claims
//! when it releases; its next acquisition does not try while a claim made
//! before that acquisition began is pending, and claimants take the lock in
//! the order in which they began waiting.
//!
//! The bound: **from the moment a claim is in `write.lock`, every other
//! acquirer (a thread taking the lock through one `FsBackend`, or through
//! the free functions) takes the lock at most once before the claimant
//! does** — an acquisition it began before it learnt of the claim, or one
//! of its own earlier claim. So no waiter of this crate waits longer than
//! 3 ms plus one hold of the lock by each other acquirer (and the
//! hand-offs between them), unless its timeout ends first. This holds for
//! up to 8 claimants at a time per table, while the claimant waits and is
//! alive: a claim lapses at the claimant's deadline (and 10 s after it was
//! last written, which the claimant renews while it waits), and one whose
//! process is gone is dropped after 20 ms. Claims are honoured only
//! between processes of one host (a claim names its host); old-module
//! processes do not take turns. The multi-process test `turns_are_taken`
//! checks the bound in a log of acquisitions.
//!
//! # Network file systems
//!
//! On NFS, `flock` is emulated with the lock manager's byte-range locks: a
//! `nolock` mount makes locks local to one client, a server restart can
//! lose them, and a directory cannot be locked (the lock is then
//! `write.lock` alone). Keep a base directory shared by several machines on
//! a file system with dependable locks, or use the pg backend.
//!
//! Measurements and the designs behind this module: the repository's
//! `docs/design/2026-12-06-fs-lock-and-queue.md`, for taking turns
//! `docs/design/2026-12-06-fs-lock-turns.md`, and for probes that keep
//! their files and timeouts that read no holder
//! `docs/design/2026-12-06-queueing-at-the-deadline.md`.

pub(crate) mod flock;
pub(crate) mod held;
mod holder;
mod holding;
pub(crate) mod notify;
pub(crate) mod table_lock;
mod turn_record;
mod turn_wait;
mod turns_seen;

use std::path::Path;

use reedbase_concurrent_core::ReedResult;

pub use reedbase_concurrent_core::LockHolder;
pub use table_lock::TableLock;
pub use turn_record::ClaimedTurn;

pub use crate::old_api::{acquire_lock, is_locked, wait_for_unlock};

/// Takes the exclusive write lock of `table_name` if it is free, never
/// waiting; `Ok(None)` when another holder has it, or when this process
/// knows that a waiter has claimed the next turn (see the
/// [module docs](self#taking-turns)).
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
    table_lock::try_acquire(crate::base_cache::base_at(base_path), table_name)
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
    table_lock::lock_holder(&crate::base_cache::base_at(base_path), table_name)
}

/// The waiters that have claimed a turn at the lock of `table_name`,
/// earliest first: each has waited long enough to claim one (see the
/// [module docs](self#taking-turns)), and this crate's other processes on
/// this host let them go first. A claimant is listed until it releases the
/// lock it waited for; claims that have lapsed or whose process is
/// certainly gone are left out. A snapshot for an operator; never creates
/// anything.
///
/// # Errors
///
/// As [`is_locked`], and `IoError` `read_lock_file`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::lock::{acquire_lock, claimed_turns};
///
/// let dir = tempfile::tempdir()?;
/// assert!(claimed_turns(dir.path(), "users")?.is_empty());
/// let guard = acquire_lock(dir.path(), "users", Duration::from_secs(1))?;
/// // Nobody has waited: no turn is claimed.
/// assert!(claimed_turns(dir.path(), "users")?.is_empty());
/// # drop(guard);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn claimed_turns(base_path: &Path, table_name: &str) -> ReedResult<Vec<ClaimedTurn>> {
    turn_record::claimed_turns(&crate::base_cache::base_at(base_path), table_name)
}
