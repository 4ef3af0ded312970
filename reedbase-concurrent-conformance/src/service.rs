// SPDX-License-Identifier: Apache-2.0
//! Cases for what a service needs around the coordinator: waiting until a
//! queued write is applied, draining every table at start-up, and a
//! background [`Drainer`].

use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedError;
use reedbase_concurrent_core::{Drainer, WriteCoordinator};

use crate::Backend;
use crate::apply_journal::{Journal, poisoned_write, queue_through};
use crate::samples::{ABSENT_ID, LONG, join, queue_tagged, tagged_write};

const TABLE: &str = "test_table";

/// `wait_applied` returns once another thread has drained the queued
/// write (about 50 ms later), after which it is no longer pending; for a
/// write applied already, and for an id that was never queued, it returns
/// at once.
pub fn wait_applied_returns_once_applied<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let id = queue_through(&coordinator, TABLE, &tagged_write("waited"));
    let drained = thread::scope(|scope| {
        let drainer = scope.spawn(|| {
            thread::sleep(Duration::from_millis(50));
            coordinator.drain(TABLE, LONG, |_, _| Ok(()))
        });
        coordinator
            .wait_applied(TABLE, &id, LONG)
            .expect("wait_applied");
        join(drainer)
    });
    assert_eq!(
        drained.expect("the other thread's drain"),
        1,
        "it drained the write"
    );
    assert!(
        !backend.is_pending(TABLE, &id).expect("is_pending"),
        "no longer pending"
    );
    let start = Instant::now();
    coordinator
        .wait_applied(TABLE, &id, LONG)
        .expect("wait_applied, applied already");
    coordinator
        .wait_applied(TABLE, ABSENT_ID, LONG)
        .expect("wait_applied, never queued");
    assert!(start.elapsed() < LONG, "neither waited for the timeout");
}

/// `wait_applied` of a write that was moved aside instead of applied is
/// `CorruptEntry` with the reason.
pub fn wait_applied_reports_a_write_moved_aside<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let id = queue_through(&coordinator, TABLE, &tagged_write("moved"));
    backend
        .move_aside(TABLE, &id, "set aside by an operator")
        .expect("move_aside");
    match coordinator.wait_applied(TABLE, &id, LONG) {
        Err(ReedError::CorruptEntry {
            table,
            queue_id,
            reason,
            ..
        }) => {
            assert_eq!(
                (table.as_str(), queue_id.as_str()),
                (TABLE, id.as_str()),
                "names it"
            );
            assert!(
                reason.contains("set aside by an operator"),
                "gives the reason: {reason}"
            );
        }
        other => {
            panic!("wait_applied of a write moved aside: expected CorruptEntry, got {other:?}")
        }
    }
}

/// `wait_applied` of a write nobody drains times out after 100 ms with
/// `WaitTimeout` naming the table, the id and the real wait, and the write
/// stays queued; a bad table name or id is refused as invalid input.
pub fn wait_applied_times_out_while_pending<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let id = queue_through(&coordinator, TABLE, &tagged_write("waiting"));
    let timeout = Duration::from_millis(100);
    match coordinator.wait_applied(TABLE, &id, timeout) {
        Err(ReedError::WaitTimeout {
            table,
            queue_id,
            waited,
        }) => {
            assert_eq!(
                (table.as_str(), queue_id.as_str()),
                (TABLE, id.as_str()),
                "names it"
            );
            assert!(
                waited >= timeout,
                "reports {waited:?} waited, less than {timeout:?}"
            );
        }
        other => {
            panic!("wait_applied of a write nobody drains: expected WaitTimeout, got {other:?}")
        }
    }
    assert!(
        backend.is_pending(TABLE, &id).expect("is_pending"),
        "still queued"
    );
    for (table, queue_id) in [("../x", id.as_str()), (TABLE, "../../x")] {
        let error = coordinator
            .wait_applied(table, queue_id, timeout)
            .expect_err("bad input");
        assert!(
            error.is_invalid_input(),
            "{table:?}, {queue_id:?}: got {error:?}"
        );
    }
}

/// `drain_all` drains every table with pending writes, calling `apply` with
/// the table's name, and reports a table whose lock is busy (as busy) and
/// one whose entry blocks (as failed) without stopping the others; `drain_all_batch` then drains
/// what was left.
pub fn drain_all_drains_every_table_and_reports_the_blocked<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    queue_tagged(backend, "alpha", 2);
    queue_tagged(backend, "beta", 1);
    queue_tagged(backend, "gamma", 1);
    queue_through(&coordinator, "delta", &poisoned_write("blocking"));
    let held = backend
        .acquire_lock("gamma", LONG)
        .expect("acquire_lock gamma");
    let mut tables = Vec::new();
    let report = coordinator
        .drain_all(Duration::from_millis(20), |table, _key, write| {
            tables.push(table.to_string());
            match write.rows[0].key.starts_with("poison") {
                true => Err("refused".into()),
                false => Ok(()),
            }
        })
        .expect("drain_all");
    assert_eq!(
        (report.drained, report.tables),
        (3, 4),
        "drained, tables: {report:?}"
    );
    let failed: Vec<&str> = report.failed.iter().map(|error| error.table()).collect();
    assert_eq!(failed, ["delta"], "the blocked tables: {report:?}");
    assert_eq!(report.busy, ["gamma"], "the busy tables: {report:?}");
    assert!(
        report
            .failed
            .iter()
            .any(|e| e.table() == "delta" && e.is_apply_failure())
    );
    assert_eq!(
        tables,
        ["alpha", "alpha", "beta", "delta"],
        "apply told the table"
    );
    let left = backend.tables_with_pending().expect("tables_with_pending");
    assert_eq!(left, ["delta", "gamma"], "what is left");
    drop(held);
    let journal = Arc::new(Mutex::new(Vec::new()));
    let report = coordinator
        .drain_all_batch(LONG, |table, batch| {
            let mut journal = journal.lock().unwrap_or_else(PoisonError::into_inner);
            journal.push((table.to_string(), batch.len()));
            Ok(())
        })
        .expect("drain_all_batch");
    assert_eq!((report.drained, report.failed.len()), (2, 0), "{report:?}");
    let calls = journal
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(calls, [("delta".to_string(), 1), ("gamma".to_string(), 1)]);
}

/// A [`Drainer`] applies writes queued on several tables in the background
/// (waited for with `wait_applied`); `stop` returns its statistics: every
/// write drained, at least one round, no failure. A batch drainer does the
/// same with batches.
pub fn drainer_drains_in_the_background<B: Backend>(backend: &B) {
    for batched in [false, true] {
        let coordinator = WriteCoordinator::new(backend.clone());
        let mut ids = Vec::new();
        for table in ["alpha", "beta"] {
            for tag in ["first", "second"] {
                // Apart, so that even creation-time order holds (the old module).
                thread::sleep(Duration::from_millis(10));
                let id = backend
                    .queue_write(table, &tagged_write(tag))
                    .expect("queue_write");
                ids.push((table, id));
            }
        }
        let journal = Arc::new(Journal::default());
        let sink = Arc::clone(&journal);
        let every = Duration::from_millis(10);
        let drainer = match batched {
            false => Drainer::start(coordinator.clone(), every, move |_, key, write| {
                (sink.each())(key, write)
            }),
            true => Drainer::start_batch(coordinator.clone(), every, move |_, batch| {
                (sink.batch())(batch)
            }),
        };
        for (table, id) in &ids {
            coordinator
                .wait_applied(table, id, LONG)
                .expect("wait_applied");
        }
        let stats = drainer.stop();
        let what = format!("drainer (batches: {batched})");
        assert_eq!(stats.drained, 4, "{what}: {stats:?}");
        assert!(stats.rounds >= 1, "{what}: {stats:?}");
        assert_eq!(
            (stats.failures, stats.last_error),
            (0, None),
            "{what}: no failure"
        );
        let drained: Vec<Option<String>> = journal.writes().into_iter().map(|(k, _)| k).collect();
        let expected: Vec<Option<String>> = ids.into_iter().map(|(_, id)| Some(id)).collect();
        assert_eq!(drained, expected, "{what}: each once, each table in order");
    }
}
