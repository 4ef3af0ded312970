// SPDX-License-Identifier: Apache-2.0
//! Every conformance case on the old module, fs, mem and pg, each case on a
//! fresh backend (for the two on disk a fresh temporary directory, for pg a
//! fresh namespace on the server).
//!
//! The old module's shipped tests are conformance cases too; they are
//! labelled by name from [`OLD_TESTS`] and printed as their own group.

use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_conformance::{self as conformance, Backend as SuiteBackend, Case};
use reedbase_concurrent_mem::MemBackend;

use super::backends::{self, Bases};
use super::findings::{BACKENDS, Backend, BackendSet, Divergence, Finding, Group, Reruns, brief};
use super::listing::Listing;

/// The conformance cases that are the old module's own tests
/// (`lock_test.rs` and `queue_test.rs`), written against the traits, with
/// the old test's name.
pub const OLD_TESTS: &[(&str, &str)] = &[
    ("acquire_lock_succeeds", "test_acquire_lock_success"),
    (
        "acquire_lock_times_out_against_held_lock",
        "test_acquire_lock_timeout",
    ),
    ("is_locked_false_without_lock", "test_is_locked_false"),
    ("is_locked_true_while_held", "test_is_locked_true"),
    (
        "wait_for_unlock_returns_after_release",
        "test_wait_for_unlock_success",
    ),
    (
        "wait_for_unlock_times_out_while_held",
        "test_wait_for_unlock_timeout",
    ),
    (
        "different_tables_lock_independently",
        "test_multiple_locks_different_tables",
    ),
    ("lock_released_at_end_of_scope", "test_lock_raii_drop"),
    ("second_thread_times_out_while_held", "test_lock_contention"),
    (
        "is_locked_false_for_unknown_table",
        "test_is_locked_nonexistent_table",
    ),
    (
        "queue_write_then_get_returns_it",
        "test_queue_write_and_get",
    ),
    ("remove_from_queue_removes_entry", "test_remove_from_queue"),
    ("count_pending_empty_is_zero", "test_count_pending_empty"),
    ("count_pending_counts_writes", "test_count_pending_multiple"),
    (
        "queue_write_beyond_capacity_is_queue_full",
        "test_queue_full",
    ),
    ("fifo_two_writes_apart", "test_fifo_order"),
    (
        "get_next_pending_empty_is_none",
        "test_get_next_pending_empty",
    ),
    ("every_operation_is_queued", "test_different_operations"),
    ("rows_keep_their_order", "test_multiple_rows"),
    ("tables_have_separate_queues", "test_different_tables"),
    ("remove_missing_id_is_error", "test_remove_nonexistent"),
    ("drain_follows_timestamp_order", "test_queue_ordering"),
];

/// Warns where PARITY.md and `reedbase-last`'s own lists of the cases the
/// old module fails disagree: a case in `EXPECTED_FAILURES` must be listed
/// as differing on `last`, one in `INTERMITTENT_FAILURES` as
/// `last (sometimes)`, and a case listed for `last` alone must be in one of
/// the two.
pub fn check_last_lists(names: &[&str], listing: &Listing, warnings: &mut Vec<String>) {
    let only_last = BackendSet::of(&[Backend::Last]);
    let lists = [
        ("EXPECTED_FAILURES", reedbase_last::EXPECTED_FAILURES),
        (
            "INTERMITTENT_FAILURES",
            reedbase_last::INTERMITTENT_FAILURES,
        ),
    ];
    for (list, cases) in lists {
        for (name, _) in cases {
            match listing.entries.get(*name) {
                None => warnings.push(format!(
                    "reedbase-last's {list} names {name}, which PARITY.md does not list"
                )),
                Some(l) if l.differs_on != only_last => warnings.push(format!(
                    "reedbase-last's {list} names {name}; PARITY.md lists it for {}, not last",
                    l.differs_on
                )),
                Some(l) if list == "INTERMITTENT_FAILURES" && !l.sometimes => {
                    warnings.push(format!(
                        "reedbase-last's {list} names {name}; PARITY.md lists it as happening every time"
                    ));
                }
                Some(_) => {}
            }
        }
    }
    for (name, listed) in &listing.entries {
        let in_lists = lists
            .iter()
            .any(|(_, cases)| cases.iter().any(|(case, _)| case == name));
        if names.contains(&name.as_str()) && listed.differs_on == only_last && !in_lists {
            warnings.push(format!(
                "PARITY.md lists {name} for last, but reedbase-last's failure lists do not name it"
            ));
        }
    }
}

/// The longest a case may run on one backend before it is reported as hung.
const CASE_TIMEOUT: Duration = Duration::from_secs(60);

/// The widest a failure message is shown in the table.
const CELL_WIDTH: usize = 36;

/// What one case did on one backend.
type Outcome = Result<(), String>;

/// The cell of a backend that did not run (pg without a server).
pub const SKIPPED: &str = "SKIPPED (no server)";

/// Runs every case on the four backends (pg only with a server); one
/// finding per case, old tests first. Reports progress on stderr.
pub fn run(listing: &Listing, warnings: &mut Vec<String>, bases: &Bases) -> Vec<Finding> {
    let names: Vec<&'static str> = conformance::cases::<MemBackend>()
        .iter()
        .map(|case| case.name)
        .collect();
    for (name, old) in OLD_TESTS {
        if !names.contains(name) {
            warnings.push(format!(
                "the old test {old} is labelled as conformance case {name}, which does not exist"
            ));
        }
    }
    check_last_lists(&names, listing, warnings);
    if names.is_empty() {
        warnings.push("the conformance suite has no cases yet".to_string());
    }
    let started = Instant::now();
    let bases = bases.fresh();
    let for_last = bases.clone();
    let mut last = run_all_cases(move || for_last.last(), "last", names.len());
    retry_listed_races_on_last(&names, listing, &mut last, &bases);
    let for_fs = bases.clone();
    let fs = run_all_cases(move || for_fs.fs(), "fs", names.len());
    let mem = run_all_cases(backends::mem, "mem", names.len());
    let pg: Vec<Option<Outcome>> = if bases.has_pg() {
        let for_pg = bases.clone();
        let pg = run_all_cases(move || for_pg.pg(), "pg", names.len());
        pg.into_iter().map(Some).collect()
    } else {
        eprintln!("  conformance on pg  : SKIPPED, no PostgreSQL server");
        vec![None; names.len()]
    };
    eprintln!(
        "  conformance: {} cases x {} backends in {:.1} s",
        names.len(),
        if bases.has_pg() { 4 } else { 3 },
        started.elapsed().as_secs_f64()
    );
    let mut old_findings = Vec::new();
    let mut other_findings = Vec::new();
    for (index, name) in names.iter().enumerate() {
        let outcomes = [
            Some(&last[index]),
            Some(&fs[index]),
            Some(&mem[index]),
            pg[index].as_ref(),
        ];
        let old_name = OLD_TESTS
            .iter()
            .find(|(case, _)| case == name)
            .map(|(_, old)| *old);
        let finding = finding_for(name, old_name, outcomes);
        if old_name.is_some() {
            old_findings.push(finding);
        } else {
            other_findings.push(finding);
        }
    }
    old_findings.extend(other_findings);
    rerun_unlisted_failures_on_last(&mut old_findings, listing, &bases);
    old_findings
}

/// How many times a case that failed on the old module alone, unlisted, is
/// run there again to tell a timing-dependent flaw from a steady one.
const UNLISTED_RERUNS: usize = 5;

/// Runs again on the old module, [`UNLISTED_RERUNS`] times, each case that
/// failed there alone while the new backends passed, and that PARITY.md
/// does not list for `last`. A case that passes in some of those runs is
/// marked [`intermittent`](Divergence::intermittent): a flaw of the old
/// module that comes and goes with timing (its queue order is file creation
/// time, stamped from a coarse clock), reported loudly but not failing the
/// run; one that fails every time stays unlisted and fails it.
fn rerun_unlisted_failures_on_last(findings: &mut [Finding], listing: &Listing, bases: &Bases) {
    let only_last = BackendSet::of(&[Backend::Last]);
    for finding in findings.iter_mut() {
        let listed_for_last = listing
            .entries
            .get(&finding.scenario)
            .is_some_and(|listed| listed.differs_on == only_last);
        let Some(divergence) = finding.divergence.as_mut() else {
            continue;
        };
        if divergence.differs_on != only_last || listed_for_last {
            continue;
        }
        eprintln!(
            "  {} failed on last alone, unlisted: running it there {UNLISTED_RERUNS} times again",
            finding.scenario
        );
        let failed = (0..UNLISTED_RERUNS)
            .filter(|_| run_again_on_last(&finding.scenario, bases).is_none_or(|o| o.is_err()))
            .count();
        if failed < UNLISTED_RERUNS {
            divergence.intermittent = Some(Reruns {
                failed,
                runs: UNLISTED_RERUNS,
            });
        }
    }
}

/// How many runs a case listed as failing on the old module (always, not
/// "sometimes") gets to show its failure, as in reedbase-last's own check:
/// the raced flaws (capacity, torn reads) show in nearly every run, not
/// every one, and one lucky pass must not read as a stale listing.
const LISTED_FAILURE_ATTEMPTS: usize = 5;

/// Reruns on the old module each case that PARITY.md lists as always
/// failing there but that passed, up to [`LISTED_FAILURE_ATTEMPTS`] runs in
/// all; keeps the first failure.
fn retry_listed_races_on_last(
    names: &[&'static str],
    listing: &Listing,
    last: &mut [Outcome],
    bases: &Bases,
) {
    for (index, name) in names.iter().enumerate() {
        let listed_always = listing
            .entries
            .get(*name)
            .is_some_and(|listed| !listed.sometimes && listed.differs_on.contains(Backend::Last));
        if !listed_always || last[index].is_err() {
            continue;
        }
        for _ in 1..LISTED_FAILURE_ATTEMPTS {
            let Some(outcome) = run_again_on_last(name, bases) else {
                break;
            };
            if outcome.is_err() {
                last[index] = outcome;
                break;
            }
        }
    }
}

/// Runs the conformance case `name` once more, on a fresh old module;
/// `None` if there is no such case.
fn run_again_on_last(name: &str, bases: &Bases) -> Option<Outcome> {
    let case = conformance::case_named(name)?;
    let for_last = bases.clone();
    Some(run_with_watchdog(case, move || for_last.last()))
}

/// Runs every case on backends from `make`, one after another, each under a
/// watchdog; returns the outcomes in case order.
fn run_all_cases<B, F>(make: F, label: &str, total: usize) -> Vec<Outcome>
where
    B: SuiteBackend + 'static,
    F: Fn() -> B + Clone + Send + 'static,
{
    let started = Instant::now();
    let mut outcomes = Vec::new();
    for case in conformance::cases::<B>() {
        outcomes.push(run_with_watchdog(case, make.clone()));
    }
    let failed = outcomes.iter().filter(|o| o.is_err()).count();
    eprintln!(
        "  conformance on {label:<4}: {total} cases, {failed} failed, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    outcomes
}

/// Runs one case on its own thread; a case still running after
/// [`CASE_TIMEOUT`] is reported as hung and left behind.
fn run_with_watchdog<B, F>(case: Case<B>, make: F) -> Outcome
where
    B: SuiteBackend + 'static,
    F: Fn() -> B + Send + 'static,
{
    let (sender, receiver) = mpsc::channel();
    let name = case.name;
    let spawned = thread::Builder::new()
        .name(format!("case-{name}"))
        .spawn(move || {
            let outcome =
                backends::quietly(|| conformance::run_case(&case, make)).and_then(|inner| inner);
            let _ = sender.send(outcome);
        });
    if let Err(e) = spawned {
        return Err(format!("could not start a thread for the case: {e}"));
    }
    match receiver.recv_timeout(CASE_TIMEOUT) {
        Ok(outcome) => outcome,
        Err(_) => Err(format!(
            "did not finish within {} s",
            CASE_TIMEOUT.as_secs()
        )),
    }
}

/// A case's finding from its outcome on each backend (`None`: not run).
fn finding_for(
    name: &str,
    old_name: Option<&str>,
    outcomes: [Option<&Outcome>; BACKENDS],
) -> Finding {
    let cells = outcomes.map(|outcome| match outcome {
        None => SKIPPED.to_string(),
        Some(Ok(())) => "pass".to_string(),
        Some(Err(message)) => format!("FAIL: {}", brief(message, CELL_WIDTH)),
    });
    let mut failing = BackendSet::EMPTY;
    let mut detail = String::new();
    for (backend, outcome) in Backend::ALL.into_iter().zip(outcomes) {
        if let Some(Err(message)) = outcome {
            failing.insert(backend);
            detail.push_str(&format!("  {}: {}\n", backend.name(), message.trim_end()));
        }
    }
    let divergence = (!failing.is_empty()).then(|| Divergence {
        differs_on: failing,
        detail: match old_name {
            Some(old) => {
                format!("conformance case {name} (the old module's {old}) failed on:\n{detail}")
            }
            None => format!("conformance case {name} failed on:\n{detail}"),
        },
        intermittent: None,
    });
    Finding {
        group: if old_name.is_some() {
            Group::OldTests
        } else {
            Group::Conformance
        },
        scenario: name.to_string(),
        cells,
        divergence,
    }
}
