// SPDX-License-Identifier: Apache-2.0
//! An entry staged before it is queued: written and (when durable) fsynced
//! before the producers' lock is taken, then published under its entry
//! name, complete, by one directory operation.
//!
//! Where the file system and the process allow it, the entry is staged
//! anonymously: an `O_TMPFILE` inode of the queue directory, which no
//! listing shows and which the kernel frees when its producer dies, linked
//! to its name by `linkat` (through the descriptor with `AT_EMPTY_PATH`,
//! else through `/proc/self/fd`). Linking makes one change to the
//! directory where a rename makes two, and neither a `flock` nor a sweep is
//! needed: nobody else can see the file. `linkat` never replaces a name.
//!
//! Otherwise (a file system without `O_TMPFILE`, no way to link a
//! descriptor) it is staged under a temporary name of its own
//! (`.incoming-<uuid>.tmp`): created exclusively, held under an exclusive
//! `flock` while it exists (a sweep deletes only temporaries whose lock it
//! can take: those of producers that died), and published by a rename.

use std::fs::File;
use std::io::{self, Write as _};
use std::os::fd::{AsFd, AsRawFd};
use std::sync::atomic::{AtomicU8, Ordering};

use reedbase_concurrent_core::{ReedError, ReedResult};
use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use rustix::io::Errno;

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

/// An entry written, not yet in the queue: anonymous (see the module
/// docs), or under a temporary name of its own with its `flock` held.
/// Dropped unpublished, a temporary is deleted (an anonymous one goes with
/// its descriptor).
#[derive(Debug)]
pub(super) struct Staged<'a> {
    /// Open (and, when named, locked) until dropped.
    file: File,
    /// The random part of the entry's id.
    unique: String,
    /// The temporary name; `None` when anonymous.
    name: Option<String>,
    queue: &'a File,
    published: bool,
}

/// Why [`Staged::publish`] failed.
#[derive(Debug)]
pub(super) enum Unpublished {
    /// An anonymous entry that this process cannot link: write it again
    /// under a temporary name (the process stages named from now on).
    CannotLink,
    /// The error of the `linkat` or `renameat`; `NOENT` for a temporary
    /// deleted meanwhile.
    Failed(Errno),
}

/// How this process links an anonymous entry to its name: learned at its
/// first publish.
static LINK: AtomicU8 = AtomicU8::new(LINK_UNKNOWN);
const LINK_UNKNOWN: u8 = 0;
const LINK_EMPTY_PATH: u8 = 1;
const LINK_PROC: u8 = 2;
const LINK_NONE: u8 = 3;

#[cfg(test)]
thread_local! {
    /// Set by tests: stage under temporary names, as on a file system
    /// without `O_TMPFILE`.
    pub(super) static NAMED_ONLY: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Whether anonymous staging is worth trying in this process.
fn anonymous_allowed() -> bool {
    #[cfg(test)]
    if NAMED_ONLY.with(std::cell::Cell::get) {
        return false;
    }
    LINK.load(Ordering::Relaxed) != LINK_NONE
}

/// An `O_TMPFILE` inode in `queue`; `None` where the file system (or the
/// kernel) has none, so that the caller stages under a name instead.
fn create_anonymous(queue: &File) -> io::Result<Option<File>> {
    let flags = OFlags::WRONLY | OFlags::TMPFILE | OFlags::CLOEXEC;
    match rustix::fs::openat(queue, ".", flags, Mode::from_bits_truncate(0o666)) {
        Ok(fd) => Ok(Some(File::from(fd))),
        // EISDIR: a kernel older than O_TMPFILE took it for O_DIRECTORY.
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOSYS) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Links the anonymous `file` to `entry` in `queue`, as [`LINK`] says,
/// learning it on the first call: `AT_EMPTY_PATH` needs a capability a
/// process may not have (`ENOENT` without it), `/proc/self/fd` a mounted
/// `/proc`.
fn link(file: &File, queue: &File, entry: &str) -> Result<(), Unpublished> {
    let by_proc = || {
        let path = format!("/proc/self/fd/{}", file.as_raw_fd());
        rustix::fs::linkat(CWD, path.as_str(), queue, entry, AtFlags::SYMLINK_FOLLOW)
    };
    match LINK.load(Ordering::Relaxed) {
        LINK_EMPTY_PATH => {
            return rustix::fs::linkat(file, "", queue, entry, AtFlags::EMPTY_PATH)
                .map_err(Unpublished::Failed);
        }
        LINK_PROC => return by_proc().map_err(Unpublished::Failed),
        LINK_NONE => return Err(Unpublished::CannotLink),
        _ => {}
    }
    match rustix::fs::linkat(file, "", queue, entry, AtFlags::EMPTY_PATH) {
        Ok(()) => {
            LINK.store(LINK_EMPTY_PATH, Ordering::Relaxed);
            return Ok(());
        }
        Err(Errno::NOENT | Errno::PERM | Errno::INVAL) => {}
        Err(e) => return Err(Unpublished::Failed(e)),
    }
    match by_proc() {
        Ok(()) => {
            LINK.store(LINK_PROC, Ordering::Relaxed);
            Ok(())
        }
        // ENOENT also comes from a queue directory deleted meanwhile: only
        // a missing /proc makes the process give linking up.
        Err(e) if rustix::fs::stat("/proc/self/fd").is_err() => {
            LINK.store(LINK_NONE, Ordering::Relaxed);
            tracing::debug!(error = %e, "no way to link an O_TMPFILE entry: staging under temporary names");
            Err(Unpublished::CannotLink)
        }
        Err(e) => Err(Unpublished::Failed(e)),
    }
}

impl<'a> Staged<'a> {
    /// Stages `bytes` (see the module docs) and fsyncs them when durable. A
    /// temporary whose lock a sweeper holds (it deletes it) is made again
    /// under another name; one swept between its creation and its lock is
    /// found gone at [`publish`](Self::publish).
    pub(super) fn write(
        queue: &'a File,
        paths: &TablePaths,
        bytes: &[u8],
        durability: Durability,
    ) -> ReedResult<Staged<'a>> {
        if anonymous_allowed() {
            let error = |operation, e: &io::Error| ReedError::io(operation, &paths.queue_dir, e);
            if let Some(mut file) =
                create_anonymous(queue).map_err(|e| error("write_queue_file", &e))?
            {
                #[cfg(test)]
                STAGED.with(|staged| staged.set(staged.get() + 1));
                file.write_all(bytes)
                    .map_err(|e| error("write_queue_file", &e))?;
                if durability == Durability::Durable {
                    file.sync_data().map_err(|e| error("sync_queue_file", &e))?;
                }
                return Ok(Staged {
                    file,
                    unique: new_unique(),
                    name: None,
                    queue,
                    published: false,
                });
            }
        }
        Self::write_named(queue, paths, bytes, durability)
    }

    /// [`write`](Self::write) under a temporary name.
    pub(super) fn write_named(
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
                name: Some(name),
                queue,
                published: false,
            };
            let (file, name) = (&mut staged.file, staged.name.as_deref().unwrap_or(""));
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

    /// The random part of the entry's id, unique to this write.
    pub(super) fn unique(&self) -> &str {
        &self.unique
    }

    /// Publishes the entry as `entry` (a new name: nothing is replaced) and
    /// closes it, which releases a temporary's `flock`.
    pub(super) fn publish(mut self, entry: &str) -> Result<(), Unpublished> {
        let Some(name) = self.name.as_deref() else {
            link(&self.file, self.queue, entry)?;
            self.published = true;
            return Ok(());
        };
        #[cfg(test)]
        if SWEEP_BEFORE_PUBLISH.with(|left| left.replace(left.get().saturating_sub(1)) > 0) {
            rustix::fs::unlinkat(self.queue, name, AtFlags::empty())
                .map_err(Unpublished::Failed)?;
        }
        rustix::fs::renameat(self.queue, name, self.queue, entry).map_err(Unpublished::Failed)?;
        self.published = true;
        Ok(())
    }
}

impl Drop for Staged<'_> {
    fn drop(&mut self) {
        if let (false, Some(name)) = (self.published, self.name.as_deref()) {
            let _ = rustix::fs::unlinkat(self.queue, name, AtFlags::empty());
        }
    }
}

#[cfg(test)]
#[path = "staged_test.rs"]
mod tests;
