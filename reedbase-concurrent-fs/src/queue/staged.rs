// SPDX-License-Identifier: Apache-2.0
//! An entry staged under a temporary name of its own: created exclusively,
//! held under an exclusive `flock` while it exists, written and (when
//! durable) fsynced before the producers' lock is taken, then published by
//! a rename.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::AsFd;

use reedbase_concurrent_core::{ReedError, ReedResult};
use rustix::fs::AtFlags;

use super::entry_id::{new_unique, temporary_file_name};
use crate::lock::flock::{self, TryLock};
use crate::no_follow::create_new;
use crate::options::Durability;
use crate::tables_dir::TablePaths;

/// How many times a producer writes its entry again when its temporary was
/// deleted under it (by a producer of an older release, which sweeps
/// every temporary it sees, or by hand) before it gives up.
pub(super) const WRITE_ATTEMPTS: usize = 3;

#[cfg(test)]
thread_local! {
    /// Set by tests: how many of this thread's next publishes find their
    /// temporary deleted (as by a sweep between its creation and its lock).
    pub(super) static SWEEP_BEFORE_PUBLISH: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
    /// How many temporaries this thread created, for tests.
    pub(super) static STAGED: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// An entry written under a temporary name of its own, its `flock` held,
/// not yet in the queue. Dropped unpublished, the temporary is deleted.
#[derive(Debug)]
pub(super) struct Staged<'a> {
    /// Open (and locked) until dropped.
    file: File,
    /// The random part of `name`, which the entry's id reuses.
    unique: String,
    name: String,
    queue: &'a File,
    published: bool,
}

impl<'a> Staged<'a> {
    /// Creates a temporary, takes its `flock`, writes `bytes` into it and
    /// fsyncs it when durable. A temporary whose lock a sweeper holds (it
    /// deletes it) is made again under another name; one swept between its
    /// creation and its lock is found gone at [`publish`](Self::publish).
    pub(super) fn write(
        queue: &'a File,
        paths: &TablePaths,
        bytes: &[u8],
        durability: Durability,
    ) -> ReedResult<Staged<'a>> {
        for _ in 0..WRITE_ATTEMPTS {
            let unique = new_unique();
            let name = temporary_file_name(&unique);
            // The path is joined only for an error (on every write it cost
            // more instructions than the rest of this function).
            let error = |operation, name: &str, e: &io::Error| {
                ReedError::io(operation, &paths.queue_dir.join(name), e)
            };
            let file = create_new(queue.as_fd(), name.as_ref())
                .map_err(|e| error("write_queue_file", &name, &e))?;
            #[cfg(test)]
            STAGED.with(|staged| staged.set(staged.get() + 1));
            let mut staged = Staged {
                file,
                unique,
                name,
                queue,
                published: false,
            };
            let (file, name) = (&mut staged.file, staged.name.as_str());
            let write_error = |e: &io::Error| error("write_queue_file", name, e);
            if flock::try_lock_exclusive(file).map_err(|e| write_error(&e))? == TryLock::Contended {
                continue;
            }
            file.write_all(bytes).map_err(|e| write_error(&e))?;
            if durability == Durability::Durable {
                file.sync_data()
                    .map_err(|e| error("sync_queue_file", name, &e))?;
            }
            return Ok(staged);
        }
        Err(ReedError::io(
            "write_queue_file",
            &paths.queue_dir,
            &io::Error::other(format!(
                "the temporary of a new entry was deleted as it was made, {WRITE_ATTEMPTS} times"
            )),
        ))
    }

    /// The random part of the temporary's name, unique to this write.
    pub(super) fn unique(&self) -> &str {
        &self.unique
    }

    /// Renames the temporary to `entry` (a new name: nothing is replaced)
    /// and closes it, which releases its `flock`. `NOENT` when the
    /// temporary was deleted meanwhile.
    pub(super) fn publish(mut self, entry: &str) -> Result<(), rustix::io::Errno> {
        #[cfg(test)]
        if SWEEP_BEFORE_PUBLISH.with(|left| left.replace(left.get().saturating_sub(1)) > 0) {
            rustix::fs::unlinkat(self.queue, self.name.as_str(), AtFlags::empty())?;
        }
        rustix::fs::renameat(self.queue, self.name.as_str(), self.queue, entry)?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if !self.published {
            let _ = rustix::fs::unlinkat(self.queue, self.name.as_str(), AtFlags::empty());
        }
    }
}
