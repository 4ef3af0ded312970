// SPDX-License-Identifier: Apache-2.0
//! Cases for the [`WriteCoordinator`] flow over a backend: apply when the
//! lock is free, queue on timeout, hand the write back when it can be
//! neither, never let a later write overtake a queued one, and keep an entry
//! whose apply failed.

use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use super::Backend;
use super::samples::{LONG, fill_queue, head, tagged_write};
use crate::coordinator::{
    ApplyError, ApplyKey, SubmitOutcome, WriteCoordinator, WriteError, WriteFailure,
};
use crate::types::{CsvRow, PendingWrite, WriteOperation};

const TABLE: &str = "test_table";
/// Short enough that a held lock makes `submit` queue at once.
const SHORT: Duration = Duration::from_millis(1);

/// What the coordinator handed to `apply`: the queue id (`None` for a direct
/// write) and the write.
type Applied = Vec<(Option<String>, PendingWrite)>;

/// The error of an `apply` that refuses a write.
#[derive(Debug, PartialEq, Eq)]
struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("apply refused the write")
    }
}

impl std::error::Error for Refused {}

/// An `apply` that refuses every write.
fn refuse(_key: ApplyKey<'_>, _write: &PendingWrite) -> Result<(), ApplyError> {
    Err(Refused.into())
}

/// An `apply` that records every write into `table`.
fn record_into(
    table: &Mutex<Applied>,
) -> impl FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError> + '_ {
    move |key, write| {
        let mut table = table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        table.push((key.queue_id().map(str::to_string), write.clone()));
        Ok(())
    }
}

/// An `apply` that must not be called.
fn never_apply(key: ApplyKey<'_>, write: &PendingWrite) -> Result<(), ApplyError> {
    panic!("apply was called ({key:?}, {write:?}) where nothing should have been applied")
}

fn applied(table: Mutex<Applied>) -> Applied {
    table
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Unwraps a submit result, naming what was being done.
#[track_caller]
fn submitted(result: Result<SubmitOutcome, WriteError>, what: &str) -> SubmitOutcome {
    result.unwrap_or_else(|error| panic!("{what}: expected Ok, got {error:?}"))
}

/// The error of a submit that must hand `write` back: panics if the submit
/// succeeded or the write came back changed.
#[track_caller]
fn handed_back(
    result: Result<SubmitOutcome, WriteError>,
    write: &PendingWrite,
    what: &str,
) -> WriteError {
    match result {
        Ok(outcome) => panic!("{what}: expected Err, got {outcome:?}"),
        Err(error) => {
            assert_eq!(
                error.handed_back(),
                Some(write),
                "{what}: the write should be handed back unchanged"
            );
            assert_eq!(
                error.table(),
                TABLE,
                "{what}: the error should name the table"
            );
            error
        }
    }
}

/// Panics unless the table holds `pending` entries (`message` says why)
/// and its lock is free again.
#[track_caller]
fn assert_pending_and_released<B: Backend>(backend: &B, pending: usize, message: &str) {
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        pending,
        "{message}"
    );
    assert!(
        !backend.is_locked(TABLE).expect("is_locked"),
        "the lock should be released"
    );
}

/// Holds the table's lock and submits `write` with a 1 ms timeout, so that
/// it is queued; returns its queue id.
fn queue_through_coordinator<B: Backend>(
    coordinator: &WriteCoordinator<&B>,
    write: &PendingWrite,
) -> String {
    let _held = coordinator
        .backend()
        .acquire_lock(TABLE, LONG)
        .expect("acquire_lock");
    match submitted(
        coordinator.submit(TABLE, write.clone(), SHORT, never_apply),
        "submit while held",
    ) {
        SubmitOutcome::Queued(id) => id,
        other => panic!("submit while the lock is held: expected Queued, got {other:?}"),
    }
}

/// `submit` on a free table applies the write under the lock with
/// a direct key, returns `Applied { drained: 0 }`, and releases the
/// lock.
pub fn coordinator_applies_when_free<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let write = tagged_write("direct");
    let mut calls = Vec::new();
    let outcome = coordinator.submit(TABLE, write.clone(), LONG, |key, got: &PendingWrite| {
        let locked = backend.is_locked(TABLE);
        calls.push((key.queue_id().map(str::to_string), got.clone(), locked));
        Ok(())
    });
    assert_eq!(
        submitted(outcome, "submit on a free table"),
        SubmitOutcome::Applied { drained: 0 }
    );
    assert_eq!(calls.len(), 1, "apply should be called once");
    let (key, got, locked) = calls.remove(0);
    assert_eq!(
        key, None,
        "a direct write should be applied with a direct key"
    );
    assert_eq!(got, write, "apply should get the write as submitted");
    assert_eq!(
        locked,
        Ok(true),
        "apply should run while the table's lock is held"
    );
    assert!(
        !backend.is_locked(TABLE).expect("is_locked"),
        "submit should release the lock"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "nothing should be queued"
    );
}

/// `submit` against a held lock times out and queues the write: `Queued(id)`,
/// one entry under that id, `apply` not called.
pub fn coordinator_queues_on_lock_timeout<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let write = tagged_write("queued");
    let id = queue_through_coordinator(&coordinator, &write);
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "count after Queued"
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
    let error = handed_back(
        coordinator.submit(TABLE, write.clone(), SHORT, never_apply),
        &write,
        "submit with the lock held and the queue full",
    );
    assert!(error.is_queue_full(), "expected QueueFull, got {error:?}");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        capacity,
        "count after refusal"
    );
}

/// A queued write is never overtaken: after it was queued, a direct write
/// applies it first (under its queue id), then itself, and reports
/// `drained: 1`.
pub fn coordinator_queued_write_not_overtaken<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let older = tagged_write("older");
    let id = queue_through_coordinator(&coordinator, &older);
    let newer = tagged_write("newer");
    let table = Mutex::new(Vec::new());
    let outcome = submitted(
        coordinator.submit(TABLE, newer.clone(), LONG, record_into(&table)),
        "submit",
    );
    assert_eq!(
        outcome,
        SubmitOutcome::Applied { drained: 1 },
        "outcome of the later write"
    );
    assert_eq!(
        applied(table),
        vec![(Some(id), older), (None, newer)],
        "apply order: the queued write first, then the direct one"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "queue after submit"
    );
}

/// An `apply` failure during `drain` stops it with `Apply { queue_id }` of
/// the entry, which stays first in the queue; a later drain applies it and
/// the rest in order.
pub fn coordinator_apply_failure_keeps_entry<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let first = tagged_write("first");
    let second = tagged_write("second");
    let first_id = queue_through_coordinator(&coordinator, &first);
    let second_id = queue_through_coordinator(&coordinator, &second);
    match coordinator.drain(TABLE, LONG, refuse) {
        Err(error) => {
            assert_eq!(
                error.blocking_entry(),
                Some(first_id.as_str()),
                "the error should name the failed entry"
            );
            match error.failure() {
                WriteFailure::Apply { source, .. } => assert_eq!(
                    source.downcast_ref::<Refused>(),
                    Some(&Refused),
                    "the error should carry apply's error"
                ),
                other => panic!("expected an apply failure, got {other:?}"),
            }
        }
        other => panic!("drain with a failing apply: expected Err, got {other:?}"),
    }
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        2,
        "nothing should be removed"
    );
    let (head_id, _) = head(backend, TABLE);
    assert_eq!(
        head_id, first_id,
        "the entry whose apply failed should stay first"
    );
    let table = Mutex::new(Vec::new());
    match coordinator.drain(TABLE, LONG, record_into(&table)) {
        Ok(drained) => assert_eq!(drained, 2, "the later drain should apply both entries"),
        Err(error) => panic!("later drain: expected Ok(2), got {error:?}"),
    }
    assert_eq!(
        applied(table),
        vec![(Some(first_id), first), (Some(second_id), second)],
        "apply order"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "queue after the later drain"
    );
}

/// When `apply` fails for a queued write during `submit`, the submitted write
/// is handed back unapplied (it cannot overtake), and the entry stays.
pub fn coordinator_submit_stops_at_failed_queued_write<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let queued_id = queue_through_coordinator(&coordinator, &tagged_write("queued"));
    let write = tagged_write("later");
    let mut direct_applied = false;
    let result = coordinator.submit(TABLE, write.clone(), LONG, |key, _write| {
        direct_applied |= key.is_direct();
        Err(Refused.into())
    });
    let error = handed_back(result, &write, "submit with a failing apply");
    assert_eq!(
        error.blocking_entry(),
        Some(queued_id.as_str()),
        "expected an apply failure naming the queued entry, got {error:?}"
    );
    assert!(
        !direct_applied,
        "the later write must not be applied before the queued one"
    );
    assert_pending_and_released(backend, 1, "the queued entry should stay");
}

/// When `apply` fails for the direct write, `submit` hands it back with
/// `Apply { queue_id: None }`, queues nothing and releases the lock.
pub fn coordinator_direct_apply_failure_hands_write_back<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let write = tagged_write("direct");
    let result = coordinator.submit(TABLE, write.clone(), LONG, refuse);
    let error = handed_back(result, &write, "submit with a failing apply");
    assert!(
        error.is_apply_failure() && error.blocking_entry().is_none(),
        "expected a failure of the direct write's apply, got {error:?}"
    );
    assert_pending_and_released(backend, 0, "nothing should be queued");
}

/// An invalid table name or row is refused before anything is touched: the
/// write is handed back with the validation error, `apply` is not called,
/// and nothing is queued even when the lock is held.
pub fn coordinator_rejects_invalid_input<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let bad_row = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["a|b"])]);
    let good = tagged_write("good");
    let attempts = [("../escape", good.clone()), ("", good), (TABLE, bad_row)];
    for hold in [false, true] {
        let held = hold.then(|| backend.acquire_lock(TABLE, LONG).expect("acquire_lock"));
        for (table, write) in &attempts {
            let what = format!("submit to {table:?} (lock held: {hold})");
            let error = match coordinator.submit(table, write.clone(), SHORT, never_apply) {
                Ok(outcome) => panic!("{what}: expected Err, got {outcome:?}"),
                Err(error) => error,
            };
            assert_eq!(
                error.handed_back(),
                Some(write),
                "{what}: handed back unchanged"
            );
            assert!(
                error.is_invalid_input(),
                "{what}: expected an invalid-input error, got {error:?}"
            );
        }
        drop(held);
        assert_eq!(
            backend.count_pending(TABLE).expect("count_pending"),
            0,
            "nothing should be queued"
        );
    }
    assert_eq!(
        backend.count_pending("escape").expect("count_pending"),
        0,
        "nothing should escape"
    );
}

/// `drain` waits for the lock like `acquire_lock`: while another holder has
/// it, `drain` fails with `Backend(LockTimeout)` and applies nothing.
pub fn coordinator_drain_waits_for_lock<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    queue_through_coordinator(&coordinator, &tagged_write("queued"));
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    match coordinator.drain(TABLE, Duration::from_millis(20), never_apply) {
        Err(error) if error.is_lock_timeout() => {}
        other => panic!("drain while the lock is held: expected LockTimeout, got {other:?}"),
    }
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "the entry should stay"
    );
}
