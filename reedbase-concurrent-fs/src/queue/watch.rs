// SPDX-License-Identifier: Apache-2.0
//! What changed in the queue directories this process uses, from the
//! kernel's own record (`inotify`), so that a producer need not list a deep
//! queue to count it and a consumer may keep its ordered listing.
//!
//! One `inotify` instance per process watches every queue directory the
//! process has written or read (a watch per directory, never a file per
//! table). Each arrival of a name in a watched directory (created or
//! renamed in) and each departure by rename is queued by the kernel inside
//! the system call that made it, whichever process made it; so whoever
//! reads the instance after another process's `rename` returned sees that
//! rename. Deletions are not watched: an `IN_DELETE` event is made inside
//! every `unlinkat` in the directory, in every process, for as long as any
//! process watches it, and costs a removal about 6% of its time; a
//! removal by this process is noted by the removal itself instead (see
//! [`removal`]). From the events and those notes this module keeps, per
//! directory:
//!
//! - `counts`: the entries (`*.pending`), from a producer's listing during
//!   which no entry arrived, no event was lost and no removal of this
//!   process was under way (a *baseline*; an entry that left during the
//!   listing may still be counted, so the count is never below the truth),
//!   plus every arrival since, less every rename out and every removal by
//!   this process; and the producers' temporaries (counted the same way but
//!   allowed to be off: producers create them without a lock, so they come
//!   and go during a listing; they only tell when to list for a sweep). An
//!   entry another process deletes stays counted, so the count is an upper
//!   bound: a producer that finds the queue full by the counts lists before
//!   it refuses, and that listing is the next baseline. A lost event
//!   (`IN_Q_OVERFLOW`, a read error) or an entry count that would go below
//!   zero forgets them, and the next producer lists again.
//! - `top`: the highest sequence number seen listed or arriving (never
//!   below any pending sequenced entry).
//! - `order`: a generation, bumped whenever an entry arrives that may sort
//!   before entries already listed: a legacy (old-module) entry, which
//!   sorts first, or a sequenced entry at or below `top` (an entry put back
//!   from `corrupt/`, a crafted name, a producer of another process that
//!   numbered from a listing). An entry a producer writes is numbered above
//!   every pending one and does not bump it.
//! - the last [`LOG_LEN`](super::watched::LOG_LEN) arrivals, numbered, so that a consumer can tell
//!   what arrived while it listed (a listing is not a snapshot: it may show
//!   an entry and miss an older one created during it).
//!
//! Only local file systems whose every change passes through this kernel
//! are watched (ext2/3/4, XFS, Btrfs, tmpfs, F2FS, ZFS, bcachefs): on NFS,
//! SMB, FUSE and the like a change made on another machine makes no event,
//! so there (and where `inotify` or `/proc` is unavailable, or the watch
//! limit is reached) every caller lists, as before. A child forked without
//! `exec` starts a watcher of its own.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt as _;
use std::sync::{Mutex, PoisonError};

#[cfg(test)]
use super::watched::LOG_LEN;
pub(crate) use super::watched::{Counts, DirKey, Watched};

/// The process's watcher.
#[derive(Debug)]
struct Watcher {
    pid: u32,
    fd: OwnedFd,
    // Ordered maps: a process watches few directories, and a lookup per
    // event by comparison is cheaper than hashing the key with SipHash.
    by_wd: BTreeMap<i32, Watched>,
    by_key: BTreeMap<DirKey, i32>,
    /// The buffer events are read into, made once (zeroing 16 KiB on
    /// every read cost more than the rest of a queue write).
    buffer: Vec<u8>,
}

/// The watcher; `Err(pid)` once it could not be made in process `pid`.
static WATCHER: Mutex<Option<Result<Watcher, u32>>> = Mutex::new(None);

/// Calls `f` with what is known of the queue directory `dir` (whose device
/// and inode are `key`), after reading every event queued so far; starts
/// watching it if it is not watched yet. `None` where directories cannot
/// be watched (see the [module docs](self)): the caller lists.
pub(crate) fn with_dir<R>(
    dir: BorrowedFd<'_>,
    key: DirKey,
    f: impl FnOnce(&mut Watched) -> R,
) -> Option<R> {
    let mut slot = WATCHER.lock().unwrap_or_else(PoisonError::into_inner);
    let pid = std::process::id();
    let usable = match &*slot {
        Some(Ok(watcher)) => watcher.pid == pid,
        Some(Err(failed_in)) => {
            if *failed_in == pid {
                return None;
            }
            false
        }
        None => false,
    };
    if !usable {
        *slot = Some(Watcher::new(pid).ok_or(pid));
    }
    let Some(Ok(watcher)) = slot.as_mut() else {
        return None;
    };
    watcher.drain();
    let wd = match watcher.by_key.get(&key) {
        Some(&wd) => wd,
        None => watcher.watch(dir, key)?,
    };
    watcher.by_wd.get_mut(&wd).map(f)
}

/// Calls `f` with what this process's watch last knew of the directory
/// `key`, without reading the events queued since (no system call): a hint
/// that may be stale, for a decision that a later [`with_dir`] confirms.
pub(crate) fn peek<R>(key: DirKey, f: impl FnOnce(&Watched) -> R) -> Option<R> {
    let slot = WATCHER.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(Ok(watcher)) = slot.as_ref() else {
        return None;
    };
    let wd = *watcher.by_key.get(&key)?;
    watcher.by_wd.get(&wd).map(f)
}

/// A removal of an entry by this process from a watched directory, begun
/// with [`removal`]; [`ended`](Removal::ended) says whether the entry was
/// unlinked. Dropped without it, the removal ends as one that removed
/// nothing.
#[derive(Debug)]
pub(crate) struct Removal {
    wd: i32,
    incarnation: u64,
    ended: bool,
}

/// Begins a removal from the directory `key`, if this process watches it
/// (without reading the events queued: no system call). `None` when it is
/// not watched: there is nothing to keep right.
pub(crate) fn removal(key: DirKey) -> Option<Removal> {
    let mut slot = WATCHER.lock().unwrap_or_else(PoisonError::into_inner);
    // Not asking which process this is (a system call): in a child forked
    // without `exec` the inherited watcher is replaced at its next use,
    // whatever was noted in it.
    let Some(Ok(watcher)) = slot.as_mut() else {
        return None;
    };
    let wd = *watcher.by_key.get(&key)?;
    let watched = watcher.by_wd.get_mut(&wd)?;
    watched.removal_begins();
    Some(Removal {
        wd,
        incarnation: watched.incarnation,
        ended: false,
    })
}

impl Removal {
    /// Ends the removal: `removed` names the entry when this call unlinked
    /// it.
    pub(crate) fn ended(mut self, removed: Option<&OsStr>) {
        self.end(removed);
    }

    fn end(&mut self, removed: Option<&OsStr>) {
        self.ended = true;
        let mut slot = WATCHER.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(Ok(watcher)) = slot.as_mut() else {
            return;
        };
        // The same watch of the same directory, not one made since.
        let ours = |watched: &Watched| watched.incarnation == self.incarnation;
        // An entry taken off a count of none arrived after the events were
        // last read (a producer of this process wrote it just before):
        // they are read first, so that it is counted before it is taken
        // off, rather than the counts forgotten. Only by the process that
        // made the watcher: a child forked without `exec` shares its
        // descriptor and would take the parent's events.
        let at_zero = watcher
            .by_wd
            .get(&self.wd)
            .is_some_and(|watched| ours(watched) && watched.counts.is_some_and(|c| c.pending == 0));
        if removed.is_some() && at_zero && watcher.pid == std::process::id() {
            watcher.drain();
        }
        if let Some(watched) = watcher.by_wd.get_mut(&self.wd)
            && ours(watched)
        {
            watched.removal_ended(removed);
        }
    }
}

impl Drop for Removal {
    fn drop(&mut self) {
        if !self.ended {
            self.end(None);
        }
    }
}

impl Watcher {
    #[cfg(target_os = "linux")]
    fn new(pid: u32) -> Option<Watcher> {
        use rustix::fs::inotify;
        let fd =
            inotify::init(inotify::CreateFlags::CLOEXEC | inotify::CreateFlags::NONBLOCK).ok()?;
        Some(Watcher {
            pid,
            fd,
            by_wd: BTreeMap::new(),
            by_key: BTreeMap::new(),
            buffer: vec![0; 16 * 1024],
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn new(_pid: u32) -> Option<Watcher> {
        None
    }

    /// Starts watching `dir`; `None` if it cannot be watched.
    #[cfg(target_os = "linux")]
    fn watch(&mut self, dir: BorrowedFd<'_>, key: DirKey) -> Option<i32> {
        use rustix::fs::inotify::{self, WatchFlags};
        if !crate::no_follow::is_local(dir) {
            return None;
        }
        let flags = WatchFlags::CREATE
            | WatchFlags::MOVED_TO
            | WatchFlags::MOVED_FROM
            | WatchFlags::DELETE_SELF
            | WatchFlags::ONLYDIR;
        // The descriptor's own directory, whatever its path now is: the
        // magic link names the open file, never a path looked up again.
        let path = format!("/proc/self/fd/{}", std::os::fd::AsRawFd::as_raw_fd(&dir));
        let wd = inotify::add_watch(&self.fd, path, flags).ok()?;
        // The path was resolved anew; make sure it is the directory meant.
        let facts = crate::no_follow::facts_of(dir).ok()?;
        if (facts.dev, facts.ino) != key {
            return None;
        }
        if let Some(stale) = self.by_wd.insert(wd, Watched::new(key)) {
            self.by_key.remove(&stale.key);
        }
        self.by_key.insert(key, wd);
        Some(wd)
    }

    #[cfg(not(target_os = "linux"))]
    fn watch(&mut self, _dir: BorrowedFd<'_>, _key: DirKey) -> Option<i32> {
        None
    }

    /// Reads every event queued so far: reads until a read leaves room for
    /// one more event of the longest name (the kernel returns as many whole
    /// events as fit), or finds none.
    #[cfg(target_os = "linux")]
    fn drain(&mut self) {
        let mut buffer = std::mem::take(&mut self.buffer);
        self.read_events(&mut buffer);
        self.buffer = buffer;
    }

    /// [`drain`](Self::drain) through `buffer`.
    #[cfg(target_os = "linux")]
    fn read_events(&mut self, buffer: &mut [u8]) {
        use rustix::io::Errno;
        const HEADER: usize = 16;
        const LONGEST: usize = HEADER + 256;
        loop {
            let read = match rustix::io::read(&self.fd, &mut *buffer) {
                Ok(read) => read,
                Err(Errno::AGAIN) => return,
                Err(Errno::INTR) => continue,
                Err(_) => {
                    self.by_wd.values_mut().for_each(Watched::forget_counts);
                    return;
                }
            };
            let mut at = 0;
            while at + HEADER <= read {
                let word = |i: usize| {
                    let mut bytes = [0u8; 4];
                    bytes.copy_from_slice(&buffer[at + 4 * i..at + 4 * i + 4]);
                    u32::from_ne_bytes(bytes)
                };
                let wd = i32::from_ne_bytes(word(0).to_ne_bytes());
                let mask = word(1);
                let len = word(3) as usize;
                let end = (at + HEADER + len).min(read);
                let raw = &buffer[at + HEADER..end];
                let name = &raw[..raw.iter().position(|&b| b == 0).unwrap_or(raw.len())];
                self.event(wd, mask, name);
                at = end;
            }
            if read + LONGEST <= buffer.len() {
                return;
            }
        }
    }

    /// One event: `mask` of `IN_*` bits on watch `wd`, about `name`.
    #[cfg(target_os = "linux")]
    fn event(&mut self, wd: i32, mask: u32, name: &[u8]) {
        use rustix::fs::inotify::ReadFlags;
        let flags = ReadFlags::from_bits_retain(mask);
        if flags.contains(ReadFlags::QUEUE_OVERFLOW) {
            self.by_wd.values_mut().for_each(Watched::forget_counts);
            return;
        }
        if flags.intersects(ReadFlags::IGNORED | ReadFlags::DELETE_SELF | ReadFlags::UNMOUNT) {
            if let Some(gone) = self.by_wd.remove(&wd) {
                self.by_key.remove(&gone.key);
            }
            return;
        }
        let Some(watched) = self.by_wd.get_mut(&wd).filter(|_| !name.is_empty()) else {
            return;
        };
        let name = OsStr::from_bytes(name);
        if flags.intersects(ReadFlags::CREATE | ReadFlags::MOVED_TO) {
            watched.arrive(name);
        } else if flags.contains(ReadFlags::MOVED_FROM) {
            watched.depart(name);
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn drain(&mut self) {}
}

/// Whether the process's watcher watches the directory `key` (for tests).
#[cfg(test)]
pub(crate) fn is_watched(key: DirKey) -> bool {
    let mut slot = WATCHER.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(Ok(watcher)) = slot.as_mut() else {
        return false;
    };
    // A directory of another test, deleted, may have had the same inode:
    // read its removal first.
    watcher.drain();
    watcher.by_key.contains_key(&key)
}

#[cfg(test)]
#[path = "watch_test.rs"]
mod tests;
