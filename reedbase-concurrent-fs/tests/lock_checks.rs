// SPDX-License-Identifier: Apache-2.0
//! The check that an acquisition makes after taking the lock (the locked
//! `write.lock` is still the table's, in the table's directory) is the
//! coordinator's check before its first batch: a `submit` to an empty queue
//! makes no second one. Counted through the conformance suite's
//! `LosingLocks`, which forwards every call and counts `is_held`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use reedbase_concurrent_conformance::LosingLocks;
use reedbase_concurrent_core::{
    CoordinatorOptions, CsvRow, LockBackend, LockGuard, PendingWrite, QueueBackend, SubmitOutcome,
    WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_fs::FsBackend;

const TABLE: &str = "users";
const LONG: Duration = Duration::from_secs(5);

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

#[test]
fn an_acquired_guard_says_its_acquisition_checked_it() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let guard = backend.acquire_lock(TABLE, LONG).unwrap();
    assert!(guard.checked_at_acquisition());
    assert!(guard.is_held().unwrap());
}

#[test]
fn a_submit_to_an_empty_queue_checks_the_lock_only_at_its_acquisition() {
    let dir = tempfile::tempdir().unwrap();
    let losing = LosingLocks::new(FsBackend::new(dir.path()));
    let coordinator = WriteCoordinator::new(&losing);
    let mut applied = Vec::new();
    let outcome = coordinator
        .submit(TABLE, write("direct"), LONG, |_, w| {
            applied.push(w.rows[0].key.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 0 });
    assert_eq!(applied, ["direct"]);
    assert_eq!(losing.held_checks(), 0);
}

#[test]
fn a_drain_checks_before_every_batch_but_the_first_and_before_every_removal() {
    let dir = tempfile::tempdir().unwrap();
    let losing = LosingLocks::new(FsBackend::new(dir.path()));
    for key in ["a", "b", "c"] {
        losing.queue_write(TABLE, &write(key)).unwrap();
    }
    let options = CoordinatorOptions::new().max_batch(2);
    let coordinator = WriteCoordinator::with_options(&losing, options);
    let mut batches = Vec::new();
    let drained = coordinator
        .drain_batch(TABLE, LONG, |items| {
            batches.push(items.len());
            Ok(())
        })
        .unwrap();
    assert_eq!(drained, 3);
    assert_eq!(batches, [2, 1]);
    // Before the second and third fetch, and before each of the two
    // removals; the mem backend, whose acquisition checks nothing, makes
    // one more (the conformance crate's own tests count it).
    assert_eq!(losing.held_checks(), 4);
}

#[test]
fn a_lock_lost_from_the_start_still_applies_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let losing = LosingLocks::new(FsBackend::new(dir.path()));
    losing.lose_every_lock();
    let coordinator = WriteCoordinator::new(&losing);
    let mut applied = 0;
    let error = coordinator
        .submit(TABLE, write("direct"), LONG, |_, _| {
            applied += 1;
            Ok(())
        })
        .expect_err("a lost lock");
    assert!(error.is_lock_lost(), "{error:?}");
    assert_eq!(applied, 0);
}
