// SPDX-License-Identifier: Apache-2.0
//! The sweep of temporaries: a producer that lists the queue deletes the
//! temporaries of producers that died mid-write, told from live ones by
//! their `flock`, and never touches a live producer's.
//!
//! A producer creates its temporary, then takes its `flock`, then writes
//! into it: between the first two steps a live producer's temporary is
//! empty and unlocked, as a dead one's can be. So an empty temporary
//! nobody holds is swept only once its status last changed more than
//! [`SETTLING`] ago (a live producer locks within microseconds of
//! creating); a temporary with bytes in it was locked before it was
//! written, so one nobody holds any more is swept at once.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsFd;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reedbase_concurrent_core::events;
use rustix::fs::AtFlags;

use crate::lock::flock::{self, TryLock};
use crate::no_follow::{Found, Opened, open_regular};
use crate::tables_dir::TablePaths;

/// How long an empty temporary nobody holds is left to the producer that
/// may be about to lock it. Two seconds, so that a file system that keeps
/// timestamps to the second still leaves it one.
const SETTLING: Duration = Duration::from_secs(2);

/// Deletes the abandoned temporaries among those a listing found:
/// each on which a shared `flock` can be taken (its producer died: the
/// kernel dropped its exclusive lock) and which is not an empty one that
/// may still be settling (see the module doc), deleted while that lock is
/// held; and any other file by such a name that is not a regular file or a
/// directory (a link is deleted, never followed). A live producer's
/// temporary (locked, or empty and settling), a directory, or a temporary
/// that cannot be opened or deleted is left where it is, the latter two
/// reported: a temporary is not an entry, so leaving one loses nothing and
/// stops no write.
pub(super) fn sweep(queue: &File, paths: &TablePaths, temporaries: &[OsString]) {
    sweep_as_of(queue, paths, temporaries, SystemTime::now());
}

/// [`sweep`], with `now` the time against which an empty temporary's age
/// is taken.
fn sweep_as_of(queue: &File, paths: &TablePaths, temporaries: &[OsString], now: SystemTime) {
    let table = paths.table_dir.file_name().unwrap_or_default();
    for name in temporaries {
        let path = paths.queue_dir.join(name);
        let left = |error: &dyn std::fmt::Display, why: &str| {
            tracing::warn!(event = events::TEMPORARY_NOT_SWEPT, table = %table.to_string_lossy(), path = %path.display(), error = %error, "{why}; left it");
        };
        let held = match open_regular(queue.as_fd(), name) {
            // Shared: it conflicts with the producer's exclusive lock just
            // the same, and where `flock` is emulated with POSIX locks (NFS)
            // it can be taken through this read-only descriptor.
            Ok(Opened::File(file, facts)) => match flock::try_lock_shared(&file) {
                Ok(TryLock::Acquired) if facts.size == 0 && may_be_settling(&file, now) => {
                    continue;
                }
                Ok(TryLock::Acquired) => file,
                Ok(TryLock::Contended) => continue,
                Err(error) => {
                    left(
                        &error,
                        "could not tell whether a temporary file's producer is alive",
                    );
                    continue;
                }
            },
            Ok(Opened::Missing) => continue,
            Ok(Opened::NotRegular(Found::Directory)) => {
                left(
                    &"a directory",
                    "a directory has the name of a producer's temporary file",
                );
                continue;
            }
            Ok(Opened::NotRegular(_)) => {
                // Unlinking a name never touches what a link points to.
                let _ = rustix::fs::unlinkat(queue.as_fd(), name, AtFlags::empty());
                continue;
            }
            Err(error) => {
                left(&error, "could not open a temporary file to sweep it");
                continue;
            }
        };
        match rustix::fs::unlinkat(queue.as_fd(), name, AtFlags::empty()) {
            Ok(()) => {
                tracing::info!(event = events::TEMPORARY_SWEPT, table = %table.to_string_lossy(), path = %path.display(), "swept the temporary file of a producer that died mid-write");
            }
            Err(rustix::io::Errno::NOENT) => {}
            Err(error) => left(
                &error,
                "could not delete the temporary file of a producer that died mid-write",
            ),
        }
        drop(held);
    }
}

/// True unless `file`'s status last changed at least [`SETTLING`] before
/// `now`: also when it changed after `now` (a clock stepped back leaves it
/// until the clock passes that time) or its status cannot be read. The
/// status change time, not the modification time, which a backup or sync
/// tool may set to the past.
// The field types of `struct stat` differ between architectures.
#[allow(clippy::unnecessary_cast)]
fn may_be_settling(file: &File, now: SystemTime) -> bool {
    let Ok(stat) = rustix::fs::fstat(file) else {
        return true;
    };
    let secs = stat.st_ctime as i64;
    let nanos = (stat.st_ctime_nsec as u32).min(999_999_999);
    let changed = if secs >= 0 {
        UNIX_EPOCH.checked_add(Duration::new(secs.unsigned_abs(), nanos))
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))
    };
    changed
        .and_then(|changed| now.duration_since(changed).ok())
        .is_none_or(|age| age < SETTLING)
}

#[cfg(test)]
#[path = "sweep_test.rs"]
mod tests;
