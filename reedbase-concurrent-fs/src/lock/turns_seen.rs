// SPDX-License-Identifier: Apache-2.0
//! What a process knows of the claims on its tables' locks ([`TurnsSeen`],
//! one per base directory): learnt from every read of a lock file's claim
//! slots, above all the read with which a guard announces its release, so
//! that a process that has just released a lock knows, before it asks
//! again, whether a waiter has claimed the next turn.
//!
//! Only claims of this host that have not lapsed are kept; claims of other
//! hosts are not honoured (their processes cannot be checked from here).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use super::holder::host_name;
use super::turn_record::{Claim, Claims, Place};

/// The claims this process knows of, per table of one base directory.
#[derive(Debug, Default)]
pub(crate) struct TurnsSeen {
    /// Whether any table has a claim known: false on the fast path, where
    /// nobody has claimed anything, so that no lock is taken.
    any: AtomicBool,
    /// Numbers the reads of claim slots, so that an older read recorded
    /// late never replaces a newer one.
    reads: AtomicU64,
    tables: Mutex<Vec<Known>>,
}

/// The claims known for one table, and the number of the read (or change)
/// they come from.
#[derive(Debug)]
struct Known {
    table: String,
    read: u64,
    claims: Claims,
}

impl TurnsSeen {
    /// A number for a read of the slots about to start; pass it to
    /// [`record`](Self::record) with what the read found.
    pub(super) fn begin_read(&self) -> u64 {
        self.reads.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Whether a claim is known for any table (a relaxed look: the claims
    /// themselves are read under the lock).
    pub(super) fn any(&self) -> bool {
        self.any.load(Ordering::Acquire)
    }

    /// Replaces what is known of `table` with what read number `read`
    /// found, unless a later read or change was recorded already.
    pub(super) fn record(&self, table: &str, read: u64, found: Claims) {
        if found.is_empty() && !self.any() {
            return;
        }
        let host = host_name();
        let claims: Claims = found
            .into_iter()
            .filter(|(_, claim)| claim.host == host)
            .collect();
        self.change(table, |known| {
            if known.read < read {
                known.read = read;
                known.claims = claims;
            }
        });
    }

    /// Notes a claim this process has just written into slot `slot`, so
    /// that its other threads let it go first.
    pub(super) fn add_own(&self, table: &str, slot: usize, claim: &Claim) {
        let read = self.begin_read();
        self.change(table, |known| {
            known.read = known.read.max(read);
            known.claims.retain(|(at, _)| *at != slot);
            known.claims.push((slot, claim.clone()));
        });
    }

    /// Forgets the claim at `place` (its waiter was served, gave up or is
    /// gone).
    pub(super) fn forget(&self, table: &str, place: Place) {
        let read = self.begin_read();
        self.change(table, |known| {
            known.read = known.read.max(read);
            known.claims.retain(|(_, claim)| claim.place() != place);
        });
    }

    /// The claim that goes before a waiter at place `me`: the earliest
    /// known claim of another waiter, earlier in line than `me`, that has
    /// not lapsed by `now_ns`; with its slot.
    pub(super) fn ahead_of(&self, table: &str, me: Place, now_ns: u64) -> Option<(usize, Claim)> {
        if !self.any() {
            return None;
        }
        let tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        let known = tables.iter().find(|known| known.table == table)?;
        known
            .claims
            .iter()
            .filter(|(_, claim)| claim.place() < me && claim.until_ns > now_ns)
            .min_by_key(|(_, claim)| claim.place())
            .cloned()
    }

    /// Runs `change` on the entry of `table` (made if missing), then drops
    /// entries without claims and updates [`any`](Self::any).
    fn change(&self, table: &str, change: impl FnOnce(&mut Known)) {
        let mut tables = self.tables.lock().unwrap_or_else(PoisonError::into_inner);
        let at = match tables.iter().position(|known| known.table == table) {
            Some(at) => at,
            None => {
                tables.push(Known {
                    table: table.to_string(),
                    read: 0,
                    claims: Vec::new(),
                });
                tables.len() - 1
            }
        };
        change(&mut tables[at]);
        // An entry without claims is dropped with its read number: a late,
        // older read may then bring back a claim served since, which costs
        // a waiter one more read of the slots (it reads them before it
        // defers), never a claim missed.
        tables.retain(|known| !known.claims.is_empty());
        self.any.store(!tables.is_empty(), Ordering::Release);
    }
}

#[cfg(test)]
#[path = "turns_seen_test.rs"]
mod tests;
