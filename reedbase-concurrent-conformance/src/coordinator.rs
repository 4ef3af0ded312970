// SPDX-License-Identifier: Apache-2.0
//! Cases for the [`WriteCoordinator`] flow over a backend, per write: apply
//! when the lock is free, queue on timeout, hand the write back when it can
//! be neither, never let a later write overtake a queued one, and keep an
//! entry whose apply failed.

use std::time::Duration;

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use reedbase_concurrent_core::{SubmitOutcome, WriteCoordinator, WriteFailure};

use crate::Backend;
use crate::apply_journal::{
    Journal, Refused, SHORT, handed_back, never_apply, poisoned_write, queue_through, submitted,
};
use crate::samples::{LONG, fill_queue, head, tagged_write};

const TABLE: &str = "test_table";

/// Panics unless the table holds `pending` entries (`message` says why)
/// and its lock is free again.
#[track_caller]
fn assert_pending_and_released<B: Backend>(backend: &B, pending: usize, message: &str) {
    let count = backend.count_pending(TABLE).expect("count_pending");
    assert_eq!(count, pending, "{message}");
    assert!(
        !backend.is_locked(TABLE).expect("is_locked"),
        "the lock is released"
    );
}

/// `submit` on a free table applies the write under the lock with a direct
/// key, returns `Applied { drained: 0 }`, and releases the lock.
pub fn coordinator_applies_when_free<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let write = tagged_write("direct");
    let mut calls = Vec::new();
    let outcome = coordinator.submit(TABLE, write.clone(), LONG, |key, got| {
        calls.push((key.is_direct(), got.clone(), backend.is_locked(TABLE)));
        Ok(())
    });
    let outcome = submitted(outcome, "submit on a free table");
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 0 });
    assert_eq!(calls.len(), 1, "apply is called once");
    let (direct, got, locked) = calls.remove(0);
    assert!(direct, "a direct write is applied with a direct key");
    assert_eq!(got, write, "apply gets the write as submitted");
    assert_eq!(
        locked,
        Ok(true),
        "apply runs while the table's lock is held"
    );
    assert_pending_and_released(backend, 0, "nothing is queued");
}

/// `submit` against a held lock times out and queues the write: `Queued(id)`,
/// one entry under that id, `apply` not called.
pub fn coordinator_queues_on_lock_timeout<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let write = tagged_write("queued");
    let id = queue_through(&coordinator, TABLE, &write);
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "one queued"
    );
    assert_eq!(head(backend, TABLE), (id, write), "the queued entry");
}

/// With the lock held and the queue full, `submit` hands the write back
/// unchanged with `Backend(QueueFull)`, and the queue stays at capacity.
pub fn coordinator_hands_back_write_when_queue_full<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let capacity = backend.capacity();
    fill_queue(backend, TABLE);
    let write = tagged_write("refused");
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let result = coordinator.submit(TABLE, write.clone(), SHORT, never_apply);
    let what = "submit with the lock held and the queue full";
    let error = handed_back(result, TABLE, &write, what);
    assert!(error.is_queue_full(), "expected QueueFull, got {error:?}");
    let count = backend.count_pending(TABLE).expect("count_pending");
    assert_eq!(count, capacity, "count after the refusal");
}

/// A queued write is never overtaken: after it was queued, a direct write
/// applies it first (under its queue id), then itself, and reports
/// `drained: 1`.
pub fn coordinator_queued_write_not_overtaken<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let older = tagged_write("older");
    let id = queue_through(&coordinator, TABLE, &older);
    let newer = tagged_write("newer");
    let journal = Journal::default();
    let outcome = coordinator.submit(TABLE, newer.clone(), LONG, journal.each());
    let outcome = submitted(outcome, "submit of the later write");
    assert_eq!(
        outcome,
        SubmitOutcome::Applied { drained: 1 },
        "the later write's outcome"
    );
    let expected = [(Some(id), older), (None, newer)];
    assert_eq!(
        journal.writes(),
        expected,
        "the queued write first, then the direct one"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "queue after"
    );
}

/// An `apply` failure during `drain` stops it with `Apply { queue_id }` of
/// the entry, which stays first in the queue; a later drain applies it and
/// the rest in order.
pub fn coordinator_apply_failure_keeps_entry<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let first = tagged_write("first");
    let second = tagged_write("second");
    let first_id = queue_through(&coordinator, TABLE, &first);
    let second_id = queue_through(&coordinator, TABLE, &second);
    let refused = coordinator.drain(TABLE, LONG, |_, _| Err(Refused.into()));
    let error = refused.expect_err("drain, apply refuses");
    assert_eq!(
        error.blocking_entry(),
        Some(first_id.as_str()),
        "names the failed entry"
    );
    match error.failure() {
        WriteFailure::Apply { source, .. } => {
            assert_eq!(
                source.downcast_ref::<Refused>(),
                Some(&Refused),
                "apply's own error"
            );
        }
        other => panic!("expected an apply failure, got {other:?}"),
    }
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        2,
        "none removed"
    );
    assert_eq!(
        head(backend, TABLE).0,
        first_id,
        "the failed entry stays first"
    );
    let journal = Journal::default();
    let drained = coordinator
        .drain(TABLE, LONG, journal.each())
        .expect("later drain");
    assert_eq!(drained, 2, "the later drain applies both entries");
    let expected = [(Some(first_id), first), (Some(second_id), second)];
    assert_eq!(journal.writes(), expected, "apply order");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "queue after"
    );
}

/// When `apply` fails for a queued write during `submit`, the submitted write
/// is handed back unapplied (it cannot overtake), and the entry stays.
pub fn coordinator_submit_stops_at_failed_queued_write<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let queued_id = queue_through(&coordinator, TABLE, &poisoned_write("queued"));
    let write = tagged_write("later");
    let journal = Journal::default();
    let result = coordinator.submit(TABLE, write.clone(), LONG, journal.each());
    let error = handed_back(result, TABLE, &write, "submit after a refused queued write");
    assert_eq!(
        error.blocking_entry(),
        Some(queued_id.as_str()),
        "names the queued entry"
    );
    let direct = journal.writes().iter().any(|(key, _)| key.is_none());
    assert!(
        !direct,
        "the later write is not applied before the queued one"
    );
    assert_pending_and_released(backend, 1, "the queued entry stays");
}

/// When `apply` fails for the direct write, `submit` hands it back with
/// `Apply { queue_id: None }`, queues nothing and releases the lock.
pub fn coordinator_direct_apply_failure_hands_write_back<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let write = poisoned_write("direct");
    let journal = Journal::default();
    let result = coordinator.submit(TABLE, write.clone(), LONG, journal.each());
    let error = handed_back(result, TABLE, &write, "submit with a failing apply");
    assert!(
        error.is_apply_failure() && error.blocking_entry().is_none(),
        "expected a failure of the direct write's apply, got {error:?}"
    );
    assert_pending_and_released(backend, 0, "nothing is queued");
}

/// An invalid table name or row is refused before anything is touched: the
/// write is handed back with the validation error, `apply` is not called,
/// and nothing is queued even when the lock is held. `drain` of a bad table
/// name is refused the same way.
pub fn coordinator_rejects_invalid_input<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let bad_row = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["a|b"])]);
    let good = tagged_write("good");
    let attempts = [("../escape", good.clone()), ("", good), (TABLE, bad_row)];
    for hold in [false, true] {
        let held = hold.then(|| backend.acquire_lock(TABLE, LONG).expect("acquire_lock"));
        for (table, write) in &attempts {
            let what = format!("submit to {table:?} (lock held: {hold})");
            let result = coordinator.submit(table, write.clone(), SHORT, never_apply);
            let error = result.expect_err(&what);
            assert_eq!(
                error.handed_back(),
                Some(write),
                "{what}: handed back unchanged"
            );
            assert!(
                error.is_invalid_input(),
                "{what}: expected invalid input, got {error:?}"
            );
        }
        drop(held);
        assert_eq!(
            backend.count_pending(TABLE).expect("count_pending"),
            0,
            "none queued"
        );
    }
    let error = coordinator
        .drain("../escape", SHORT, never_apply)
        .expect_err("drain ../x");
    assert!(
        error.is_invalid_input(),
        "drain of a bad name: got {error:?}"
    );
    assert_eq!(
        backend.count_pending("escape").expect("count_pending"),
        0,
        "no escape"
    );
}

/// `drain` waits for the lock like `acquire_lock`: while another holder has
/// it, `drain` fails with `Backend(LockTimeout)` and applies nothing.
pub fn coordinator_drain_waits_for_lock<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    queue_through(&coordinator, TABLE, &tagged_write("queued"));
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let result = coordinator.drain(TABLE, Duration::from_millis(20), never_apply);
    let error = result.expect_err("drain while the lock is held");
    assert!(
        error.is_lock_timeout(),
        "expected LockTimeout, got {error:?}"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "entry stays"
    );
}
