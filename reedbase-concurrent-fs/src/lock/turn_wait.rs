// SPDX-License-Identifier: Apache-2.0
//! How an acquisition waits for a table's lock, taking turns with the
//! other waiters (see the [module docs](super) for the contract).
//!
//! A waiter tries again on a timer (pauses doubling from [`FIRST_PAUSE`] to
//! [`MAX_PAUSE`]), without a watch: a holder that releases and takes the
//! lock again at once keeps it then, and nobody is woken for nothing. Once
//! it has waited [`CLAIM_AFTER`], it claims a turn (a slot in `write.lock`,
//! see `turn_record`) and sleeps on a watch of the table directory (see
//! `notify`). Every guard reads the slots as it releases, so the process
//! that holds the lock learns of the claim then, and from its next
//! acquisition on lets every claim made before that acquisition began go
//! first: it does not try until those claims are served, lapse or their
//! waiters are gone, reading the slots again at every try of its timer.
//!
//! Among claimants the earliest claim goes first. A claimant tries the lock
//! when a release wakes it, unless a claim it knows of is ahead of its own;
//! it reads the slots again only when a claim is taken back (a claimant
//! blanks its slot as it releases the lock it got, or as it stops waiting,
//! and then sets the times of `write.lock`: an `IN_ATTRIB` event), or after
//! a quiet interval, never after a read: the reads of the others would then
//! wake it again and again.
//!
//! Claims never make an acquisition fail: a slot that cannot be read or
//! written only means that no turn is claimed or known.

use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedResult;

use super::flock::Polled;
use super::held::Held;
use super::holder::is_certainly_gone;
use super::notify::{BURST, FALLBACK_INTERVAL, Watch, Woke};
use super::turn_record::{self, Claim, Place, nanos, now_ns, touch};
use super::turns_seen::TurnsSeen;
use crate::tables_dir::BaseDir;

pub(crate) use claim::Served;

#[path = "turn_claim.rs"]
mod claim;

/// How long a waiter waits before it claims a turn. Until then the holder
/// may take the lock again as often as it asks (that keeps a busy table
/// moving without a hand-off per write); after, it does so at most once
/// more (see the [module docs](super)).
pub(crate) const CLAIM_AFTER: Duration = Duration::from_millis(3);

/// The first pause of a waiter that is not sleeping on a watch.
const FIRST_PAUSE: Duration = Duration::from_micros(200);

/// The longest pause of a waiter that is not sleeping on a watch: how late
/// it notices that the claims ahead of it were served.
const MAX_PAUSE: Duration = Duration::from_millis(1);

/// The longest a claim is valid without being written again: the bound on
/// how long a claim of a process that is gone, but whose pid now names
/// another process, holds up the others.
const LEASE: Duration = Duration::from_secs(10);

/// How often a claimant sleeping on a watch through quiet intervals reads
/// the slots to see that its claim is still there (each read wakes its
/// watch once more).
const VERIFY_EVERY: Duration = Duration::from_secs(1);

/// How long a claim ahead holds a waiter up before the waiter checks
/// whether its process is still alive.
const CHECK_ALIVE_AFTER: Duration = Duration::from_millis(20);

/// One acquisition's lock files, base directory and table.
pub(super) struct Turn<'a> {
    pub(super) held: &'a Held,
    pub(super) base: &'a BaseDir,
    pub(super) table: &'a str,
}

/// Calls `attempt` until it returns `Some`, it fails, or `timeout` has
/// passed since `start`, taking turns with the other waiters (see the
/// [module docs](self)).
///
/// The first attempt is made at once and another at the deadline, unless
/// this process knows of a claimed turn ahead: then none is made until
/// that claim is served (so a zero timeout can mean no attempt at all). An
/// error from `attempt` is returned at once: only `None` is retried.
///
/// When the lock was taken on a claimed turn, the claim is returned with it:
/// the caller takes it back with [`Served::withdraw`] while it still holds
/// the lock (at its release), so that taking it back costs the acquisition
/// nothing. Otherwise the claim is taken back here.
pub(super) fn wait_for_turn<T>(
    start: Instant,
    timeout: Duration,
    turn: &Turn<'_>,
    mut attempt: impl FnMut() -> ReedResult<Option<T>>,
) -> ReedResult<(Polled<T>, Option<Served>)> {
    let seen = turn.base.kept().turns();
    let tried = !seen.any();
    if tried && let Some(value) = attempt()? {
        return Ok((Polled::Ready(value), None));
    }
    let mut waiter = Waiter {
        turn,
        seen,
        start,
        timeout,
        since_ns: now_ns().saturating_sub(nanos(start.elapsed())),
        claim: None,
        held_up: None,
        pid: std::process::id(),
        verified: start,
    };
    let outcome = waiter.wait(&mut attempt, tried);
    if let Ok(Polled::Ready(_)) = outcome
        && let Some((slot, claim)) = waiter.claim.take()
    {
        return outcome.map(|polled| (polled, Some(Served { slot, claim })));
    }
    waiter.withdraw();
    outcome.map(|polled| (polled, None))
}

/// A waiter's state.
struct Waiter<'a, 'b> {
    turn: &'b Turn<'a>,
    seen: &'b TurnsSeen,
    start: Instant,
    timeout: Duration,
    /// When it began waiting, in nanoseconds since the Unix epoch.
    since_ns: u64,
    /// Its claim and slot, once written.
    claim: Option<(usize, Claim)>,
    /// The claim ahead of it, and since when it has been.
    held_up: Option<(Place, Instant)>,
    /// This process's id.
    pid: u32,
    /// When a watching claimant last read the slots on a quiet interval.
    verified: Instant,
}

impl Waiter<'_, '_> {
    /// Waits; `tried` says whether the caller made the first attempt
    /// already.
    fn wait<T>(
        &mut self,
        attempt: &mut impl FnMut() -> ReedResult<Option<T>>,
        mut tried: bool,
    ) -> ReedResult<Polled<T>> {
        let mut pause = FIRST_PAUSE;
        let mut watch: Option<Watch> = None;
        let mut can_watch = true;
        let mut woke = Woke::Quiet;
        loop {
            if self.claim.is_none() && self.start.elapsed() >= CLAIM_AFTER {
                self.claim_turn();
                pause = FIRST_PAUSE;
            } else {
                self.renew_claim();
            }
            // A watcher reads the slots only after a change of claims (an
            // attribute event: a claim taken back) or after a quiet
            // interval, never after a read: its own read and those of the
            // others would wake it again and again. After a change it reads
            // them whatever it knows, which also shows whether its own claim
            // is still there (two waiters may have picked the same slot).
            let read = watch.is_none() || !matches!(woke, Woke::Announced | Woke::Probe);
            if watch.is_some()
                && (woke == Woke::Changed
                    || (woke == Woke::Quiet && self.verified.elapsed() >= VERIFY_EVERY))
            {
                self.read_slots();
                self.verified = Instant::now();
            }
            let mine = self.my_turn(read);
            if tried {
                tried = false;
            } else if mine && let Some(value) = attempt()? {
                return Ok(Polled::Ready(value));
            }
            let Some(left) = self.left() else {
                return Ok(Polled::TimedOut(self.start.elapsed()));
            };
            if can_watch && self.claim.is_some() {
                // A claimant sleeps until a release (its turn, if no claim
                // goes before it) or a change of claims.
                let Some(watch) = watch.as_mut() else {
                    watch = Watch::new(&self.turn.held.dir);
                    can_watch = watch.is_some();
                    // Made: try again at once, so that a release before the
                    // watch existed is not missed.
                    woke = Woke::Quiet;
                    continue;
                };
                if mine && woke == Woke::Release {
                    // A close can come just before the unlock (a holder that
                    // died): a few more tries.
                    for pause in BURST {
                        let Some(left) = self.left() else { break };
                        thread::sleep(pause.min(left));
                        if let Some(value) = attempt()? {
                            return Ok(Polled::Ready(value));
                        }
                    }
                }
                let Some(left) = self.left() else { continue };
                woke = match watch.wait(left.min(FALLBACK_INTERVAL)) {
                    Ok(woke) => woke,
                    Err(_) => {
                        can_watch = false;
                        Woke::Quiet
                    }
                };
                continue;
            }
            watch = None;
            woke = Woke::Quiet;
            let mut nap = pause.min(left);
            let to_claim = CLAIM_AFTER.saturating_sub(self.start.elapsed());
            if self.claim.is_none() && !to_claim.is_zero() {
                nap = nap.min(to_claim);
            }
            thread::sleep(nap);
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }

    /// The time left before the deadline, `None` once it has passed.
    fn left(&self) -> Option<Duration> {
        self.timeout
            .checked_sub(self.start.elapsed())
            .filter(|left| !left.is_zero())
    }

    /// This waiter's place in line.
    fn place(&self) -> Place {
        match &self.claim {
            Some((_, claim)) => claim.place(),
            None => (self.since_ns, self.pid, u64::MAX),
        }
    }

    /// Whether no claim this process knows of goes before this waiter. If
    /// one does and `read` is true, the slots are read again first, and a
    /// claim ahead that has held this waiter up for [`CHECK_ALIVE_AFTER`]
    /// is checked for a live waiter.
    fn my_turn(&mut self, read: bool) -> bool {
        if !self.seen.any() {
            return true;
        }
        let me = self.place();
        if self.seen.ahead_of(self.turn.table, me, now_ns()).is_none() {
            self.held_up = None;
            return true;
        }
        if !read {
            return false;
        }
        self.read_slots();
        let Some((slot, ahead)) = self.seen.ahead_of(self.turn.table, me, now_ns()) else {
            self.held_up = None;
            return true;
        };
        match self.held_up {
            Some((place, since)) if place == ahead.place() => {
                if since.elapsed() >= CHECK_ALIVE_AFTER
                    && is_certainly_gone(ahead.pid, ahead.start_ticks, &ahead.host)
                {
                    if self.clear_slot_of(slot, &ahead) {
                        let _ = touch(&self.turn.held.lock.file);
                    }
                    self.seen.forget(self.turn.table, ahead.place());
                    self.held_up = None;
                    return self.seen.ahead_of(self.turn.table, me, now_ns()).is_none();
                }
            }
            _ => self.held_up = Some((ahead.place(), Instant::now())),
        }
        false
    }

    /// Reads the slots: learns the claims, and sees whether this waiter's
    /// claim is still in its slot (if not, it claims again later).
    fn read_slots(&mut self) {
        let read = self.seen.begin_read();
        let Ok(found) = turn_record::read_claims(&self.turn.held.lock.file) else {
            return;
        };
        if let Some((slot, claim)) = &self.claim
            && !found.iter().any(|(at, c)| at == slot && c == claim)
        {
            self.seen.forget(self.turn.table, claim.place());
            self.claim = None;
        }
        self.seen.record(self.turn.table, read, found);
    }

    /// When a claim written now lapses: at the deadline, or after
    /// [`LEASE`], whichever is first.
    fn lapses_at(&self) -> u64 {
        self.deadline_ns()
            .min(now_ns().saturating_add(nanos(LEASE)))
    }

    /// The deadline, in nanoseconds since the Unix epoch.
    fn deadline_ns(&self) -> u64 {
        self.since_ns.saturating_add(nanos(self.timeout))
    }
}

#[cfg(test)]
#[path = "turn_wait_test.rs"]
mod tests;
