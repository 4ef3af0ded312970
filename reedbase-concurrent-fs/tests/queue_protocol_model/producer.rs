// SPDX-License-Identifier: Apache-2.0
//! The producer's steps: `producer::enqueue` with `Staged::write`,
//! `ProducersLock`, `listed_state` (or the watch's `known_state`), `sweep`
//! and `Staged::publish`, then the directory fsync and the take-back when
//! it fails.

use super::checker::Successor;
use super::fs::{Dir, Ino, Name};
use super::properties::{check_refusal, check_rename};
use super::protocol::{Action, Actor, Model, Mutation, Step, is_eager};
use super::state::{State, bit};

/// How many times `enqueue` writes an entry whose temporary was swept
/// (`WRITE_ATTEMPTS`).
const WRITE_ATTEMPTS: u8 = 3;

/// Every step producer `p` can take from `state`.
pub(crate) fn successors(model: &Model, state: &State, p: usize, out: &mut Vec<Successor>) {
    let Some(write) = state.current_write(model, p) else {
        return;
    };
    let me = &state.producers[p];
    let actor = Actor::Producer(p as u8);
    let step = |action, choice| Step::new(actor, action, choice);
    let temporary = Name::Temporary {
        write,
        attempt: me.attempt,
    };
    let ino = Ino::Temporary {
        write,
        attempt: me.attempt,
    };
    let entry = Name::Pending { seq: me.seq, write };
    let mut next = state.clone();
    if me.failing {
        // The broken variant: delete it again, report "not queued".
        next.fs.unlink(entry);
        next.failed |= bit(write);
        finish_write(&mut next, p);
        return push(model, out, p, step(Action::TakeBack, 0), next, None);
    }
    let action = model.producer[usize::from(me.pc)];
    match action {
        Action::CreateTemporary => {
            if me.attempt == 0 {
                // The call begins: what was acknowledged before it must be
                // applied before it.
                next.preceded_by[usize::from(write)] = state.acked;
            }
            next.fs.create(temporary, ino);
        }
        Action::LockTemporary => {
            if let Some(inode) = next.fs.inode_mut(ino) {
                inode.locked_by = Some(p as u8);
            }
        }
        Action::WriteTemporary => next.fs.write(ino),
        Action::FsyncTemporary => next.fs.fsync_file(ino),
        Action::LockProducers => {
            if state.producers_lock.is_some() {
                return;
            }
            next.producers_lock = Some(p as u8);
        }
        Action::CountAndNumber => return count_and_number(model, state, p, out),
        Action::SweepTemporaries => {
            // One temporary per step: deleted if its `flock` can be taken
            // (its producer died), left if a live producer holds it.
            let producer = &mut next.producers[p];
            let swept = producer.to_sweep.remove(0);
            let unlocked = next.fs.lookup(swept).and_then(|found| next.fs.inode(found));
            if unlocked.is_some_and(|inode| inode.locked_by.is_none()) {
                next.fs.unlink(swept);
            }
            if !next.producers[p].to_sweep.is_empty() {
                return push(model, out, p, step(action, 0), next, None);
            }
        }
        Action::RenameIntoQueue if me.full => {
            // `QueueFull`: the temporary is deleted as `Staged` drops.
            next.fs.unlink(temporary);
            release_producers_lock(&mut next, p);
            next.failed |= bit(write);
            finish_write(&mut next, p);
            return push(model, out, p, step(Action::RefuseQueueFull, 0), next, None);
        }
        Action::RenameIntoQueue => {
            let violation = check_rename(model, state);
            if !next.fs.rename(temporary, entry) {
                // `ENOENT`: swept meanwhile; written again, or an error.
                release_producers_lock(&mut next, p);
                let producer = &mut next.producers[p];
                if producer.attempt + 1 < WRITE_ATTEMPTS {
                    producer.attempt += 1;
                    producer.pc = 0;
                    producer.to_sweep.clear();
                } else {
                    next.failed |= bit(write);
                    finish_write(&mut next, p);
                }
                return push(model, out, p, step(action, 1), next, violation);
            }
            // The temporary's descriptor is closed: its `flock` goes.
            if let Some(inode) = next.fs.inode_mut(ino) {
                inode.locked_by = None;
            }
            advance(model, &mut next, p);
            return push(model, out, p, step(action, 0), next, violation);
        }
        Action::UnlockProducers => release_producers_lock(&mut next, p),
        Action::FsyncQueueDir => {
            if model.config.dir_fsync_errors {
                let mut failing = state.clone();
                if model.config.mutation == Some(Mutation::TakeBackOnDirFsyncError) {
                    failing.producers[p].failing = true;
                } else {
                    // `QueueOutcomeUnknown`: the entry stays, the call ends.
                    failing.unknown |= bit(write);
                    finish_write(&mut failing, p);
                }
                push(model, out, p, step(action, 1), failing, None);
            }
            next.fs.fsync_dir(Dir::Queue);
        }
        Action::Acknowledge => next.acked |= bit(write),
        other => unreachable!("not a producer step: {other}"),
    }
    advance(model, &mut next, p);
    push(model, out, p, step(action, 0), next, None);
}

/// Under the producers' lock: the number of entries and the highest
/// sequence, from a listing (which also finds the temporaries to sweep)
/// or from the process's watch (which sweeps nothing and never refuses: a
/// count at capacity is listed).
fn count_and_number(model: &Model, state: &State, p: usize, out: &mut Vec<Successor>) {
    let step = |choice| Step::new(Actor::Producer(p as u8), Action::CountAndNumber, choice);
    let count = state.pending_count();
    let highest = state.fs.pending().map(|(seq, _, _)| seq).max();
    let seq = match (model.config.mutation, highest) {
        (Some(Mutation::NumberByCount), _) => count as u8,
        (_, None) => 0,
        (_, Some(highest)) => highest + 1,
    };
    let full = count >= model.config.capacity;
    let me = &state.producers[p];
    let own = Name::Temporary {
        write: state.current_write(model, p).unwrap_or(0),
        attempt: me.attempt,
    };
    let temporaries: Vec<Name> = state
        .fs
        .names()
        .map(|(name, _)| name)
        .filter(|name| matches!(name, Name::Temporary { .. }) && *name != own)
        .collect();
    let violation = if full {
        check_refusal(model, state)
    } else {
        None
    };
    let mut listed = state.clone();
    let producer = &mut listed.producers[p];
    producer.seq = seq;
    producer.full = full;
    producer.to_sweep = temporaries.clone();
    advance(model, &mut listed, p);
    push(model, out, p, step(0), listed, violation);
    if !full && !temporaries.is_empty() {
        let mut watched = state.clone();
        watched.producers[p].seq = seq;
        advance(model, &mut watched, p);
        push(model, out, p, step(1), watched, None);
    }
}

/// Takes the producer's next steps while they are eager (see
/// [`is_eager`]), noting them in `step`.
fn take_eager_steps(model: &Model, state: &mut State, p: usize, step: &mut Step) {
    while let Some(write) = state.current_write(model, p) {
        let me = &state.producers[p];
        let action = model.producer[usize::from(me.pc)];
        if me.failing || !is_eager(action) {
            return;
        }
        let ino = Ino::Temporary {
            write,
            attempt: me.attempt,
        };
        match action {
            Action::WriteTemporary => state.fs.write(ino),
            Action::FsyncTemporary => state.fs.fsync_file(ino),
            Action::UnlockProducers => release_producers_lock(state, p),
            Action::Acknowledge => state.acked |= bit(write),
            other => unreachable!("not an eager producer step: {other}"),
        }
        step.followed_by(action);
        advance(model, state, p);
    }
}

/// Next step of the program; a sweep with nothing to sweep is skipped, and
/// the end of the program ends the write.
fn advance(model: &Model, state: &mut State, p: usize) {
    let producer = &mut state.producers[p];
    producer.pc += 1;
    if model.producer.get(usize::from(producer.pc)) == Some(&Action::SweepTemporaries)
        && producer.to_sweep.is_empty()
    {
        producer.pc += 1;
    }
    if usize::from(producer.pc) >= model.producer.len() {
        finish_write(state, p);
    }
}

/// The call returned: on to the producer's next write.
fn finish_write(state: &mut State, p: usize) {
    let producer = &mut state.producers[p];
    producer.next += 1;
    producer.pc = 0;
    producer.attempt = 0;
    producer.seq = 0;
    producer.full = false;
    producer.failing = false;
    producer.to_sweep.clear();
}

fn release_producers_lock(state: &mut State, p: usize) {
    if state.producers_lock == Some(p as u8) {
        state.producers_lock = None;
    }
}

fn push(
    model: &Model,
    out: &mut Vec<Successor>,
    p: usize,
    mut step: Step,
    mut state: State,
    violation: Option<super::properties::Violation>,
) {
    take_eager_steps(model, &mut state, p, &mut step);
    state.tidy(model);
    out.push(Successor {
        step,
        state,
        violation,
    });
}
