// SPDX-License-Identifier: Apache-2.0
//! Cases for what the coordinator reports and how long it keeps trying: a
//! drain that stops at a failing entry still counts what it applied, a
//! busy table is not a failure, and a write whose queue is full waits for
//! room when asked to.

use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{CoordinatorOptions, Drainer, SubmitOutcome, WriteCoordinator};

use crate::Backend;
use crate::apply_journal::{Journal, SHORT, handed_back, poisoned_write, queue_through};
use crate::samples::{LONG, fill_queue, join, tagged_write};

const TABLE: &str = "test_table";

/// Ten pending writes with a poisoned one sixth (fewer in a small queue):
/// `drain_all` applies and removes the five before it, reports `drained: 5`
/// and the table as failed (its error also saying 5), and leaves the rest;
/// `drain` on the same table then reports 0 applied before the same stop.
pub fn drain_counts_writes_applied_before_a_failing_entry<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    // Ten, or as many as a small queue holds, with the poisoned one halfway.
    let total = backend.capacity().min(10);
    let before = total / 2;
    for n in 0..total {
        let write = match n == before {
            true => poisoned_write("halfway"),
            false => tagged_write(&n.to_string()),
        };
        queue_through(&coordinator, TABLE, &write);
    }
    let journal = Journal::default();
    let mut each = journal.each();
    let report = coordinator
        .drain_all(LONG, |_table, key, write| each(key, write))
        .expect("drain_all");
    assert_eq!(
        (report.drained, report.tables, report.failed.len()),
        (before, 1, 1),
        "drained, tables, failed: {report:?}"
    );
    assert!(report.busy.is_empty(), "nothing was busy: {report:?}");
    let error = &report.failed[0];
    assert!(error.is_apply_failure(), "{error:?}");
    assert_eq!(
        error.drained(),
        before,
        "the error counts the writes before the stop"
    );
    assert_eq!(
        journal.writes().len(),
        before + 1,
        "applied, then the poisoned one tried"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        total - before
    );

    let error = coordinator
        .drain(TABLE, LONG, |_, _| Err("still refused".into()))
        .expect_err("drain stops at the poisoned entry again");
    assert_eq!(error.drained(), 0, "nothing applied before it this time");
}

/// `drain_all` reports a table whose lock another holder keeps as busy, not
/// as failed, and drains the others; a [`Drainer`] counts such rounds in
/// `busy`, never in `failures`, and drains the table once the lock is free.
pub fn a_busy_table_is_not_a_failure<B: Backend>(backend: &B) {
    let by_ref = WriteCoordinator::new(backend);
    let id = queue_through(&by_ref, "busy", &tagged_write("busy"));
    queue_through(&by_ref, "free", &tagged_write("free"));
    let coordinator = WriteCoordinator::new(backend.clone());
    let held = backend.acquire_lock("busy", LONG).expect("acquire_lock");
    let report = coordinator
        .drain_all(SHORT, |_, _, _| Ok(()))
        .expect("drain_all");
    assert_eq!(report.busy, ["busy"], "{report:?}");
    assert!(
        report.failed.is_empty(),
        "a busy table is no failure: {report:?}"
    );
    assert_eq!((report.drained, report.tables), (1, 2), "{report:?}");

    let drainer = Drainer::start(coordinator.clone(), Duration::from_millis(5), |_, _, _| {
        Ok(())
    });
    let start = Instant::now();
    while drainer.stats().busy < 2 {
        assert!(
            start.elapsed() < LONG,
            "the drainer never found the table busy"
        );
        thread::sleep(Duration::from_millis(5));
    }
    drop(held);
    coordinator
        .wait_applied("busy", &id, LONG)
        .expect("drained once the lock is free");
    let stats = drainer.stop();
    assert_eq!(
        (stats.failures, stats.last_error.clone()),
        (0, None),
        "{stats:?}"
    );
    assert_eq!(stats.drained, 1, "{stats:?}");
}

/// With [`CoordinatorOptions::wait_for_room`], a write whose lock is busy
/// and whose queue is full is not handed back: it waits for the lock and,
/// once the holder lets go, applies every queued write and then its own.
/// When the lock stays held past the wait, the write comes back (queue
/// full) and nothing changed.
pub fn a_full_queue_waits_for_room_when_asked<B: Backend>(backend: &B) {
    let patient = WriteCoordinator::with_options(
        backend.clone(),
        CoordinatorOptions::new().wait_for_room(LONG),
    );
    let held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let queued = fill_queue(backend, TABLE);
    let journal = Journal::default();
    let outcome = thread::scope(|scope| {
        let submitter = scope.spawn(|| {
            let mut each = journal.each();
            patient.submit(TABLE, tagged_write("late"), Duration::ZERO, &mut each)
        });
        thread::sleep(Duration::from_millis(100));
        drop(held);
        join(submitter)
    });
    let outcome = outcome.expect("the write waited for room instead of coming back");
    assert_eq!(
        outcome,
        SubmitOutcome::Applied {
            drained: queued.len()
        }
    );
    // Order among the queued writes is the FIFO cases' business; here every
    // one of them comes before the caller's own.
    let mut seen: Vec<Option<String>> = journal.writes().into_iter().map(|(id, _)| id).collect();
    assert_eq!(seen.pop(), Some(None), "its own write last");
    seen.sort_unstable();
    let mut expected: Vec<Option<String>> = queued.into_iter().map(Some).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected, "every queued write applied before it");

    let brief = WriteCoordinator::with_options(
        backend.clone(),
        CoordinatorOptions::new().wait_for_room(Duration::from_millis(60)),
    );
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    fill_queue(backend, TABLE);
    let write = tagged_write("refused");
    let result = brief.submit(TABLE, write.clone(), Duration::ZERO, |_, _| Ok(()));
    let error = handed_back(result, TABLE, &write, "no room within the wait");
    assert!(error.is_queue_full(), "{error:?}");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        backend.capacity()
    );
}
