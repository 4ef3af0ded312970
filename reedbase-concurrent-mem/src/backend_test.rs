// SPDX-License-Identifier: Apache-2.0
//! Unit tests of [`MemBackend`]: sharing, capacity, ids, poisoning, `Debug`,
//! and waking every kind of waiter on release.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{
    CsvRow, DEFAULT_QUEUE_CAPACITY, LockBackend, PendingWrite, QueueBackend, ReedError, ReedResult,
    WriteOperation, validate_queue_id,
};

use super::{Arc, MemBackend};
use crate::slot::lock_ignoring_poison;

/// A timeout no waiter in these tests should ever reach.
const LONG: Duration = Duration::from_secs(60);
/// A generous bound on how soon a woken waiter reports back; only a waiter
/// that is never woken (a lost wake-up) takes this long.
const WAKE_BOUND: Duration = Duration::from_secs(10);

/// How many threads sleep on the table's condvar, so that a test can
/// release only once its waiters really wait.
fn waiters(backend: &MemBackend, table_name: &str) -> ReedResult<usize> {
    let slot = backend.slot(table_name)?;
    let waiters = lock_ignoring_poison(&slot.state).waiters;
    Ok(waiters)
}

/// Poisons the table map's mutex and the table's state mutex, by panicking
/// in a thread that holds both.
fn poison(backend: &MemBackend, table_name: &str) {
    let slot = backend.slot(table_name).unwrap();
    let shared = Arc::clone(&backend.shared);
    let panicked = thread::spawn(move || {
        let _tables = shared.tables.lock();
        let _state = slot.state.lock();
        panic!("poisoning the mem backend's mutexes on purpose");
    })
    .join();
    assert!(panicked.is_err(), "the poisoning thread should panic");
}

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, vec!["v"])])
}

/// Blocks until `count` threads sleep on the table's condvar.
fn wait_for_sleepers(backend: &MemBackend, table: &str, count: usize) {
    let start = Instant::now();
    while waiters(backend, table).unwrap() < count {
        assert!(
            start.elapsed() < WAKE_BOUND,
            "{count} waiter(s) never went to sleep on {table}"
        );
        thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn clone_shares_locks_and_queues() {
    let backend = MemBackend::new();
    let clone = backend.clone();
    let id = backend.queue_write("users", &write("k")).unwrap();
    assert_eq!(clone.count_pending("users").unwrap(), 1);
    assert_eq!(clone.get_next_pending("users").unwrap().unwrap().0, id);
    clone.remove_from_queue("users", &id).unwrap();
    assert_eq!(backend.count_pending("users").unwrap(), 0);

    let guard = clone.acquire_lock("users", LONG).unwrap();
    assert!(backend.is_locked("users").unwrap());
    assert!(backend.try_acquire_lock("users").unwrap().is_none());
    drop(guard);
    assert!(backend.try_acquire_lock("users").unwrap().is_some());
}

#[test]
fn new_and_default_use_the_default_capacity() {
    assert_eq!(MemBackend::new().capacity(), DEFAULT_QUEUE_CAPACITY);
    assert_eq!(MemBackend::default().capacity(), DEFAULT_QUEUE_CAPACITY);
}

#[test]
fn with_capacity_limits_each_table_on_its_own() {
    let backend = MemBackend::with_capacity(2);
    assert_eq!(backend.capacity(), 2);
    let first = backend.queue_write("a", &write("1")).unwrap();
    backend.queue_write("a", &write("2")).unwrap();
    assert_eq!(
        backend.queue_write("a", &write("3")),
        Err(ReedError::QueueFull {
            table: "a".to_string(),
            size: 2
        })
    );
    // Another table has its own two places.
    backend.queue_write("b", &write("1")).unwrap();
    backend.queue_write("b", &write("2")).unwrap();
    assert!(
        backend
            .queue_write("b", &write("3"))
            .unwrap_err()
            .is_queue_full()
    );
    // A removal frees a place.
    backend.remove_from_queue("a", &first).unwrap();
    backend.queue_write("a", &write("3")).unwrap();
    assert_eq!(backend.count_pending("a").unwrap(), 2);
}

#[test]
fn zero_capacity_refuses_every_write() {
    let backend = MemBackend::with_capacity(0);
    assert_eq!(
        backend.queue_write("a", &write("1")),
        Err(ReedError::QueueFull {
            table: "a".to_string(),
            size: 0
        })
    );
    assert_eq!(backend.count_pending("a").unwrap(), 0);
}

#[test]
fn queue_ids_are_unique_valid_and_never_reused() {
    let backend = MemBackend::with_capacity(1_000);
    let producers: Vec<_> = (0..4)
        .map(|n| {
            let backend = backend.clone();
            thread::spawn(move || {
                let table = if n % 2 == 0 { "even" } else { "odd" };
                (0..50)
                    .map(|i| {
                        (
                            table,
                            backend.queue_write(table, &write(&i.to_string())).unwrap(),
                        )
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let queued: Vec<_> = producers
        .into_iter()
        .flat_map(|producer| producer.join().unwrap())
        .collect();
    let mut seen = HashSet::new();
    for (_, id) in &queued {
        validate_queue_id(id).unwrap();
        assert!(seen.insert(id.clone()), "id {id} handed out twice");
    }
    assert_eq!(seen.len(), 200);

    for (table, id) in &queued {
        backend.remove_from_queue(table, id).unwrap();
    }
    for table in ["even", "odd"] {
        let id = backend.queue_write(table, &write("again")).unwrap();
        assert!(!seen.contains(&id), "id {id} reused after removal");
    }
}

#[test]
fn poisoned_mutexes_do_not_break_the_backend() {
    let backend = MemBackend::with_capacity(2);
    let queued = backend.queue_write("users", &write("before")).unwrap();
    let guard = backend.acquire_lock("users", LONG).unwrap();
    poison(&backend, "users");

    // Releasing through a poisoned mutex neither panics nor keeps the lock.
    drop(guard);
    assert!(!backend.is_locked("users").unwrap());
    let guard = backend.acquire_lock("users", LONG).unwrap();
    assert!(backend.try_acquire_lock("users").unwrap().is_none());
    assert!(backend.wait_for_unlock("users", Duration::ZERO).is_err());
    drop(guard);
    backend.wait_for_unlock("users", Duration::ZERO).unwrap();

    let (head, _) = backend.get_next_pending("users").unwrap().unwrap();
    assert_eq!(head, queued);
    let after = backend.queue_write("users", &write("after")).unwrap();
    assert!(
        backend
            .queue_write("users", &write("full"))
            .unwrap_err()
            .is_queue_full()
    );
    backend.remove_from_queue("users", &queued).unwrap();
    assert_eq!(backend.get_next_pending("users").unwrap().unwrap().0, after);
    assert_eq!(backend.count_pending("users").unwrap(), 1);
    // The table map is poisoned too; new tables still come into being.
    assert!(!backend.is_locked("other").unwrap());
}

#[test]
fn a_panicking_holder_releases_the_lock() {
    let backend = MemBackend::new();
    let holder = backend.clone();
    let panicked = thread::spawn(move || {
        let _guard = holder.acquire_lock("users", LONG).unwrap();
        panic!("holder panics while holding the lock, on purpose");
    })
    .join();
    assert!(panicked.is_err());
    assert!(!backend.is_locked("users").unwrap());
    drop(backend.acquire_lock("users", Duration::ZERO).unwrap());
}

#[test]
fn debug_output_names_the_type_and_the_capacity() {
    let backend = MemBackend::with_capacity(7);
    assert_eq!(format!("{backend:?}"), "MemBackend { capacity: 7, .. }");
    let guard = backend.acquire_lock("users", LONG).unwrap();
    assert_eq!(
        format!("{guard:?}"),
        "MemGuard { table_name: \"users\", .. }"
    );
}

#[test]
fn a_timed_out_waiter_reports_its_wait_and_stops_counting_as_a_sleeper() {
    let backend = MemBackend::new();
    let _guard = backend.acquire_lock("users", LONG).unwrap();
    let timeout = Duration::from_millis(20);
    for error in [
        backend.acquire_lock("users", timeout).unwrap_err(),
        backend.wait_for_unlock("users", timeout).unwrap_err(),
    ] {
        match error {
            ReedError::LockTimeout { table, waited, .. } => {
                assert_eq!(table, "users");
                assert!(waited >= timeout, "reported {waited:?}, asked {timeout:?}");
            }
            other => panic!("expected LockTimeout, got {other:?}"),
        }
    }
    assert_eq!(waiters(&backend, "users").unwrap(), 0);
}

/// Receives `count` reports, failing if one does not arrive within
/// [`WAKE_BOUND`] (a waiter that was never woken).
fn expect_reports(reports: &mpsc::Receiver<(&'static str, bool)>, count: usize, round: usize) {
    for _ in 0..count {
        let (who, ok) = reports
            .recv_timeout(WAKE_BOUND)
            .unwrap_or_else(|_| panic!("round {round}: a waiter was not woken by the release"));
        assert!(ok, "round {round}: {who} failed after the release");
    }
}

// Release must use notify_all: with notify_one the kernel wakes the oldest
// sleeper, here the wait_for_unlock caller, and the acquirer sleeps on.
#[test]
fn release_wakes_an_acquirer_and_an_unlock_waiter_sleeping_together() {
    for round in 0..5 {
        let backend = MemBackend::new();
        let guard = backend.acquire_lock("users", LONG).unwrap();
        let (report, reports) = mpsc::channel();

        let (unlock_backend, unlock_report) = (backend.clone(), report.clone());
        let unlock_waiter = thread::spawn(move || {
            let result = unlock_backend.wait_for_unlock("users", LONG);
            unlock_report
                .send(("wait_for_unlock", result.is_ok()))
                .unwrap();
        });
        wait_for_sleepers(&backend, "users", 1);

        let acquire_backend = backend.clone();
        let acquirer = thread::spawn(move || {
            let result = acquire_backend.acquire_lock("users", LONG).map(drop);
            report.send(("acquire_lock", result.is_ok())).unwrap();
        });
        wait_for_sleepers(&backend, "users", 2);

        drop(guard);
        expect_reports(&reports, 2, round);
        unlock_waiter.join().unwrap();
        acquirer.join().unwrap();
        assert!(!backend.is_locked("users").unwrap());
    }
}

// Unlock waiters never take the lock, so no later release would wake one
// that a release left asleep.
#[test]
fn release_wakes_every_unlock_waiter() {
    for round in 0..3 {
        let backend = MemBackend::new();
        let guard = backend.acquire_lock("users", LONG).unwrap();
        let (report, reports) = mpsc::channel();
        let waiters: Vec<_> = (0..3)
            .map(|_| {
                let (backend, report) = (backend.clone(), report.clone());
                thread::spawn(move || {
                    let result = backend.wait_for_unlock("users", LONG);
                    report.send(("wait_for_unlock", result.is_ok())).unwrap();
                })
            })
            .collect();
        wait_for_sleepers(&backend, "users", 3);
        drop(guard);
        expect_reports(&reports, 3, round);
        for waiter in waiters {
            waiter.join().unwrap();
        }
    }
}

#[test]
fn a_backend_used_in_another_process_refuses_locks_and_writes() {
    let elsewhere = std::process::id().wrapping_add(1);
    let backend = MemBackend::owned_by(elsewhere, 10);
    for error in [
        backend.acquire_lock("users", LONG).unwrap_err(),
        backend.try_acquire_lock("users").unwrap_err(),
        backend.queue_write("users", &write("k")).unwrap_err(),
    ] {
        assert_eq!(error.io_kind(), Some(std::io::ErrorKind::Unsupported));
        let message = error.to_string();
        assert!(message.contains("memory:users"), "{message}");
        assert!(
            message.contains(&format!("made by process {elsewhere}")),
            "{message}"
        );
        assert!(message.contains("file-system backend"), "{message}");
    }
    // Nothing was taken or queued, and reads still answer.
    assert!(!backend.is_locked("users").unwrap());
    assert_eq!(backend.count_pending("users").unwrap(), 0);
    // Input errors come first, as on every backend.
    assert!(
        backend
            .queue_write("../x", &write("k"))
            .unwrap_err()
            .is_invalid_input()
    );
}

#[test]
fn record_failed_apply_counts_pending_entries_only() {
    let backend = MemBackend::new();
    let id = backend.queue_write("users", &write("k")).unwrap();
    assert_eq!(backend.record_failed_apply("users", &id).unwrap(), 1);
    assert_eq!(backend.record_failed_apply("users", &id).unwrap(), 2);
    backend.move_aside("users", &id, "dead letter").unwrap();
    assert_eq!(
        backend.record_failed_apply("users", &id),
        Err(ReedError::entry_not_found("users", &id))
    );
}
