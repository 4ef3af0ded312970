// SPDX-License-Identifier: Apache-2.0
//! The write path: one entry into the queue.
//!
//! First, without any lock, the entry is staged (see `staged`: an
//! anonymous `O_TMPFILE` inode of the queue directory where the file
//! system has them, else a temporary of its own, `.incoming-<uuid>.tmp`,
//! created exclusively and held under an exclusive `flock` of its
//! descriptor while it exists) and, when durable, fsynced. Then, under the
//! producers' lock: learn the count and the highest
//! sequence, from the process's watch of the directory when it knows them
//! (see `watch`), else from a listing (count the entries, find the highest
//! sequence number, sweep abandoned temporaries, set aside entries whose
//! sequence no producer writes; a listing during which no entry arrived
//! gives the watch its counts); check the capacity and publish the entry
//! as `<id>.pending` (`linkat` of the anonymous inode, or a rename of the
//! temporary). After the lock is released, when durable, the
//! directory is fsynced and only then is the write acknowledged. A failure
//! before the rename leaves nothing queued (the temporary is deleted); a
//! failure of that fsync, after the rename, is `QueueOutcomeUnknown` with
//! the id: the entry was visible and stays (a consumer may have applied it
//! already), so the caller must not queue the write again.
//!
//! So the lock is held for a rename (and a listing when the watch cannot
//! say), never for writing or fsyncing: a slow disk makes each producer
//! slower, not every producer wait for the slowest, and producers' fsyncs
//! run side by side. A temporary's `flock` tells a live producer's from an
//! abandoned one: the kernel drops it when its producer dies, and a sweep
//! deletes only temporaries it can lock itself (while holding that lock, so
//! their producer cannot be between creating and locking them unnoticed: a
//! producer whose temporary was swept finds it gone at the rename and
//! writes it again).

use std::ffi::OsString;
use std::fs::File;
use std::os::fd::AsFd;
use std::sync::Arc;
use std::time::Duration;

use rustix::fs::{Mode, OFlags};

use reedbase_concurrent_core::{ReedError, ReedResult, events};

use super::consumer::beyond_producers;
use super::corrupt::{move_aside, note_stuck};
use super::counts_marker;
use super::entry_id::{
    self, MAX_WRITTEN_SEQUENCE, is_attempts_file, is_beyond_producers, is_temporary,
    parse_sequence_bytes, pending_file_name, pending_stem,
};
use super::kept_queue;
use super::producers_lock::ProducersLock;
use super::staged::{Staged, Unpublished, WRITE_ATTEMPTS};
use super::sweep::sweep;
use super::watch::{self, Counts, DirKey};
use crate::no_follow::{facts_of, for_each_name};
use crate::options::{Durability, FsOptions};
use crate::tables_dir::TablePaths;
use crate::tables_dir::{BaseDir, Level, sync_dir};

/// What a producer learns from one listing of the queue directory.
#[derive(Debug, Default)]
struct Scan {
    pending: usize,
    /// Whether a count of failed applies (`*.attempts`) is there.
    counts: bool,
    /// Whether the queue is marked as holding counts (see `counts_marker`).
    marked: bool,
    highest_sequence: Option<u128>,
    temporaries: Vec<OsString>,
    beyond: Vec<(OsString, String, u128)>,
}

/// How long the watch may count temporaries before a producer lists the
/// directory to sweep the abandoned ones among them. A live producer's
/// temporary exists for the time of a write and an fsync; one that is
/// older belongs to a producer that died, or to one whose disk is very
/// slow, which the sweep leaves alone (its `flock` is still held).
const STALE_TEMPORARY: Duration = if cfg!(test) {
    Duration::from_millis(100)
} else {
    Duration::from_secs(1)
};

/// Writes `bytes` as a new entry of the table's queue and returns its id.
///
/// # Errors
///
/// See [`queue_write_with`](super::queue_write_with).
pub(crate) fn enqueue<T>(
    base: &BaseDir,
    paths: &TablePaths,
    table_name: &str,
    bytes: &[u8],
    options: &FsOptions,
    instead: &mut dyn FnMut() -> Option<T>,
) -> ReedResult<Result<String, T>> {
    let mut attempt = 1;
    let mut check_full_first = options.watch_queues;
    let mut ask = true;
    // Staged under a temporary name: when this process cannot link an
    // anonymous entry (see `staged`).
    let mut named = false;
    loop {
        let (queue, key, shared) = queue_dir(base, paths, options)?;
        let queue: &File = &queue;
        let listed = |queue| listed_state(queue, shared, key, paths, table_name, options);
        if std::mem::take(&mut check_full_first) && looks_full(queue, key, options.capacity) {
            // Decided under the lock by a listing before anything is written,
            // so that a refused write costs no temporary and no fsync. Not
            // full after all (the counts overstated): write.
            let _lock = take_producers_lock(queue, paths, table_name, options)?;
            listed(queue)?;
            continue;
        }
        let staged = if named {
            Staged::write_named(queue, paths, bytes, options.durability)?
        } else {
            Staged::write(queue, paths, bytes, options.durability)?
        };
        // Asked once, with the entry written (and synced) but not visible;
        // not again when a swept temporary makes the loop write another.
        if std::mem::take(&mut ask)
            && let Some(taken) = instead()
        {
            return Ok(Err(taken));
        }
        let lock = take_producers_lock(queue, paths, table_name, options)?;
        let sequence = match known_state(queue, key, options.capacity) {
            Some(sequence) => sequence,
            None => listed(queue)?,
        };
        let id = entry_id::sequenced_id_with(sequence, staged.unique());
        let entry = pending_file_name(&id);
        match staged.publish(&entry) {
            Ok(()) => {}
            Err(Unpublished::Failed(rustix::io::Errno::NOENT)) if attempt < WRITE_ATTEMPTS => {
                attempt += 1;
                continue;
            }
            Err(Unpublished::CannotLink) if !named => {
                named = true;
                continue;
            }
            Err(Unpublished::CannotLink) => {
                let e = std::io::Error::other("an anonymous entry staged after linking failed");
                let path = paths.queue_dir.join(&entry);
                return Err(ReedError::io("rename_queue_file", &path, &e));
            }
            Err(Unpublished::Failed(e)) => {
                let path = paths.queue_dir.join(&entry);
                return Err(ReedError::io("rename_queue_file", &path, &e.into()));
            }
        }
        drop(lock);
        if options.durability == Durability::Durable
            && let Err(e) = sync_queue_dir(queue)
        {
            // The entry is visible from its rename on: a consumer may have
            // applied it already, and another producer's fsync may have made
            // it durable. Taking it back would not make the error mean "not
            // queued", so the entry stays and the caller is told the id.
            let reason = format!(
                "the fsync of its queue directory {} failed ({e})",
                paths.queue_dir.display()
            );
            return Err(ReedError::outcome_unknown(table_name, &id, reason));
        }
        return Ok(Ok(id));
    }
}

#[cfg(test)]
thread_local! {
    /// Set by tests: how many of this thread's next queue directory fsyncs
    /// fail (as with an I/O error of the disk).
    pub(super) static FAIL_SYNC_DIR: std::cell::Cell<usize> = const { std::cell::Cell::new(0) };
}

/// The queue directory's fsync, which makes the rename of a new entry
/// durable.
fn sync_queue_dir(queue: &File) -> std::io::Result<()> {
    #[cfg(test)]
    if FAIL_SYNC_DIR.with(|left| left.replace(left.get().saturating_sub(1)) > 0) {
        return Err(std::io::Error::from_raw_os_error(5));
    }
    sync_dir(queue.as_fd())
}

/// [`ProducersLock::take`], with the event of a producer that gave up.
fn take_producers_lock<'a>(
    queue: &'a File,
    paths: &TablePaths,
    table_name: &str,
    options: &FsOptions,
) -> ReedResult<ProducersLock<'a>> {
    ProducersLock::take(queue, paths, table_name, options).inspect_err(|error| {
        if let ReedError::QueueBusy { waited, .. } = error {
            tracing::warn!(
                event = events::QUEUE_BUSY,
                table = table_name,
                waited_ms = events::millis(*waited),
                "gave up waiting for the queue's producers' lock"
            );
        }
    })
}

/// The queue directory a write goes to, with its device and inode (by
/// which the process's watch knows it; `None` when the options turn the
/// watch off). With the watch on, the directory kept open between calls
/// (see `kept_queue`) when it is still in place, else opened (and kept);
/// created when missing. A kept directory (`true`) is shared by the
/// process's threads: nothing reads it by position (a listing opens it
/// anew).
fn queue_dir(
    base: &BaseDir,
    paths: &TablePaths,
    options: &FsOptions,
) -> ReedResult<(Arc<File>, Option<DirKey>, bool)> {
    if options.watch_queues
        && let Some(found) = kept_queue::queue_dir(base, paths, "create_queue_dir")?
        && let Some(key) = found.key
    {
        return Ok((found.file, Some(key), true));
    }
    let queue =
        File::from(base.create(paths, Level::Queue, options.durability, "create_queue_dir")?);
    let key = options
        .watch_queues
        .then(|| facts_of(&queue).ok())
        .flatten()
        .map(|facts| (facts.dev, facts.ino));
    Ok((Arc::new(queue), key, false))
}

/// True when the process's watch counts the queue full (it may overcount;
/// false when it does not know). What it last knew is looked at first,
/// without a system call; only if that says full are the events queued
/// since read (a consumer may have removed entries meanwhile).
fn looks_full(queue: &File, key: Option<DirKey>, capacity: usize) -> bool {
    let Some(key) = key else {
        return false;
    };
    let full = |w: &watch::Watched| w.counts.is_some_and(|counts| counts.pending >= capacity);
    watch::peek(key, full).unwrap_or(false)
        && watch::with_dir(queue.as_fd(), key, |w| full(w)).unwrap_or(false)
}

/// The sequence of the next entry from what the process's watcher knows of
/// the queue (see [`watch`]), without a listing; `None` when the counts are
/// not known, when temporaries have been counted for [`STALE_TEMPORARY`]
/// (one may be abandoned: the listing sweeps it), when they say the queue
/// is full (they may overcount: the listing decides), or when the
/// numbering is at its end.
fn known_state(queue: &File, key: Option<DirKey>, capacity: usize) -> Option<u128> {
    let (counts, top, stale) = watch::with_dir(queue.as_fd(), key?, |w| {
        (w.counts, w.top, w.temporaries_counted_for(STALE_TEMPORARY))
    })?;
    let counts = counts.filter(|c| !stale && c.pending < capacity)?;
    match top {
        _ if counts.pending == 0 => Some(0),
        None => Some(0),
        Some(top) if top < MAX_WRITTEN_SEQUENCE => Some(top + 1),
        Some(_) => None,
    }
}

/// The sequence of the next entry from a listing (counting the entries,
/// sweeping abandoned temporaries, moving aside entries numbered beyond
/// producers), and the watcher's counts taken from it when no entry arrived
/// while it was read (see [`Watched::take_listing`](watch::Watched::take_listing)).
///
/// # Errors
///
/// `QueueFull` at capacity, `InvalidQueueFile` when the numbering is used
/// up, and the I/O errors of the listing and the sweep.
fn listed_state(
    queue: &File,
    shared: bool,
    key: Option<DirKey>,
    paths: &TablePaths,
    table_name: &str,
    options: &FsOptions,
) -> ReedResult<u128> {
    let capacity = options.capacity;
    let before = key.and_then(|key| watch::with_dir(queue.as_fd(), key, |w| w.listing_mark()));
    let mut scan = if shared {
        // Listed through a descriptor of its own: a listing reads from the
        // descriptor's position, which a shared one does not keep for us.
        let own = rustix::fs::openat(
            queue,
            ".",
            OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| ReedError::io("read_queue_dir", &paths.queue_dir, &e.into()))?;
        scan_names(&File::from(own), paths)?
    } else {
        scan_names(queue, paths)?
    };
    if let (Some(key), Some(before)) = (key, before) {
        let counts = Counts {
            pending: scan.pending,
            temporaries: scan.temporaries.len(),
        };
        watch::with_dir(queue.as_fd(), key, |w| {
            w.take_listing(before, counts, scan.highest_sequence);
        });
    }
    counts_marker::mark_after_listing(queue.as_fd(), scan.counts, scan.marked);
    sweep(queue, paths, &scan.temporaries);
    if let Some(key) = key {
        // The temporaries left are live (or not ours to delete): count the
        // time to the next sweep from now.
        watch::with_dir(queue.as_fd(), key, |w| w.temporaries_checked());
    }
    for (name, id, sequence) in std::mem::take(&mut scan.beyond) {
        let reason = beyond_producers(sequence);
        match move_aside(queue.as_fd(), paths, &name, &id, &reason) {
            Ok(_) => scan.pending -= 1,
            Err(error) => note_stuck(paths.queue_dir.join(&name), &id, &reason, &error),
        }
    }
    if scan.pending >= capacity {
        tracing::warn!(
            event = events::QUEUE_FULL,
            table = table_name,
            pending = scan.pending,
            capacity = capacity,
            "queue full: write refused"
        );
        return Err(ReedError::queue_full(table_name, scan.pending));
    }
    match scan.highest_sequence {
        None => Ok(0),
        Some(highest) if highest < MAX_WRITTEN_SEQUENCE => Ok(highest + 1),
        Some(_) => Err(ReedError::InvalidQueueFile {
            path: paths.queue_dir.clone(),
            reason: format!(
                "an entry holds sequence number {MAX_WRITTEN_SEQUENCE}, the highest a producer \
                 writes; numbering starts again at 0 once the queue is empty"
            ),
        }),
    }
}

/// Lists the queue directory under the producers' lock: counts the entries,
/// finds the highest sequence number a producer wrote, notes the entries
/// beyond it and the abandoned temporaries.
fn scan_names(queue: &File, paths: &TablePaths) -> ReedResult<Scan> {
    let mut scan = Scan::default();
    for_each_name(queue.as_fd(), |name| {
        if let Some(stem) = pending_stem(name) {
            scan.pending += 1;
            match parse_sequence_bytes(stem.as_encoded_bytes()) {
                Some(sequence) if is_beyond_producers(sequence) => {
                    let id = stem.to_string_lossy().into_owned();
                    scan.beyond.push((name.to_os_string(), id, sequence));
                }
                Some(sequence) => scan.highest_sequence = scan.highest_sequence.max(Some(sequence)),
                None => {}
            }
        } else if is_temporary(name) {
            scan.temporaries.push(name.to_os_string());
        } else if is_attempts_file(name) {
            scan.counts = true;
        } else if name == counts_marker::MARKER {
            scan.marked = true;
        }
    })
    .map_err(|e| ReedError::io("read_queue_dir", &paths.queue_dir, &e))?;
    Ok(scan)
}

#[cfg(test)]
#[path = "producer_test.rs"]
mod tests;
