// SPDX-License-Identifier: Apache-2.0
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{LockBackend, QueueBackend, ReedError};

use crate::FsBackend;
use crate::lock::notify::NO_WATCH;
use crate::options::{Durability, FsOptions};
use crate::queue::test_support::sample_write;

/// Long enough that a wait which missed its wake-up fails the test by
/// returning at it, rather than hanging it.
const PATIENCE: Duration = Duration::from_secs(20);

fn backend(dir: &std::path::Path) -> FsBackend {
    FsBackend::with_options(dir, FsOptions::new().durability(Durability::Relaxed))
}

#[test]
fn a_wait_ends_when_a_holder_removes_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path());
    let id = backend.queue_write("t", &sample_write("a", 1)).unwrap();
    let start = Instant::now();
    let still_pending = thread::scope(|scope| {
        scope.spawn(|| {
            thread::sleep(Duration::from_millis(50));
            backend.remove_from_queue("t", &id).unwrap();
        });
        backend.wait_while_pending("t", &id, PATIENCE).unwrap()
    });
    assert!(!still_pending);
    assert!(start.elapsed() < PATIENCE, "woke only at the timeout");
}

#[test]
fn a_wait_ends_when_the_lock_is_released_with_the_entry_still_queued() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path());
    let guard = backend.acquire_lock("t", Duration::from_secs(1)).unwrap();
    let id = backend.queue_write("t", &sample_write("a", 1)).unwrap();
    let start = Instant::now();
    let still_pending = thread::scope(|scope| {
        scope.spawn(move || {
            thread::sleep(Duration::from_millis(50));
            drop(guard);
        });
        backend.wait_while_pending("t", &id, PATIENCE).unwrap()
    });
    assert!(still_pending);
    assert!(start.elapsed() < PATIENCE, "woke only at the timeout");
    assert!(backend.try_acquire_lock("t").unwrap().is_some());
}

#[test]
fn other_entries_leaving_do_not_end_the_wait() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path());
    let other = backend.queue_write("t", &sample_write("a", 1)).unwrap();
    let id = backend.queue_write("t", &sample_write("b", 1)).unwrap();
    let start = Instant::now();
    let still_pending = thread::scope(|scope| {
        scope.spawn(|| backend.remove_from_queue("t", &other).unwrap());
        backend
            .wait_while_pending("t", &id, Duration::from_millis(300))
            .unwrap()
    });
    assert!(still_pending);
    assert!(start.elapsed() >= Duration::from_millis(300));
}

#[test]
fn an_entry_gone_before_the_wait_returns_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path());
    let id = backend.queue_write("t", &sample_write("a", 1)).unwrap();
    backend.remove_from_queue("t", &id).unwrap();
    let start = Instant::now();
    assert!(!backend.wait_while_pending("t", &id, PATIENCE).unwrap());
    assert!(start.elapsed() < PATIENCE);
}

#[test]
fn without_a_watch_it_pauses_and_looks_once() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path());
    let id = backend.queue_write("t", &sample_write("a", 1)).unwrap();
    NO_WATCH.with(|no| no.set(true));
    let start = Instant::now();
    let pending = backend.wait_while_pending("t", &id, PATIENCE).unwrap();
    NO_WATCH.with(|no| no.set(false));
    assert!(pending);
    assert!(
        start.elapsed() < PATIENCE,
        "the fallback is one short pause"
    );
}

#[test]
fn a_table_without_a_queue_has_nothing_pending_and_gets_none() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path());
    let id = "00000000000000000001-0123456789abcdef0123456789abcdef";
    assert!(!backend.wait_while_pending("t", id, PATIENCE).unwrap());
    assert!(!dir.path().join("tables").exists());
}

#[test]
fn bad_names_are_refused_before_anything_is_opened() {
    let dir = tempfile::tempdir().unwrap();
    let backend = backend(dir.path());
    let error = backend
        .wait_while_pending("../t", "x", Duration::ZERO)
        .unwrap_err();
    assert!(
        matches!(error, ReedError::InvalidTableName { .. }),
        "{error:?}"
    );
    let error = backend
        .wait_while_pending("t", "../x", Duration::ZERO)
        .unwrap_err();
    assert!(
        matches!(error, ReedError::InvalidQueueId { .. }),
        "{error:?}"
    );
}

#[cfg(unix)]
#[test]
fn a_queue_directory_replaced_by_a_link_is_refused_and_nothing_outside_is_watched() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let backend = backend(dir.path());
    let id = backend.queue_write("t", &sample_write("a", 1)).unwrap();
    let queue = dir.path().join("tables/t/queue");
    std::fs::rename(&queue, dir.path().join("queue-moved")).unwrap();
    std::os::unix::fs::symlink(outside.path(), &queue).unwrap();
    let result = backend.wait_while_pending("t", &id, Duration::from_millis(10));
    assert!(result.is_err(), "{result:?}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}
