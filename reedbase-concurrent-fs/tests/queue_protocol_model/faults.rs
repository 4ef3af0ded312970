// SPDX-License-Identifier: Apache-2.0
//! Faults at any step: `crash(process)`, a SIGKILL (the process's state is
//! lost, its `flock`s released, the file system kept), and `power_cut`
//! (every process gone, what was not durable kept or forgotten as
//! [`Fs::after_power_cut`](super::fs::Fs::after_power_cut) enumerates). A
//! consumer restarts at once and runs the start-up drain; a producer does
//! not come back (its caller was never answered).

use super::checker::Successor;
use super::protocol::{Action, Actor, Model, Step};
use super::state::{Consumer, ConsumerPc, State};

pub(crate) fn successors(model: &Model, state: &State, out: &mut Vec<Successor>) {
    if state.crashes < model.config.max_crashes {
        for p in 0..state.producers.len() {
            // A producer between two calls dies without a trace: only a
            // kill inside a call is a new case.
            let inside = state.producers[p].pc > 0 || state.producers[p].attempt > 0;
            if state.current_write(model, p).is_none() || !inside {
                continue;
            }
            let mut next = state.clone();
            next.crashes += 1;
            kill_producer(&mut next, p);
            push(model, out, Actor::Producer(p as u8), Action::Crash, 0, next);
        }
        if state.consumer.pc != ConsumerPc::Idle {
            let mut next = state.clone();
            next.crashes += 1;
            next.consumer = Consumer::idle();
            push(model, out, Actor::Consumer, Action::Crash, 0, next);
        }
    }
    if state.power_cuts < model.config.max_power_cuts {
        for (choice, fs) in state.fs.after_power_cut().into_iter().enumerate() {
            let mut next = state.clone();
            next.power_cuts += 1;
            next.fs = fs;
            for p in 0..next.producers.len() {
                if next.current_write(model, p).is_some() {
                    kill_producer(&mut next, p);
                }
            }
            next.producers_lock = None;
            next.consumer = Consumer::idle();
            push(
                model,
                out,
                Actor::Power,
                Action::PowerCut,
                choice as u8,
                next,
            );
        }
    }
}

fn kill_producer(state: &mut State, p: usize) {
    let producer = &mut state.producers[p];
    producer.dead = true;
    producer.pc = 0;
    producer.attempt = 0;
    producer.seq = 0;
    producer.full = false;
    producer.failing = false;
    producer.to_sweep.clear();
    if state.producers_lock == Some(p as u8) {
        state.producers_lock = None;
    }
    state.fs.release_flocks_of(p as u8);
}

fn push(
    model: &Model,
    out: &mut Vec<Successor>,
    actor: Actor,
    action: Action,
    choice: u8,
    mut state: State,
) {
    state.tidy(model);
    out.push(Successor {
        step: Step::new(actor, action, choice),
        state,
        violation: None,
    });
}
