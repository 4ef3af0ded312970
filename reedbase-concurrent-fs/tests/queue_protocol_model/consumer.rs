// SPDX-License-Identifier: Apache-2.0
//! The consumer's steps: the coordinator's drain under the table lock
//! (`acquire_lock`, `get_next_pending`, `apply`, `remove_batch_from_queue`
//! with its directory fsync when durable) and `corrupt::move_aside` for an
//! entry that cannot be read. A restarted process starts here again: the
//! start-up recipe is a drain.

use super::checker::Successor;
use super::fs::{Content, Dir, Ino, Name};
use super::properties::{Violation, check_apply};
use super::protocol::{Action, Actor, Listing, Model, Mutation, Step};
use super::state::{ConsumerPc, State, Submit, bit};

/// The most copies `move_aside` makes under one id in the model (the code
/// allows 1000): one more than a move interrupted by each fault (an orphan
/// reason file) and undone by each power cut (a copy already aside) can
/// use up, so the model never runs out where the code would not.
fn max_copies(model: &Model) -> u8 {
    2 + model.config.max_crashes + 2 * model.config.max_power_cuts
}

/// Every step the consumer can take from `state`.
pub(crate) fn successors(model: &Model, state: &State, out: &mut Vec<Successor>) {
    let consumer = &state.consumer;
    let (seq, write) = consumer.entry;
    let entry = Name::Pending { seq, write };
    let mut next = state.clone();
    let mut violation = None;
    let action = match consumer.pc {
        // `acquire_lock` is eager (see `is_eager`): the lock of the only
        // consumer is taken and the head read in one step.
        ConsumerPc::Idle | ConsumerPc::Head | ConsumerPc::Listing | ConsumerPc::Recheck => {
            return get_next_pending(model, state, out);
        }
        ConsumerPc::Drain(at) => {
            let action = model.drain[usize::from(at)];
            match action {
                Action::Apply => {
                    if state.applied & bit(write) == 0 {
                        violation = check_apply(state, write);
                        next.applied |= bit(write);
                    }
                }
                Action::RemoveFromQueue => {
                    if !next.fs.unlink(entry) {
                        // `QueueEntryNotFound`: the call ends with an error.
                        next.consumer.pc = ConsumerPc::Idle;
                        next.consumer.submit = Submit::No;
                        return push(model, out, action, 0, next, None);
                    }
                }
                Action::FsyncQueueDir => next.fs.fsync_dir(Dir::Queue),
                other => unreachable!("not a drain step: {other}"),
            }
            let resume = usize::from(at) + 1;
            next.consumer.pc = ConsumerPc::Drain(resume as u8);
            if action == Action::Apply && consumer.submit == Submit::LastPass {
                next.consumer.pc = ConsumerPc::ApplyOwn(resume as u8);
            } else if resume == model.drain.len() {
                end_of_pass(&mut next);
            }
            action
        }
        ConsumerPc::ApplyOwn(resume) => {
            let own = model.config.write_count();
            violation = check_apply(state, own);
            next.applied |= bit(own);
            next.consumer.submit = Submit::Done;
            next.consumer.pc = ConsumerPc::Drain(resume);
            if usize::from(resume) == model.drain.len() {
                end_of_pass(&mut next);
            }
            Action::ApplyOwn
        }
        ConsumerPc::Aside(at) => {
            let action = model.aside[usize::from(at)];
            let copy = consumer.copy;
            let reason = Name::Reason { seq, write, copy };
            let reason_ino = Ino::Reason {
                write,
                copy,
                cut: state.power_cuts,
            };
            match action {
                Action::CreateReason => {
                    // `create_new` of the reason file, the first copy free.
                    let free = (copy.max(1)..=max_copies(model)).find(|c| {
                        !state.fs.exists(Name::Reason {
                            seq,
                            write,
                            copy: *c,
                        })
                    });
                    let Some(copy) = free else {
                        // Cannot be moved: skipped, left in place.
                        next.consumer.pc = ConsumerPc::Idle;
                        return push(model, out, action, 1, next, None);
                    };
                    next.consumer.copy = copy;
                    let ino = Ino::Reason {
                        write,
                        copy,
                        cut: state.power_cuts,
                    };
                    next.fs.create(Name::Reason { seq, write, copy }, ino);
                }
                Action::WriteReason => next.fs.write(reason_ino),
                Action::FsyncReason => next.fs.fsync_file(reason_ino),
                Action::FsyncCorruptDir => next.fs.fsync_dir(Dir::Corrupt),
                Action::FsyncQueueDir => next.fs.fsync_dir(Dir::Queue),
                Action::RenameAside => {
                    let aside = Name::Aside { seq, write, copy };
                    if state.fs.exists(aside) {
                        // `RENAME_NOREPLACE` refused: take the reason back,
                        // try the next copy.
                        next.fs.unlink(reason);
                        next.consumer.copy = copy + 1;
                        next.consumer.pc = ConsumerPc::Aside(0);
                        return push(model, out, action, 1, next, None);
                    }
                    if !next.fs.rename(entry, aside) {
                        // Gone meanwhile: take the reason back.
                        next.fs.unlink(reason);
                        next.consumer.pc = ConsumerPc::Head;
                        return push(model, out, action, 2, next, None);
                    }
                }
                other => unreachable!("not a move_aside step: {other}"),
            }
            next.consumer.pc = match usize::from(at) + 1 {
                end if end == model.aside.len() => ConsumerPc::Head,
                at => ConsumerPc::Aside(at as u8),
            };
            action
        }
    };
    push(model, out, action, 0, next, violation);
}

/// The oldest entry by sequence (any of those that tie: their UUIDs order
/// them, in an order the model does not fix); none ends the drain and
/// releases the lock. An entry that cannot be read is moved aside. With a
/// listing that is not a snapshot, this is two steps: the listing begins,
/// other processes may step, and it ends having seen every entry present
/// throughout and any subset of those that came or went meanwhile. Then a
/// second listing, in two steps too, checks it: if the second holds an
/// entry the first did not that sorts before the first's last (a tie
/// counts), the second is checked in turn; else the head is taken from
/// the first (as `listing::ordered_entries`).
fn get_next_pending(model: &Model, state: &State, out: &mut Vec<Successor>) {
    let action = match state.consumer.pc {
        ConsumerPc::Idle => Action::AcquireLock,
        _ => Action::GetNextPending,
    };
    let now: Vec<(u8, u8)> = state
        .fs
        .pending()
        .map(|(seq, write, _)| (seq, write))
        .collect();
    match (model.config.listing, state.consumer.pc) {
        (Listing::Snapshot, _) => deliver(model, state, &now, action, 0, out),
        (Listing::Posix, ConsumerPc::Listing | ConsumerPc::Recheck) => {
            let consumer = &state.consumer;
            let unchecked = model.config.mutation == Some(Mutation::UncheckedListing);
            let maybe: Vec<(u8, u8)> = consumer
                .ever
                .iter()
                .filter(|entry| !consumer.throughout.contains(entry))
                .copied()
                .collect();
            for subset in 0u8..(1 << maybe.len()) {
                let mut seen = consumer.throughout.clone();
                seen.extend(
                    maybe
                        .iter()
                        .enumerate()
                        .filter(|(at, _)| subset & (1 << at) != 0)
                        .map(|(_, entry)| *entry),
                );
                seen.sort_unstable();
                let checking = consumer.pc == ConsumerPc::Recheck;
                if !unchecked && (!checking || misses_an_earlier_entry(&consumer.listed, &seen)) {
                    // Checked by (another) listing.
                    let mut next = state.clone();
                    next.consumer.pc = ConsumerPc::Recheck;
                    next.consumer.listed = seen;
                    next.consumer.throughout = now.clone();
                    next.consumer.ever = now.clone();
                    // Outcome 1: a check found an entry missed before it.
                    let again = u8::from(checking);
                    push(model, out, Action::ListQueueAgain, again, next, None);
                    continue;
                }
                let mut seen = if checking {
                    consumer.listed.clone()
                } else {
                    seen
                };
                // An entry seen but gone since is met as gone and skipped.
                seen.retain(|entry| now.contains(entry));
                deliver(model, state, &seen, action, subset * 4, out);
            }
        }
        (Listing::Posix, _) => {
            let mut next = state.clone();
            next.consumer.pc = ConsumerPc::Listing;
            next.consumer.throughout = now.clone();
            next.consumer.ever = now;
            let begins = state.consumer.pc == ConsumerPc::Idle;
            if begins && matches!(state.consumer.submit, Submit::Before { .. }) {
                next.preceded_by[usize::from(model.config.write_count())] = state.acked;
            }
            let action = match state.consumer.pc {
                ConsumerPc::Idle => Action::AcquireLock,
                _ => Action::ListQueue,
            };
            push(model, out, action, 0, next, None);
        }
    }
}

/// True when `again` holds an entry that `listed` does not and whose
/// sequence is not above the highest in `listed` (entries that tie are
/// ordered by UUIDs the model does not fix).
fn misses_an_earlier_entry(listed: &[(u8, u8)], again: &[(u8, u8)]) -> bool {
    let Some(highest) = listed.iter().map(|(seq, _)| *seq).max() else {
        return false;
    };
    again
        .iter()
        .any(|entry| !listed.contains(entry) && entry.0 <= highest)
}

/// The head of `seen`, or the end of the drain if it is empty.
fn deliver(
    model: &Model,
    state: &State,
    seen: &[(u8, u8)],
    action: Action,
    choice: u8,
    out: &mut Vec<Successor>,
) {
    let mut next = state.clone();
    next.consumer.throughout.clear();
    next.consumer.ever.clear();
    next.consumer.listed.clear();
    let own_first = model.config.mutation == Some(Mutation::OwnWriteFirst);
    if let Submit::Before { .. } = state.consumer.submit {
        if state.consumer.pc == ConsumerPc::Idle {
            // The call begins.
            next.preceded_by[usize::from(model.config.write_count())] = state.acked;
        }
        if seen.is_empty() || own_first {
            next.consumer.pc = ConsumerPc::ApplyOwn(model.drain.len() as u8);
            return push(model, out, action, choice, next, None);
        }
    }
    let Some(lowest) = seen.iter().map(|(seq, _)| *seq).min() else {
        if state.consumer.pc != ConsumerPc::Idle {
            next.consumer.pc = ConsumerPc::Idle;
            push(model, out, action, choice, next, None);
        }
        return;
    };
    let heads = seen.iter().filter(|(seq, _)| *seq == lowest);
    for (tie, (seq, write)) in heads.enumerate() {
        let mut next = next.clone();
        next.consumer.entry = (*seq, *write);
        next.consumer.copy = 0;
        let name = Name::Pending {
            seq: *seq,
            write: *write,
        };
        next.consumer.pc = if state.fs.content(name) == Some(Content::Written) {
            ConsumerPc::Drain(0)
        } else {
            ConsumerPc::Aside(0)
        };
        let readable = matches!(next.consumer.pc, ConsumerPc::Drain(_));
        if let Submit::Before { drained } = state.consumer.submit
            && readable
            && usize::from(drained) + 1 >= model.config.capacity
        {
            next.consumer.submit = Submit::LastPass;
        }
        push(model, out, action, choice + tie as u8, next, None);
    }
}

/// The end of one entry's pass: the next head, or the end of a `submit`
/// whose own write was applied in it.
fn end_of_pass(state: &mut State) {
    let consumer = &mut state.consumer;
    consumer.pc = ConsumerPc::Head;
    match consumer.submit {
        Submit::Before { drained } => {
            consumer.submit = Submit::Before {
                drained: drained + 1,
            }
        }
        Submit::Done => {
            consumer.submit = Submit::No;
            consumer.pc = ConsumerPc::Idle;
        }
        Submit::No | Submit::LastPass => {}
    }
}

fn push(
    model: &Model,
    out: &mut Vec<Successor>,
    action: Action,
    choice: u8,
    mut state: State,
    violation: Option<Violation>,
) {
    state.tidy(model);
    let mut step = Step::new(Actor::Consumer, action, choice);
    if action == Action::AcquireLock {
        let listed = match state.consumer.pc {
            ConsumerPc::Listing => Action::ListQueue,
            ConsumerPc::Recheck => Action::ListQueueAgain,
            _ => Action::GetNextPending,
        };
        step.followed_by(listed);
    }
    out.push(Successor {
        step,
        state,
        violation,
    });
}
