// SPDX-License-Identifier: Apache-2.0
//! A consumer's ordered listing, kept between pops by one
//! [`FsBackend`](crate::FsBackend) (and its clones), so that a pop from a
//! deep queue costs one entry read instead of a listing and a sort.
//!
//! A listing stays usable while it is known to hold, in order, every entry
//! that sorts before its tail:
//!
//! - An entry a producer writes is numbered above every pending entry, so
//!   it sorts after every entry of the listing that is still pending; the
//!   listed entries that are gone (removed by another consumer or an
//!   operator) are skipped when met. So producers never spoil a listing:
//!   when it runs out, the consumer lists again and finds what they wrote.
//! - What may sort before the tail is an entry of the old module (legacy
//!   entries come first), or a sequenced entry at or below the highest
//!   sequence seen (put back from `corrupt/`, crafted, or numbered by a
//!   process that did not see the whole queue). The `watch`
//!   module bumps the directory's `order` on each such arrival, and on any
//!   lost event; a listing taken at one `order` is dropped once it moved.
//! - An arrival while the listing was being read (a listing is not a
//!   snapshot) is checked against it: one that the listing missed and that
//!   sorts before its tail means the listing is not kept.
//! - An entry skipped and left in place (an old-module entry still being
//!   written, one that could not be moved aside) must be looked at again
//!   on the next call, as before: a listing with one is not kept.
//! - The listing is of one directory by device and inode, and of one
//!   watch of it: a queue directory replaced or made anew is listed anew.
//! - A listing that runs out before a call's `max` is listed again, to
//!   find what producers wrote since, unless nothing at all arrived in the
//!   directory since the listing began (every name created or renamed in
//!   is an arrival): then it still holds every pending entry, and an empty
//!   queue is not listed on every call.
//!
//! Where directories cannot be watched (see the `watch` module),
//! nothing is kept and every call lists, as before.

use std::collections::{HashMap, HashSet, VecDeque};
use std::ffi::OsStr;
use std::os::fd::{AsFd, OwnedFd};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use reedbase_concurrent_core::{PendingWrite, ReedResult};

use super::consumer::take_ready;
use super::entry_id::is_beyond_producers;
use super::late_free::BaseKey;
use super::listing::{Candidate, ordered_entries};
use super::watch::{self, DirKey};
use crate::no_follow::{Stamp, facts_of};
use crate::tables_dir::TablePaths;

/// A queue directory that a call found without an entry: its device and
/// inode, and its stamp taken before it was read, with when.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FoundEmpty {
    pub(crate) key: DirKey,
    pub(crate) stamp: Stamp,
    pub(crate) seen_at: SystemTime,
}

/// The kept listings of one backend, per table.
#[derive(Debug, Default)]
pub(crate) struct Listings {
    tables: Mutex<HashMap<String, Arc<Mutex<Option<Listing>>>>>,
}

/// One kept listing.
#[derive(Debug)]
struct Listing {
    key: DirKey,
    incarnation: u64,
    order: u64,
    /// The watch's count of arrivals when the listing began: with none
    /// since, every entry pending now is in `entries` (or gone).
    arrivals: u64,
    entries: VecDeque<Candidate>,
}

impl Listings {
    fn slot(&self, table: &str) -> Arc<Mutex<Option<Listing>>> {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        // Looked up before the name is copied: a table's slot is made once.
        if let Some(slot) = tables.get(table) {
            return Arc::clone(slot);
        }
        Arc::clone(tables.entry(table.to_string()).or_default())
    }

    /// `get_pending_batch` through the kept listing of `table`, listing
    /// the directory only when there is none or it cannot be trusted.
    ///
    /// # Errors
    ///
    /// As [`super::consumer::pending_batch`].
    pub(crate) fn pending_batch(
        &self,
        queue: Option<OwnedFd>,
        paths: &TablePaths,
        table: &str,
        (max, keep_reads): (usize, Option<BaseKey>),
        max_entry_bytes: u64,
        found_empty: &mut Option<FoundEmpty>,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        let slot = self.slot(table);
        let mut kept = slot.lock().unwrap_or_else(PoisonError::into_inner);
        // Taken out whatever follows: only a listing checked below goes back.
        let listing = kept.take();
        let Some(queue) = queue.filter(|_| max > 0) else {
            return Ok(Vec::new());
        };
        let Ok(facts) = facts_of(&queue) else {
            return super::consumer::pending_batch(Some(queue), paths, max, max_entry_bytes);
        };
        let key = (facts.dev, facts.ino);
        let keep = keep_reads.map(|base| (base, key));
        // Taken before the directory is read: an entry that arrives later
        // moves the stamp.
        let empty = FoundEmpty {
            key,
            stamp: facts.stamp,
            seen_at: SystemTime::now(),
        };
        // Lists the directory afresh (see `list`).
        let list = |kept: &mut Option<Listing>, queue, found_empty: &mut Option<FoundEmpty>| {
            self.list(
                kept,
                queue,
                empty,
                paths,
                (max, keep),
                max_entry_bytes,
                found_empty,
            )
        };
        let Some(listing) = listing else {
            return list(&mut kept, queue, found_empty);
        };
        let current = watch::with_dir(queue.as_fd(), key, |w| {
            let nothing_arrived = w
                .arrivals_since(listing.arrivals)
                .is_some_and(|mut arrivals| arrivals.next().is_none());
            (w.incarnation, w.order, nothing_arrived)
        });
        let Some((incarnation, order, nothing_arrived)) = current else {
            return list(&mut kept, queue, found_empty);
        };
        if listing.key != key || (incarnation, order) != (listing.incarnation, listing.order) {
            return list(&mut kept, queue, found_empty);
        }
        let mut listing = listing;
        let taken = take_ready(
            queue.as_fd(),
            keep,
            paths,
            &mut listing.entries,
            max,
            max_entry_bytes,
        )?;
        // Run out before `max`: what producers wrote since is not in the
        // listing, unless nothing arrived since it began (an empty queue
        // between submits is not listed again).
        if !taken.complete && !nothing_arrived {
            return list(&mut kept, queue, found_empty);
        }
        // Nothing left in a listing that holds every pending entry.
        if nothing_arrived && taken.found.is_empty() && listing.entries.is_empty() {
            *found_empty = Some(empty);
        }
        if taken.settled {
            *kept = Some(listing);
        }
        Ok(taken.found)
    }

    /// Lists the directory `queue` (device and inode `key`, `max` above 0),
    /// takes the batch from the listing (keeping the descriptors it read
    /// through under `keep`, see [`take_ready`]) and keeps the listing in
    /// `kept` if it may be trusted.
    #[allow(clippy::too_many_arguments)]
    fn list(
        &self,
        kept: &mut Option<Listing>,
        queue: OwnedFd,
        empty: FoundEmpty,
        paths: &TablePaths,
        (max, keep): (usize, Option<(BaseKey, DirKey)>),
        max_entry_bytes: u64,
        found_empty: &mut Option<FoundEmpty>,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        let key = empty.key;
        let before = watch::with_dir(queue.as_fd(), key, |w| (w.incarnation, w.arrivals_seen));
        let mut entries = VecDeque::from(ordered_entries(queue.as_fd(), &paths.queue_dir)?);
        if entries.is_empty() {
            // Read after its stamp was taken: no entry then.
            *found_empty = Some(empty);
        }
        let trusted = before.and_then(|before| trust(&queue, key, before, &entries));
        let taken = take_ready(
            queue.as_fd(),
            keep,
            paths,
            &mut entries,
            max,
            max_entry_bytes,
        )?;
        if let Some((incarnation, order)) = trusted.filter(|_| taken.settled) {
            *kept = Some(Listing {
                key,
                incarnation,
                order,
                arrivals: before.map_or(0, |(_, arrivals)| arrivals),
                entries,
            });
        }
        Ok(taken.found)
    }
}

/// Up to this many removed ids are compared one by one, without building a
/// set of them.
const FEW_IDS: usize = 8;

impl Listings {
    /// Drops the kept listing of `table`.
    pub(crate) fn forget(&self, table: &str) {
        *self
            .slot(table)
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = None;
    }

    /// Forgets entries of `table` removed through this backend, when they
    /// are at the front of its listing (others are skipped when met).
    pub(crate) fn removed<S: AsRef<str>>(&self, table: &str, ids: &[S]) {
        let slot = self.slot(table);
        let mut kept = slot.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(listing) = kept.as_mut() else {
            return;
        };
        // One id (`remove_from_queue`) or a few are looked for among them;
        // a batch's many through a set.
        let removed: Option<HashSet<&str>> =
            (ids.len() > FEW_IDS).then(|| ids.iter().map(AsRef::as_ref).collect());
        let is_removed = |id: &str| match &removed {
            Some(set) => set.contains(id),
            None => ids.iter().any(|removed| removed.as_ref() == id),
        };
        while listing
            .entries
            .front()
            .is_some_and(|front| is_removed(front.id.as_str()))
        {
            listing.entries.pop_front();
        }
    }
}

/// After a listing of the directory `key`, begun when the watch was at
/// `before` (its incarnation and arrivals): the `(incarnation, order)` to
/// keep the listing under, or `None` if it cannot be trusted (an arrival
/// during the listing that it missed and that sorts before its tail, or
/// one no longer remembered). Raises the watch's `top` to the listing's
/// highest sequence first, so that a later arrival at or below it moves
/// `order`.
fn trust(
    queue: &OwnedFd,
    key: DirKey,
    before: (u64, u64),
    entries: &VecDeque<Candidate>,
) -> Option<(u64, u64)> {
    let tail = entries
        .iter()
        .filter_map(|candidate| candidate.sequence)
        .filter(|sequence| !is_beyond_producers(*sequence))
        .max();
    watch::with_dir(queue.as_fd(), key, |w| {
        if w.incarnation != before.0 {
            return None;
        }
        w.raise_top(tail);
        let mut arrivals = w.arrivals_since(before.1)?.peekable();
        if arrivals.peek().is_some() {
            let listed: HashSet<&OsStr> = entries.iter().map(|c| c.name.as_os_str()).collect();
            let fine = arrivals.all(|arrival| {
                listed.contains(arrival.name.as_os_str())
                    || arrival
                        .sequence
                        .is_some_and(|sequence| tail.is_none_or(|tail| sequence > tail))
            });
            if !fine {
                return None;
            }
        }
        Some((w.incarnation, w.order))
    })
    .flatten()
}

#[cfg(test)]
#[path = "cache_test.rs"]
mod tests;
