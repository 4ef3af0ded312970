// SPDX-License-Identifier: Apache-2.0
//! The sweep of temporaries: a producer that lists the queue deletes the
//! temporaries of producers that died mid-write, told from live ones by
//! their `flock`, and never touches a live producer's.

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsFd;

use reedbase_concurrent_core::events;
use rustix::fs::AtFlags;

use crate::lock::flock::{self, TryLock};
use crate::no_follow::{Found, Opened, open_regular};
use crate::tables_dir::TablePaths;

/// Deletes the abandoned temporaries among those a listing found:
/// each on which a shared `flock` can be taken (its producer died: the
/// kernel dropped its exclusive lock), deleted while that lock is held; and any other file by such a
/// name that is not a regular file or a directory (a link is deleted, never
/// followed). A live producer's temporary (locked), a directory, or a
/// temporary that cannot be opened or deleted is left where it is, the
/// latter two reported: a temporary is not an entry, so leaving one loses
/// nothing and stops no write.
pub(super) fn sweep(queue: &File, paths: &TablePaths, temporaries: &[OsString]) {
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
            Ok(Opened::File(file, _)) => match flock::try_lock_shared(&file) {
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
