// SPDX-License-Identifier: Apache-2.0
//! Cases for the coordinator under a lost lock (through [`LosingLocks`]):
//! it stops with `LockLost` before applying the next write and removes
//! nothing more.

use reedbase_concurrent_core::{CoordinatorOptions, WriteCoordinator};

use crate::Backend;
use crate::apply_journal::{Journal, handed_back};
use crate::losing_locks::LosingLocks;
use crate::samples::{LONG, drain_all, queue_tagged, tagged_write};

const TABLE: &str = "test_table";

/// A lock lost while `drain` applies its first queued write (per write):
/// the drain stops with `LockLost` before the second, and removes nothing,
/// not even the write it applied (the next holder applies it again under
/// the same key); the lock is released. In batches of two, a lock lost
/// while the first batch is applied stops the drain before the second
/// batch, again removing nothing.
pub fn lost_lock_stops_a_drain_before_the_next_write<B: Backend>(backend: &B) {
    let entries = queue_tagged(backend, TABLE, 4);
    for batched in [false, true] {
        let losing = LosingLocks::new(backend);
        let options = CoordinatorOptions::new().max_batch(2);
        let coordinator = WriteCoordinator::with_options(&losing, options);
        let journal = Journal::default();
        let (mut each, mut batch) = (journal.each(), journal.batch());
        let result = match batched {
            false => coordinator.drain(TABLE, LONG, |key, write| {
                losing.lose_held_locks();
                each(key, write)
            }),
            true => coordinator.drain_batch(TABLE, LONG, |items| {
                losing.lose_held_locks();
                batch(items)
            }),
        };
        let what = format!("drain (batches: {batched}) losing its lock");
        let error = result.expect_err(&what);
        assert!(
            error.is_lock_lost(),
            "{what}: expected LockLost, got {error:?}"
        );
        // One call: the first write, or the first batch (of at most two).
        let calls = journal.calls();
        assert_eq!(
            calls.len(),
            1,
            "{what}: nothing applied after the loss: {calls:?}"
        );
        let size = calls[0].len();
        let first: Vec<_> = entries[..size]
            .iter()
            .map(|(id, w)| (Some(id.clone()), w.clone()))
            .collect();
        assert_eq!(calls[0], first, "{what}: the oldest first");
        assert!(size == 1 || batched, "{what}: one write per call");
        assert_eq!(
            backend.count_pending(TABLE).expect("count_pending"),
            4,
            "{what}: none removed"
        );
        assert!(
            !backend.is_locked(TABLE).expect("is_locked"),
            "{what}: lock released"
        );
    }
    assert_eq!(
        drain_all(backend, TABLE),
        entries,
        "the queue as it was, in order"
    );
}

/// A lock lost while `submit` applies the queued write before the caller's
/// stops it with `LockLost`: the caller's write is handed back unapplied and
/// nothing is removed. A lock lost from the start applies nothing at all.
pub fn lost_lock_stops_a_submit_and_hands_the_write_back<B: Backend>(backend: &B) {
    let entries = queue_tagged(backend, TABLE, 1);
    let direct = tagged_write("direct");
    let losing = LosingLocks::new(backend);
    let coordinator = WriteCoordinator::new(&losing);
    let journal = Journal::default();
    let mut each = journal.each();
    let result = coordinator.submit(TABLE, direct.clone(), LONG, |key, write| {
        losing.lose_held_locks();
        each(key, write)
    });
    let error = handed_back(result, TABLE, &direct, "submit losing its lock");
    assert!(error.is_lock_lost(), "expected LockLost, got {error:?}");
    let applied: Vec<_> = journal.writes().into_iter().map(|(key, _)| key).collect();
    assert_eq!(
        applied,
        [Some(entries[0].0.clone())],
        "the caller's write is not applied"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "none removed"
    );

    let losing = LosingLocks::new(backend);
    losing.lose_every_lock();
    let coordinator = WriteCoordinator::new(&losing);
    let journal = Journal::default();
    let result = coordinator.submit_batch(TABLE, direct.clone(), LONG, journal.batch());
    let error = handed_back(result, TABLE, &direct, "submit_batch with a lost lock");
    assert!(error.is_lock_lost(), "expected LockLost, got {error:?}");
    assert!(
        journal.calls().is_empty(),
        "nothing is applied under a lost lock"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "none removed"
    );
}
