// SPDX-License-Identifier: Apache-2.0
//! A waiter's claim on a turn (see `turn_wait`): writing it into a free
//! slot, renewing its lease, and taking it back, at once when the waiter
//! stops waiting, or at the release of the lock it got ([`Served`]).

use std::fs::File;

use super::{LEASE, Waiter};
use crate::lock::holder::{host_name, own_start_ticks};
use crate::lock::turn_record::{self, BLANK, Claim, SLOTS, nanos, next_claim_id, now_ns, touch};
use crate::lock::turns_seen::TurnsSeen;

/// A claim whose waiter got the lock: blanked by [`withdraw`](Self::withdraw)
/// before the lock is released.
#[derive(Debug)]
pub(crate) struct Served {
    pub(super) slot: usize,
    pub(super) claim: Claim,
}

impl Served {
    /// Blanks the claim's slot of `file` (the lock file, still locked by
    /// the caller) and tells the other claimants (an `IN_ATTRIB` event):
    /// the next claim is the next turn. Best effort.
    pub(crate) fn withdraw(&self, file: &File, seen: &TurnsSeen, table: &str) {
        if turn_record::write_slot(file, self.slot, &BLANK).is_ok() {
            let _ = touch(file);
        }
        seen.forget(table, self.claim.place());
    }
}

impl Waiter<'_, '_> {
    /// Writes this waiter's claim again with a later lapse, once half its
    /// lease has passed (while its slot still holds it).
    pub(super) fn renew_claim(&mut self) {
        let Some((slot, claim)) = &self.claim else {
            return;
        };
        let now = now_ns();
        if claim.until_ns >= self.deadline_ns()
            || claim.until_ns.saturating_sub(now) >= nanos(LEASE / 2)
        {
            return;
        }
        let slot = *slot;
        let file = &self.turn.held.lock.file;
        if turn_record::read_slot(file, slot).ok().flatten().as_ref() != Some(claim) {
            self.seen.forget(self.turn.table, claim.place());
            self.claim = None;
            return;
        }
        let mut renewed = claim.clone();
        renewed.until_ns = self.lapses_at();
        if turn_record::write_slot(file, slot, &turn_record::encode_claim(&renewed)).is_ok() {
            self.seen.add_own(self.turn.table, slot, &renewed);
            self.claim = Some((slot, renewed));
        }
    }

    /// Writes this waiter's claim into a free slot, if the lock file is
    /// still the table's (as for the holder record, nothing is written into
    /// a file that is not) and a slot is free.
    pub(super) fn claim_turn(&mut self) {
        let turn = self.turn;
        let path = &turn.held.paths.lock_file;
        if !turn
            .held
            .in_place(turn.base, turn.table, path)
            .unwrap_or(false)
        {
            return;
        }
        let read = self.seen.begin_read();
        let Ok(found) = turn_record::read_claims(&turn.held.lock.file) else {
            return;
        };
        let id = next_claim_id();
        let claim = Claim {
            pid: self.pid,
            start_ticks: own_start_ticks(),
            host: host_name().to_string(),
            id,
            since_ns: self.since_ns,
            until_ns: self.lapses_at(),
        };
        let now = now_ns();
        let taken = |slot: usize| {
            found
                .iter()
                .any(|(at, other)| *at == slot && other.until_ns > now)
        };
        // Start at a slot of its own, so that two waiters claiming at the
        // same moment seldom pick the same one.
        let first = (claim.pid as usize).wrapping_add(id as usize) % SLOTS;
        let free = (0..SLOTS)
            .map(|n| (first + n) % SLOTS)
            .find(|&slot| !taken(slot));
        self.seen.record(turn.table, read, found);
        let Some(slot) = free else { return };
        let file = &turn.held.lock.file;
        // Only its own slot: blanking the others could wipe out a claim
        // written since the read.
        if turn_record::write_slot(file, slot, &turn_record::encode_claim(&claim)).is_ok() {
            self.seen.add_own(turn.table, slot, &claim);
            self.claim = Some((slot, claim));
        }
    }

    /// Blanks slot `slot` if it still holds `claim` (another waiter may have
    /// written its own there since); true if it did.
    pub(super) fn clear_slot_of(&self, slot: usize, claim: &Claim) -> bool {
        let file = &self.turn.held.lock.file;
        turn_record::read_slot(file, slot).ok().flatten().as_ref() == Some(claim)
            && turn_record::write_slot(file, slot, &BLANK).is_ok()
    }

    /// Takes back this waiter's claim, served or not, and tells the other
    /// claimants, whose watches wake on the attribute change (see the
    /// [module docs](self)).
    pub(super) fn withdraw(&mut self) {
        if let Some((slot, claim)) = self.claim.take() {
            if self.clear_slot_of(slot, &claim) {
                let _ = touch(&self.turn.held.lock.file);
            }
            self.seen.forget(self.turn.table, claim.place());
        }
    }
}
