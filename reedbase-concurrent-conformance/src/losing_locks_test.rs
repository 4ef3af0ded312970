// SPDX-License-Identifier: Apache-2.0
//! How often a coordinator checks its lock, counted through [`LosingLocks`]
//! around the in-memory backend, whose guards do not claim that their
//! acquisition checked anything.

use reedbase_concurrent_core::{
    CoordinatorOptions, LockBackend, LockGuard, SubmitOutcome, WriteCoordinator,
};
use reedbase_concurrent_mem::MemBackend;

use super::LosingLocks;
use crate::samples::{LONG, queue_tagged, tagged_write};

const TABLE: &str = "t";

#[test]
fn held_checks_counts_every_is_held_call() {
    let losing = LosingLocks::new(MemBackend::new());
    let guard = losing.acquire_lock(TABLE, LONG).expect("acquire_lock");
    assert_eq!(losing.held_checks(), 0);
    assert!(guard.is_held().expect("is_held"));
    assert!(guard.is_held().expect("is_held"));
    assert_eq!(losing.held_checks(), 2);
    assert!(!guard.checked_at_acquisition(), "mem checks nothing");
}

#[test]
fn without_a_check_at_acquisition_the_coordinator_checks_before_the_first_batch() {
    let losing = LosingLocks::new(MemBackend::new());
    let coordinator = WriteCoordinator::new(&losing);
    let outcome = coordinator
        .submit(TABLE, tagged_write("direct"), LONG, |_, _| Ok(()))
        .expect("submit");
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 0 });
    assert_eq!(losing.held_checks(), 1, "one check, before the write");

    // Three queued writes in batches of two: a check before each of the
    // three fetches and before each of the two removals.
    queue_tagged(&losing, TABLE, 3);
    let before = losing.held_checks();
    let coordinator =
        WriteCoordinator::with_options(&losing, CoordinatorOptions::new().max_batch(2));
    let drained = coordinator
        .drain_batch(TABLE, LONG, |_| Ok(()))
        .expect("drain_batch");
    assert_eq!(drained, 3);
    assert_eq!(losing.held_checks() - before, 5);
}

#[test]
fn a_guard_lost_from_the_start_never_claims_a_check() {
    let losing = LosingLocks::new(MemBackend::new());
    losing.lose_every_lock();
    let guard = losing.acquire_lock(TABLE, LONG).expect("acquire_lock");
    assert!(!guard.checked_at_acquisition());
    assert!(!guard.is_held().expect("is_held"));
}
