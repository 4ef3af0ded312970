// SPDX-License-Identifier: Apache-2.0
//! Table locks: an exclusive advisory lock per table, across threads and
//! processes, on `<base>/tables/<table>/write.lock`.
//!
//! This is the file the old module locks, with the same `fs2` exclusive
//! lock, so a process using the old module and one using this crate exclude
//! each other on the same base directory.
//!
//! # Cross-process semantics
//!
//! On Unix `fs2` takes a `flock(2)` lock, which belongs to an *open file
//! description*. Every [`acquire_lock`] opens the lock file afresh, so two
//! acquires exclude each other whether they come from two processes or two
//! threads of one process, and the lock is not reentrant. The kernel drops
//! the lock when the holder's descriptor is closed, which happens when its
//! process exits or is killed (SIGKILL included): there are no stale locks
//! and nothing to break by hand. The lock file itself is never deleted (a
//! deleted and re-created file would be a second, unrelated lock).
//!
//! Only contention is retried. Any other failure (a base path that is a
//! regular file, an unwritable directory, a lock file that cannot be
//! opened) is returned at once as [`ReedError::IoError`] naming the
//! operation, the path and the [`std::io::ErrorKind`]; it is never reported
//! as a [`ReedError::LockTimeout`].
//!
//! # How a waiter waits
//!
//! A waiter polls with non-blocking `flock` attempts and sleeps between
//! them, the pause doubling from 20 us to a cap of 1 ms. A release is
//! noticed at most about 1 ms (plus the timer slack and the scheduler's
//! wake-up delay) after it happens, half that on average; a short wait
//! polls faster, and a long one costs one wake-up and one system call per
//! millisecond.
//!
//! The cap was chosen by measurement, on a 2-core virtual machine (ext4),
//! between two processes, the waiter waiting 20-40 ms before each release
//! (41 trials per run; `cargo test --release --test multiprocess_lock --
//! --measure`), and with a waiter kept waiting 1 s:
//!
//! | cap | hand-off median | hand-off p90 | waiter CPU |
//! | --- | --- | --- | --- |
//! | 250 us | 0.11-0.14 ms | 0.32-0.36 ms | 5.3-7.1% |
//! | 500 us | 0.22-0.37 ms | 0.49-0.55 ms | 3.2-4.6% |
//! | 750 us | 0.34-0.50 ms | 0.74-0.83 ms | 2.6-3.8% |
//! | 1 ms (chosen) | 0.33-0.62 ms | 0.87-1.09 ms | 1.6-2.5% |
//!
//! A wake-up cost 15-25 us of CPU there (the `flock` call itself under
//! 1 us), so the waiting cost is set by the number of wake-ups: 1 ms keeps a
//! waiter near 2% of a core with the hand-off well inside its targets
//! (median under 1 ms, p90 under 2 ms). With both cores saturated by other
//! work, every wake-up costs more, and a 1 s wait measured 2.5-6%. The old module slept 100 ms between
//! attempts (hand-off median about 50 ms).
//!
//! Rejected alternatives:
//! - a blocking `flock` in a helper thread: `flock` has no timeout, and
//!   without signals a blocked call cannot be cancelled, so every timed-out
//!   acquire would leave a thread blocked in the kernel that later takes the
//!   lock (only to drop it) and piles up under repeated timeouts;
//! - interrupting a blocking `flock` with a signal (`SIGALRM`): signal
//!   handlers need `unsafe` code, which this workspace forbids, and a
//!   process-wide signal is no business of a library;
//! - file-change notification (inotify): releasing a `flock` produces no
//!   event, and it would need a new dependency and platform code;
//! - a fixed short poll: a 100 us poll notices releases a little sooner but
//!   costs 8% of a core while waiting; the back-off keeps short waits short
//!   and long waits cheap.
//!
//! There is no fairness: a waiter may be overtaken by a later one, or by
//! the releasing process taking the lock again.
//!
//! [`is_locked`] and [`wait_for_unlock`] probe with a *shared* lock, which
//! conflicts only with a writer's exclusive lock: probes never see each
//! other as holders. A probe holds its shared lock for two system calls; an
//! acquire attempt that meets it simply tries again after its next pause.
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
//! believed. Old-module processes open the lock file with create+write,
//! never truncate or read it, and write no record, so the record is harmless
//! to them and their locks show as held by an unknown holder. Writing the
//! record costs one `pwrite` per acquire and one per release; nothing else is
//! read or formatted on the acquire path after the first acquire of a
//! process. On Windows, where locks are mandatory byte-range locks that keep
//! other handles from reading, no record is written.
//!
//! # Network file systems
//!
//! On NFS, Linux emulates `flock` with POSIX byte-range locks through the
//! NFS lock manager: exclusion across clients then depends on the lock
//! manager running (a `nolock` mount makes locks local to one client), and a
//! lock can be lost when the server restarts or a client is cut off, after
//! which two writers may both believe they hold it. The pid in a record
//! from another host cannot be checked, and is reported as written. Keep a
//! base directory that several machines share on a file system with
//! dependable locks, or give each machine its own.
//!
//! [`ReedError::IoError`]: reedbase_concurrent_core::ReedError::IoError
//! [`ReedError::LockTimeout`]: reedbase_concurrent_core::ReedError::LockTimeout

pub(crate) mod flock;
mod guard;
mod holder;
mod identity;
mod open;
mod probe;
mod record;
mod wait;

#[cfg(test)]
mod flock_test;
#[cfg(test)]
mod guard_test;
#[cfg(test)]
mod holder_test;
#[cfg(test)]
mod identity_test;
#[cfg(test)]
mod probe_test;
#[cfg(test)]
mod record_test;
#[cfg(test)]
mod wait_test;

pub use guard::{TableLock, acquire_lock, try_acquire_lock};
pub use holder::lock_holder;
pub use probe::{is_locked, wait_for_unlock};
pub use reedbase_concurrent_core::LockHolder;
