// SPDX-License-Identifier: Apache-2.0
//! proptest-generated sequential traces, run on the four backends and
//! compared step by step; one table row per class of step.
//!
//! Trace 0 is a fixed coverage trace (every class at least once); traces 1
//! to N come from a `TestRunner` seeded with `--seed`, so a run is
//! reproducible. The first trace with a divergence that PARITY.md does not
//! list is shrunk with proptest's value tree and printed step by step.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

use reedbase_concurrent_conformance::model::{self, Obs, Op};

use super::backends::Bases;
use super::conformance_runs::SKIPPED;
use super::findings::{BACKENDS, Backend, BackendSet, Divergence, Finding, Group, brief};
use super::listing::Listing;
use super::trace_compare::{CLASSES, Step, is_listed, run_and_compare, scenario_of};

/// How long shrinking may take, and how many traces it may run.
const SHRINK_BUDGET: (Duration, usize) = (Duration::from_secs(20), 300);

/// The widest an observation is shown in the table.
const CELL_WIDTH: usize = 40;

/// A diverging step and where it was.
#[derive(Debug, Clone)]
struct Example {
    trace: usize,
    index: usize,
    op: Op,
    step: Step,
}

/// What the steps of one class showed over the whole run.
#[derive(Debug, Default)]
struct ClassStats {
    steps: usize,
    /// Steps each backend skipped.
    skipped: [usize; BACKENDS],
    /// For each set of differing backends: how many steps, and the first.
    divergences: BTreeMap<BackendSet, (usize, Example)>,
}

/// Runs the coverage trace and `cases` generated traces from `seed`.
///
/// Returns one finding per class, and a detailed account (shrunk and step
/// by step) of the first trace with an unlisted divergence, if any.
///
/// # Errors
///
/// proptest cannot generate a trace.
pub fn run(
    cases: usize,
    seed: u64,
    listing: &Listing,
    bases: &Bases,
) -> Result<(Vec<Finding>, Option<String>), String> {
    let started = Instant::now();
    let strategy = model::ops(40);
    let mut runner = TestRunner::new_with_rng(
        Config::default(),
        TestRng::from_seed(RngAlgorithm::ChaCha, &seed_bytes(seed)),
    );
    let mut stats: BTreeMap<&'static str, ClassStats> = BTreeMap::new();
    let mut first_unlisted = None;
    let mut traces_diverging = 0;
    let mut steps_total = 0;
    let mut not_compared = 0;
    let report_every = (cases / 4).max(1);
    for trace in 0..=cases {
        let (ops, tree) = if trace == 0 {
            (model::coverage_trace(), None)
        } else {
            let tree = strategy
                .new_tree(&mut runner)
                .map_err(|e| format!("proptest could not generate trace {trace}: {e}"))?;
            (tree.current(), Some(tree))
        };
        let compared = run_and_compare(&ops, bases);
        let steps = compared.steps;
        steps_total += steps.len();
        not_compared += compared.not_compared;
        if steps.iter().any(|s| !s.differs_on.is_empty()) {
            traces_diverging += 1;
        }
        record(&mut stats, trace, &ops, &steps);
        if first_unlisted.is_none() && steps.iter().any(|s| !is_listed(listing, s)) {
            first_unlisted = Some((trace, ops, tree));
        }
        if trace > 0 && (trace % report_every == 0 || trace == cases) {
            eprintln!(
                "  traces: {trace}/{cases} (+ coverage trace), {steps_total} steps compared, {not_compared} left uncompared after a divergence, {traces_diverging} traces with a listed or unlisted divergence, {:.1} s",
                started.elapsed().as_secs_f64()
            );
        }
    }
    let findings = CLASSES
        .iter()
        .map(|class| finding_for(class, stats.get(class)))
        .collect();
    let detail = first_unlisted.map(|(trace, ops, tree)| {
        let started = Instant::now();
        let shrunk = match tree {
            Some(tree) => shrink(tree, listing, bases, started),
            None => ops.clone(),
        };
        let minimal = drop_steps(shrunk, listing, bases, started);
        describe_trace(trace, seed, ops.len(), &minimal, listing, bases)
    });
    Ok((findings, detail))
}

/// The 32 bytes ChaCha wants, spread from a 64-bit seed.
fn seed_bytes(seed: u64) -> [u8; 32] {
    let mut bytes = [0u8; 32];
    for (i, chunk) in bytes.chunks_mut(8).enumerate() {
        let word = seed ^ (i as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        chunk.copy_from_slice(&word.to_le_bytes());
    }
    bytes
}

fn record(
    stats: &mut BTreeMap<&'static str, ClassStats>,
    trace: usize,
    ops: &[Op],
    steps: &[Step],
) {
    for (index, (op, step)) in ops.iter().zip(steps).enumerate() {
        let class = stats.entry(step.class).or_default();
        class.steps += 1;
        for (skipped, obs) in class.skipped.iter_mut().zip(&step.obs) {
            if matches!(obs, Obs::Skipped(_)) {
                *skipped += 1;
            }
        }
        if step.differs_on.is_empty() {
            continue;
        }
        let entry = class.divergences.entry(step.differs_on).or_insert_with(|| {
            (
                0,
                Example {
                    trace,
                    index,
                    op: op.clone(),
                    step: step.clone(),
                },
            )
        });
        entry.0 += 1;
    }
}

fn finding_for(class: &'static str, stats: Option<&ClassStats>) -> Finding {
    let scenario = scenario_of(class);
    let Some(stats) = stats else {
        return Finding {
            group: Group::Traces,
            scenario,
            cells: std::array::from_fn(|_| "not seen".to_string()),
            divergence: None,
        };
    };
    let Some((_, (_, first))) = stats.divergences.iter().next() else {
        let cells = std::array::from_fn(|i| match Backend::ALL[i] {
            Backend::Pg if stats.skipped[i] == stats.steps => SKIPPED.to_string(),
            _ if stats.skipped[i] == stats.steps => format!("skipped, {} steps", stats.steps),
            _ => format!("agree, {} steps", stats.steps),
        });
        return Finding {
            group: Group::Traces,
            scenario,
            cells,
            divergence: None,
        };
    };
    let mut differs_on = BackendSet::EMPTY;
    let mut detail = String::new();
    for (set, (count, example)) in &stats.divergences {
        for backend in Backend::ALL {
            if set.contains(backend) {
                differs_on.insert(backend);
            }
        }
        detail.push_str(&format!(
            "{count} of {} steps differ on {set}; the first:\n",
            stats.steps
        ));
        detail.push_str(&describe_step(example));
    }
    let total: usize = stats.divergences.values().map(|(count, _)| count).sum();
    let cells = std::array::from_fn(|i| {
        let shown = brief(&first.step.obs[i].short(), CELL_WIDTH);
        if Backend::ALL[i] == Backend::Pg && stats.skipped[i] == stats.steps {
            SKIPPED.to_string()
        } else if differs_on.contains(Backend::ALL[i]) {
            format!("{shown} ({total}/{})", stats.steps)
        } else {
            shown
        }
    });
    Finding {
        group: Group::Traces,
        scenario,
        cells,
        divergence: Some(Divergence {
            differs_on,
            detail,
            intermittent: None,
        }),
    }
}

fn describe_step(example: &Example) -> String {
    let mut text = format!(
        "  trace {}, step {}: {}\n",
        example.trace, example.index, example.op
    );
    for (backend, obs) in Backend::ALL.iter().zip(&example.step.obs) {
        text.push_str(&format!(
            "    {:<5} {obs}\n",
            format!("{}:", backend.name())
        ));
    }
    text
}

/// Whether a trace shows a divergence PARITY.md does not list.
fn has_unlisted(ops: &[Op], listing: &Listing, bases: &Bases) -> bool {
    run_and_compare(ops, bases)
        .steps
        .iter()
        .any(|s| !is_listed(listing, s))
}

/// Shrinks a trace with an unlisted divergence with proptest's value tree
/// to a simpler one that still has one, within [`SHRINK_BUDGET`].
fn shrink(
    mut tree: impl ValueTree<Value = Vec<Op>>,
    listing: &Listing,
    bases: &Bases,
    started: Instant,
) -> Vec<Op> {
    let fails = |ops: &[Op]| has_unlisted(ops, listing, bases);
    let mut smallest = tree.current();
    let mut runs = 0;
    if !tree.simplify() {
        return smallest;
    }
    while started.elapsed() < SHRINK_BUDGET.0 && runs < SHRINK_BUDGET.1 {
        runs += 1;
        let candidate = tree.current();
        if fails(&candidate) {
            smallest = candidate;
            if !tree.simplify() {
                break;
            }
        } else if !tree.complicate() {
            break;
        }
    }
    smallest
}

/// Removes steps one at a time while the trace still has an unlisted
/// divergence (this also minimises the fixed coverage trace, which has no
/// value tree), within [`SHRINK_BUDGET`].
fn drop_steps(mut ops: Vec<Op>, listing: &Listing, bases: &Bases, started: Instant) -> Vec<Op> {
    let mut index = 0;
    while index < ops.len() && started.elapsed() < SHRINK_BUDGET.0 {
        let mut candidate = ops.clone();
        candidate.remove(index);
        if !candidate.is_empty() && has_unlisted(&candidate, listing, bases) {
            ops = candidate;
        } else {
            index += 1;
        }
    }
    ops
}

fn describe_trace(
    trace: usize,
    seed: u64,
    original_len: usize,
    ops: &[Op],
    listing: &Listing,
    bases: &Bases,
) -> String {
    let compared = run_and_compare(ops, bases);
    let steps = compared.steps;
    let origin = if trace == 0 {
        "the fixed coverage trace".to_string()
    } else {
        format!("trace {trace} of seed {seed:#x}")
    };
    let shrunk_to = if ops.len() == 1 {
        "the step".to_string()
    } else {
        format!("the {} steps", ops.len())
    };
    let origin = format!("{origin} ({original_len} steps), shrunk to {shrunk_to} below");
    let mut text = format!("first trace with an unlisted divergence: {origin}\n");
    for (index, op) in ops.iter().enumerate() {
        let Some(step) = steps.get(index) else {
            text.push_str(&format!(
                "  {index:>2}. {op}  (not compared: the states differ by now)\n"
            ));
            continue;
        };
        let mark = if !is_listed(listing, step) {
            "  <- UNLISTED"
        } else if !step.differs_on.is_empty() {
            "  <- listed"
        } else {
            ""
        };
        text.push_str(&format!("  {index:>2}. {op}{mark}\n"));
        if step.differs_on.is_empty() {
            text.push_str(&format!("      all: {}\n", step.obs[1]));
        } else {
            for (backend, obs) in Backend::ALL.iter().zip(&step.obs) {
                text.push_str(&format!(
                    "      {:<5} {obs}\n",
                    format!("{}:", backend.name())
                ));
            }
        }
    }
    text
}
