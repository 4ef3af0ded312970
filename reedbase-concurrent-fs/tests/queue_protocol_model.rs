// SPDX-License-Identifier: Apache-2.0
//! An explicit-state model of the fs backend's queue protocol, checked
//! exhaustively for small sizes: producers writing a temporary, fsyncing
//! it, numbering and renaming it under the producers' lock and fsyncing the
//! directory before they acknowledge; a consumer draining under the table
//! lock (get the head, apply, remove, fsync) and moving unreadable entries
//! aside, or first a `submit` of its own write; a SIGKILL of any process
//! and a power cut at any step, after which the consumer runs the start-up
//! drain.
//!
//! Every reachable state is visited; the properties (exact capacity, FIFO,
//! no acknowledged write lost, no failed write applied, a moved-aside
//! entry keeps its reason) are checked on each, and a violation is
//! reported with the shortest trace to it. Deliberately broken variants
//! of the protocol must be refuted, so that the checker is shown not to be
//! vacuous. Run with `--nocapture` to see the number of states explored.
//! The model, its persistence model and its limits are described in
//! `docs/design/2026-12-06-queue-protocol-model.md`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod queue_protocol_model {
    pub(crate) mod checker;
    pub(crate) mod consumer;
    pub(crate) mod faults;
    pub(crate) mod fs;
    pub(crate) mod producer;
    pub(crate) mod properties;
    pub(crate) mod protocol;
    pub(crate) mod state;
}

use queue_protocol_model::checker::{Report, check};
use queue_protocol_model::protocol::{Action, Config, Durability, Listing, MoveAside, Mutation};

fn run(name: &str, config: Config) -> Report {
    let report = check(config);
    println!("{}", report.describe(name));
    report
}

/// Checks that every property holds in every reachable state, and that
/// the search took each of the steps (with outcome) in `reached`.
fn holds(name: &str, config: Config, reached: &[(Action, u8)]) {
    let report = run(name, config);
    assert!(report.counterexample.is_none(), "{}", report.describe(name));
    for step in reached {
        assert!(
            report.covered.contains(step),
            "{name}: never took {} with outcome {}",
            step.0,
            step.1
        );
    }
}

/// Steps every durable search must take: each fault, each step of a write
/// and of the drain, and a sweep.
const DURABLE_STEPS: &[(Action, u8)] = &[
    (Action::CreateTemporary, 0),
    (Action::LockTemporary, 0),
    (Action::WriteTemporary, 0),
    (Action::FsyncTemporary, 0),
    (Action::LockProducers, 0),
    (Action::CountAndNumber, 0),
    (Action::CountAndNumber, 1),
    (Action::SweepTemporaries, 0),
    (Action::RenameIntoQueue, 0),
    (Action::UnlockProducers, 0),
    (Action::FsyncQueueDir, 0),
    (Action::Acknowledge, 0),
    (Action::AcquireLock, 0),
    (Action::GetNextPending, 0),
    (Action::Apply, 0),
    (Action::RemoveFromQueue, 0),
    (Action::Crash, 0),
    (Action::PowerCut, 2),
];

/// Checks that the checker finds a violation of the kind expected.
fn refuted(name: &str, config: Config, kind: &str) {
    let report = run(name, config);
    let Some(found) = &report.counterexample else {
        panic!("{name}: no counter-example found; the checker is vacuous");
    };
    assert_eq!(found.violation.kind(), kind, "{}", report.describe(name));
}

#[test]
fn durable_queue_keeps_its_promises_through_a_crash_and_a_power_cut() {
    let mut reached = DURABLE_STEPS.to_vec();
    // A temporary swept before its producer locked it: written again.
    reached.push((Action::RenameIntoQueue, 1));
    reached.push((Action::RefuseQueueFull, 0));
    holds("durable, 2+1 writes, capacity 2", Config::small(), &reached);
}

#[test]
fn a_full_queue_refuses_exactly_at_capacity() {
    let config = Config {
        producers: vec![1, 2],
        capacity: 1,
        ..Config::small()
    };
    let mut reached = DURABLE_STEPS.to_vec();
    reached.push((Action::RefuseQueueFull, 0));
    holds("durable, 1+2 writes, capacity 1", config, &reached);
}

#[test]
fn two_power_cuts_lose_no_acknowledged_write() {
    let config = Config {
        producers: vec![1, 1],
        max_crashes: 0,
        max_power_cuts: 2,
        ..Config::small()
    };
    let reached: Vec<_> = DURABLE_STEPS
        .iter()
        .copied()
        .filter(|(action, _)| *action != Action::Crash)
        .collect();
    holds("durable, 1+1 writes, two power cuts", config, &reached);
}

#[test]
fn a_damaged_entry_is_moved_aside_with_a_reason_that_survives() {
    let config = Config {
        producers: vec![1, 1],
        damaged_entry: true,
        ..Config::small()
    };
    let mut reached = DURABLE_STEPS.to_vec();
    reached.extend([
        (Action::CreateReason, 0),
        (Action::WriteReason, 0),
        (Action::FsyncReason, 0),
        (Action::FsyncCorruptDir, 0),
        (Action::RenameAside, 0),
    ]);
    holds(
        "durable, damaged entry, synced move_aside",
        config,
        &reached,
    );
}

#[test]
fn relaxed_durability_survives_crashes() {
    let config = Config {
        durability: Durability::Relaxed,
        max_power_cuts: 0,
        max_crashes: 2,
        ..Config::small()
    };
    let reached = [
        (Action::SweepTemporaries, 0),
        (Action::RenameIntoQueue, 0),
        (Action::Apply, 0),
        (Action::Crash, 0),
    ];
    holds("relaxed, two crashes, no power cut", config, &reached);
}

/// The coordinator's `submit`: the lock holder applies at most capacity
/// queued writes, then its own; no write acknowledged before the call
/// began is overtaken by it.
#[test]
fn a_submit_applies_its_own_write_after_the_queued_ones() {
    let config = Config {
        producers: vec![1, 1],
        capacity: 1,
        submit: true,
        ..Config::small()
    };
    let mut reached = DURABLE_STEPS.to_vec();
    reached.push((Action::ApplyOwn, 0));
    holds(
        "durable, 1+1 writes and a submit, capacity 1",
        config,
        &reached,
    );
}

#[test]
fn a_submit_applying_its_own_write_first_is_refuted() {
    let config = Config {
        submit: true,
        max_crashes: 0,
        max_power_cuts: 0,
        ..mutated(Mutation::OwnWriteFirst)
    };
    refuted(
        "mutation: submit applies its own write first",
        config,
        "FIFO broken",
    );
}

/// The weakest persistence lets a power cut keep a new entry's rename and
/// forget an earlier removal, so the queue holds one more entry than its
/// capacity (an applied entry, delivered again and skipped by its key).
#[test]
fn a_power_cut_can_bring_back_a_removed_entry_beyond_capacity() {
    let config = Config {
        producers: vec![1, 1],
        capacity: 1,
        capacity_after_power_cut: true,
        max_crashes: 0,
        ..Config::small()
    };
    refuted(
        "durable, capacity held after a power cut",
        config,
        "too many pending",
    );
}

#[test]
fn relaxed_durability_loses_an_acknowledged_write_in_a_power_cut() {
    let config = Config {
        durability: Durability::Relaxed,
        ..Config::small()
    };
    refuted("relaxed, power cut", config, "acknowledged write lost");
}

/// `move_aside` without its fsyncs (as the code once had it): a power cut
/// can keep the entry in `corrupt/` and lose the text of its reason.
#[test]
fn unsynced_move_aside_loses_its_reason_in_a_power_cut() {
    let config = Config {
        producers: vec![1],
        damaged_entry: true,
        move_aside: MoveAside::Unsynced,
        ..Config::small()
    };
    refuted(
        "durable, damaged entry, unsynced move_aside",
        config,
        "reason lost",
    );
}

/// A directory fsync that fails after the rename reports the outcome as
/// unknown and leaves the entry: no write reported as not queued is ever
/// applied, and every promise holds through a crash and a power cut.
#[test]
fn a_failed_directory_fsync_reports_an_unknown_outcome_never_a_refusal() {
    let config = Config {
        producers: vec![1, 1],
        dir_fsync_errors: true,
        ..Config::small()
    };
    let mut reached = DURABLE_STEPS.to_vec();
    reached.push((Action::FsyncQueueDir, 1));
    holds("durable, failing directory fsync", config, &reached);
}

/// Taking the entry back after a failed directory fsync (as the code once
/// did): a consumer may have applied it before the producer reports "not
/// queued".
#[test]
fn taking_an_entry_back_after_a_failed_directory_fsync_is_refuted() {
    let config = Config {
        producers: vec![1],
        dir_fsync_errors: true,
        max_power_cuts: 0,
        max_crashes: 0,
        ..mutated(Mutation::TakeBackOnDirFsyncError)
    };
    refuted(
        "mutation: take the entry back after a failed fsync",
        config,
        "failed write applied",
    );
}

fn mutated(mutation: Mutation) -> Config {
    Config {
        mutation: Some(mutation),
        ..Config::small()
    }
}

#[test]
fn acknowledging_before_the_directory_fsync_is_refuted() {
    let config = mutated(Mutation::AcknowledgeBeforeDirFsync);
    refuted(
        "mutation: acknowledge before fsync_queue_dir",
        config,
        "acknowledged write lost",
    );
}

#[test]
fn numbering_outside_the_producers_lock_is_refuted() {
    let config = Config {
        capacity: 1,
        ..mutated(Mutation::NumberOutsideLock)
    };
    refuted(
        "mutation: count_and_number outside the lock",
        config,
        "capacity exceeded",
    );
}

#[test]
fn renaming_an_unsynced_temporary_is_refuted() {
    let config = mutated(Mutation::NoTemporaryFsync);
    refuted(
        "mutation: no fsync_temporary",
        config,
        "acknowledged write lost",
    );
}

#[test]
fn removing_before_applying_is_refuted() {
    let config = mutated(Mutation::RemoveBeforeApply);
    refuted(
        "mutation: remove_from_queue before apply",
        config,
        "acknowledged write lost",
    );
}

#[test]
fn numbering_by_count_is_refuted() {
    let config = Config {
        capacity: 3,
        max_crashes: 0,
        max_power_cuts: 0,
        ..mutated(Mutation::NumberByCount)
    };
    refuted("mutation: sequence = count", config, "FIFO broken");
}

/// A consumer's listing that is not a snapshot (POSIX `readdir` of a
/// directory changing under it), checked by a second listing: FIFO holds.
#[test]
fn a_listing_checked_by_a_second_keeps_fifo() {
    let config = Config {
        listing: Listing::Posix,
        max_crashes: 0,
        max_power_cuts: 0,
        ..Config::small()
    };
    let reached = [
        (Action::ListQueue, 0),
        (Action::ListQueueAgain, 0),
        // A second listing that found an entry the first missed.
        (Action::ListQueueAgain, 1),
        (Action::GetNextPending, 0),
        (Action::Apply, 0),
    ];
    holds("durable, POSIX readdir listing, checked", config, &reached);
}

/// The same listing unchecked (as the code once had it) can miss an entry
/// renamed in during the listing and see one renamed in after it, and
/// deliver the later first.
#[test]
fn an_unchecked_listing_that_is_not_a_snapshot_is_refuted() {
    let config = Config {
        listing: Listing::Posix,
        max_crashes: 0,
        max_power_cuts: 0,
        ..mutated(Mutation::UncheckedListing)
    };
    refuted(
        "mutation: POSIX readdir listing, unchecked",
        config,
        "FIFO broken",
    );
}
