// SPDX-License-Identifier: Apache-2.0
//! What the process's watch knows of one queue directory: the counts since
//! a baseline listing (entries and temporaries),
//! the highest sequence seen, the order generation and the recent arrivals
//! (see the `watch` module for where they come from).

use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::entry_id::{is_beyond_producers, is_temporary, parse_sequence_bytes, pending_stem};

/// How many arrivals each watched directory remembers.
pub(crate) const LOG_LEN: usize = 1024;

/// A queue directory by device and inode.
pub(crate) type DirKey = (u64, u64);

/// See [`Watched::listing_mark`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListingMark(u64, u64, u64, u64);

/// The counts of a watched directory since its baseline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) pending: usize,
    pub(crate) temporaries: usize,
}

/// One arrival of an entry file.
#[derive(Debug, Clone)]
pub(crate) struct Arrival {
    pub(crate) name: OsString,
    /// `None` for a legacy entry.
    pub(crate) sequence: Option<u128>,
}

/// The next [`Watched::incarnation`].
static INCARNATIONS: AtomicU64 = AtomicU64::new(0);

/// What is known of one watched directory.
#[derive(Debug)]
pub(crate) struct Watched {
    pub(super) key: DirKey,
    /// Unique to this watch in the life of the process: a directory
    /// watched again (deleted and made anew, or after a fork) is another.
    pub(crate) incarnation: u64,
    pub(crate) counts: Option<Counts>,
    pub(crate) top: Option<u128>,
    pub(crate) order: u64,
    /// Since when `counts` has held temporaries without a break (or since
    /// the last sweep), `None` while it holds none or is unknown.
    temporaries_since: Option<Instant>,
    /// Arrivals numbered from `arrivals_seen - log.len()`.
    log: VecDeque<Arrival>,
    pub(crate) arrivals_seen: u64,
    /// This process's removals of entries begun and ended (see
    /// [`removal_begins`](Self::removal_begins)).
    removals_begun: u64,
    removals_ended: u64,
}

impl Watched {
    pub(super) fn new(key: DirKey) -> Self {
        Watched {
            key,
            incarnation: INCARNATIONS.fetch_add(1, Ordering::Relaxed),
            counts: None,
            top: None,
            order: 0,
            temporaries_since: None,
            log: VecDeque::new(),
            arrivals_seen: 0,
            removals_begun: 0,
            removals_ended: 0,
        }
    }

    /// The arrivals numbered `since` and later, or `None` if some of them
    /// are no longer remembered.
    pub(crate) fn arrivals_since(&self, since: u64) -> Option<impl Iterator<Item = &Arrival>> {
        let first = self.arrivals_seen - self.log.len() as u64;
        let skip = since.checked_sub(first)?;
        Some(self.log.iter().skip(usize::try_from(skip).ok()?))
    }

    /// What must stay the same while a producer lists the directory for
    /// its listing to become the baseline (see [`take_listing`](Self::take_listing)).
    pub(crate) fn listing_mark(&self) -> ListingMark {
        ListingMark(
            self.incarnation,
            self.arrivals_seen,
            self.order,
            self.removals_begun,
        )
    }

    /// Takes a listing a producer made under the producers' lock since
    /// `mark` as the baseline, when no entry arrived, no event was lost and
    /// no removal of this process began meanwhile, and none is under way
    /// (files only left through others' hands, or nothing changed): every
    /// entry pending now was pending all along, so the listing saw each of
    /// them; it may also have counted some that left during it, so
    /// `pending` is never below the truth (a count at capacity makes
    /// producers list, so an overcount refuses nothing) and `top` never
    /// below the highest pending sequence. Otherwise only raises `top`.
    pub(crate) fn take_listing(
        &mut self,
        mark: ListingMark,
        counts: Counts,
        highest: Option<u128>,
    ) {
        if self.listing_mark() == mark && self.removals_begun == self.removals_ended {
            self.counts = Some(counts);
            // Lowering it is safe for a consumer's kept listing: its
            // entries above the highest pending are all gone.
            self.top = highest;
        } else {
            self.raise_top(highest);
        }
    }

    /// Raises `top` to `sequence` (a listing's highest).
    pub(crate) fn raise_top(&mut self, sequence: Option<u128>) {
        self.top = self.top.max(sequence);
    }

    /// True when the counts have held temporaries for `age` or longer
    /// (since the last [`temporaries_checked`](Self::temporaries_checked)):
    /// one may belong to a producer that died.
    pub(crate) fn temporaries_counted_for(&self, age: Duration) -> bool {
        match self.counts {
            Some(counts) if counts.temporaries > 0 => self
                .temporaries_since
                .is_none_or(|since| since.elapsed() >= age),
            _ => false,
        }
    }

    /// Notes that the temporaries now counted were just looked at (and the
    /// abandoned ones swept).
    pub(crate) fn temporaries_checked(&mut self) {
        self.temporaries_since = self
            .counts
            .filter(|counts| counts.temporaries > 0)
            .map(|_| Instant::now());
    }

    pub(super) fn forget_counts(&mut self) {
        self.counts = None;
        self.temporaries_since = None;
        self.order += 1;
    }

    pub(super) fn arrive(&mut self, name: &OsStr) {
        if let Some(stem) = pending_stem(name) {
            if let Some(counts) = &mut self.counts {
                counts.pending += 1;
            }
            let sequence = parse_sequence_bytes(stem.as_encoded_bytes());
            match sequence {
                Some(s) if !is_beyond_producers(s) => {
                    if self.top.is_some_and(|top| s <= top) {
                        self.order += 1;
                    }
                    self.top = self.top.max(Some(s));
                }
                _ => self.order += 1,
            }
            if self.log.len() == LOG_LEN {
                self.log.pop_front();
            }
            self.log.push_back(Arrival {
                name: name.to_os_string(),
                sequence,
            });
            self.arrivals_seen += 1;
        } else if is_temporary(name)
            && let Some(counts) = &mut self.counts
        {
            if counts.temporaries == 0 {
                self.temporaries_since = Some(Instant::now());
            }
            counts.temporaries += 1;
        }
    }

    /// Notes that this process is about to remove an entry. Until the
    /// matching [`removal_ended`](Self::removal_ended), no listing becomes
    /// the baseline: it might miss the entry already unlinked, and the
    /// count would then lose it twice.
    pub(super) fn removal_begins(&mut self) {
        self.removals_begun += 1;
    }

    /// Ends a removal begun with [`removal_begins`](Self::removal_begins):
    /// `removed` names the entry when this process unlinked it (the kernel
    /// reports no deletion, see the `watch` module), `None` when it did
    /// not.
    pub(super) fn removal_ended(&mut self, removed: Option<&OsStr>) {
        self.removals_ended += 1;
        if let Some(name) = removed {
            self.depart(name);
        }
    }

    pub(super) fn depart(&mut self, name: &OsStr) {
        if pending_stem(name).is_some() {
            if let Some(counts) = &mut self.counts {
                match counts.pending.checked_sub(1) {
                    Some(left) => counts.pending = left,
                    None => self.forget_counts(),
                }
            }
        } else if is_temporary(name)
            && let Some(counts) = &mut self.counts
        {
            counts.temporaries = counts.temporaries.saturating_sub(1);
            if counts.temporaries == 0 {
                self.temporaries_since = None;
            }
        }
    }
}
