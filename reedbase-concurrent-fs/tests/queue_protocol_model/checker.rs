// SPDX-License-Identifier: Apache-2.0
//! Exhaustive breadth-first search of every state reachable from the
//! initial one, each state identified by a 128-bit fingerprint of its
//! canonical form (sorted names, inodes named by origin), with the first
//! violation found reported as the shortest trace that leads to it.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hash, Hasher};

use super::properties::{Violation, check_drain, check_state};
use super::protocol::{Action, Config, Model, Step};
use super::state::State;
use super::{consumer, faults, producer};

/// A step from a state, the state it leads to, and what it broke.
pub(crate) struct Successor {
    pub(crate) step: Step,
    pub(crate) state: State,
    pub(crate) violation: Option<Violation>,
}

/// What a search found.
pub(crate) struct Report {
    pub(crate) states: usize,
    pub(crate) transitions: usize,
    /// Every step taken somewhere in the search, with its outcome.
    pub(crate) covered: Vec<(Action, u8)>,
    pub(crate) counterexample: Option<Counterexample>,
}

pub(crate) struct Counterexample {
    pub(crate) violation: Violation,
    /// Each step with the state it led to, from the initial state.
    pub(crate) trace: Vec<String>,
}

impl Report {
    /// The report in a few lines, with the trace if there is one.
    pub(crate) fn describe(&self, name: &str) -> String {
        let mut text = format!(
            "{name}: {} states, {} transitions explored",
            self.states, self.transitions
        );
        if let Some(found) = &self.counterexample {
            text.push_str(&format!("\n  counter-example: {}", found.violation));
            for line in &found.trace {
                text.push_str(&format!("\n    {line}"));
            }
        }
        text
    }
}

/// A search bigger than this is a mistake in a configuration.
const MAX_STATES: usize = 20_000_000;

/// Two 64-bit multiply-rotate lanes over everything a state hashes, each
/// finished with an avalanche; faster than SipHash in a debug build, and
/// no key is needed since nothing here is adversarial.
#[derive(Default)]
struct Fingerprint {
    lanes: [u64; 2],
}

impl Fingerprint {
    fn mix(&mut self, word: u64) {
        let [a, b] = &mut self.lanes;
        *a = (*a ^ word)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            .rotate_left(27);
        *b = (b.rotate_left(31) ^ word ^ 0x5851_f42d_4c95_7f2d).wrapping_mul(0xc2b2_ae3d_27d4_eb4f);
    }

    fn finish128(&self) -> u128 {
        let avalanche = |mut x: u64| {
            x ^= x >> 33;
            x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
            x ^= x >> 33;
            x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
            x ^ (x >> 33)
        };
        u128::from(avalanche(self.lanes[0])) << 64 | u128::from(avalanche(self.lanes[1]))
    }
}

impl Hasher for Fingerprint {
    fn write(&mut self, bytes: &[u8]) {
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.mix(u64::from_le_bytes(word) ^ (chunk.len() as u64) << 56);
        }
    }

    fn write_u8(&mut self, n: u8) {
        self.mix(u64::from(n));
    }

    fn write_u16(&mut self, n: u16) {
        self.mix(u64::from(n));
    }

    fn write_u32(&mut self, n: u32) {
        self.mix(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.mix(n);
    }

    fn write_usize(&mut self, n: usize) {
        self.mix(n as u64);
    }

    fn write_u128(&mut self, n: u128) {
        // A key of the seen set, already a fingerprint: taken as it is.
        self.lanes[0] = n as u64;
    }

    fn finish(&self) -> u64 {
        self.lanes[0]
    }
}

fn fingerprint(state: &State) -> u128 {
    let mut hasher = Fingerprint::default();
    state.hash(&mut hasher);
    hasher.finish128()
}

/// The seen set, keyed by fingerprints, which need no hashing again.
type Seen = HashMap<u128, u32, BuildHasherDefault<Fingerprint>>;

pub(crate) fn successors(model: &Model, state: &State) -> Vec<Successor> {
    let mut out = Vec::new();
    for p in 0..state.producers.len() {
        producer::successors(model, state, p, &mut out);
    }
    consumer::successors(model, state, &mut out);
    faults::successors(model, state, &mut out);
    for successor in &mut out {
        let fs = &successor.state.fs;
        successor.state.consumer.observe(fs);
    }
    out
}

/// Explores every state reachable under `config`; stops at the first
/// violation.
pub(crate) fn check(config: Config) -> Report {
    let model = Model::new(config);
    let initial = State::initial(&model.config);
    // For each state by index: its parent's index and the step from it.
    let mut parents: Vec<(u32, Option<Step>)> = vec![(0, None)];
    let mut seen = Seen::default();
    seen.insert(fingerprint(&initial), 0);
    let mut frontier = VecDeque::from([(initial.clone(), 0u32)]);
    let mut transitions = 0;
    let mut covered = Vec::new();
    let mut found = check_state(&model, &initial).map(|v| (v, 0u32));
    while let Some((state, index)) = frontier.pop_front() {
        if found.is_some() {
            break;
        }
        for successor in successors(&model, &state) {
            transitions += 1;
            note_covered(&mut covered, successor.step);
            let key = fingerprint(&successor.state);
            let known = seen.get(&key).copied();
            // A state seen before was checked then.
            let violation = successor.violation.or_else(|| {
                known.is_none().then(|| {
                    check_state(&model, &successor.state)
                        .or_else(|| check_drain(&model, &successor.state))
                })?
            });
            let at = known.unwrap_or(parents.len() as u32);
            if let Some(violation) = violation {
                parents.push((index, Some(successor.step)));
                found = Some((violation, parents.len() as u32 - 1));
                break;
            }
            if known.is_none() {
                seen.insert(key, at);
                parents.push((index, Some(successor.step)));
                frontier.push_back((successor.state, at));
                assert!(parents.len() <= MAX_STATES, "the search is too large");
            }
        }
    }
    Report {
        states: seen.len(),
        transitions,
        covered,
        counterexample: found.map(|(violation, at)| Counterexample {
            violation,
            trace: trace(&model, &initial, &parents, at),
        }),
    }
}

fn note_covered(covered: &mut Vec<(Action, u8)>, step: Step) {
    let outcome = (step.action, step.choice.min(2));
    let then = step.then.iter().flatten().map(|action| (*action, 0));
    for taken in std::iter::once(outcome).chain(then) {
        if !covered.contains(&taken) {
            covered.push(taken);
        }
    }
}

/// The steps from the initial state to state `at`, replayed to show each
/// state on the way.
fn trace(model: &Model, initial: &State, parents: &[(u32, Option<Step>)], at: u32) -> Vec<String> {
    let mut steps = Vec::new();
    let mut at = at as usize;
    while let (parent, Some(step)) = parents[at] {
        steps.push(step);
        at = parent as usize;
    }
    steps.reverse();
    let mut state = initial.clone();
    let mut lines = vec![format!("start: {}", state.describe())];
    for step in steps {
        let Some(next) = successors(model, &state)
            .into_iter()
            .find(|s| s.step == step)
        else {
            lines.push(format!("{step}: (cannot replay)"));
            break;
        };
        state = next.state;
        lines.push(format!("{step}: {}", state.describe()));
    }
    lines
}
