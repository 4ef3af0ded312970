// SPDX-License-Identifier: Apache-2.0
//! An acquisition that knows the table has no queue directory says so
//! (`LockGuard::queue_empty_at_acquisition`), and the coordinator then
//! makes no fetch before applying its write. It knows from the table
//! directory's stamp (links, modification and change times), which every
//! new name in the directory moves: whatever makes a queue (this crate in
//! another backend, the old module, a hand) is seen by the next
//! acquisition, and what was queued is applied before the next direct
//! write. Counted through the conformance suite's `LosingLocks`, which
//! forwards every call and counts the fetches.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::thread;
use std::time::Duration;

use reedbase_concurrent_conformance::{LosingLocks, keys_applied_by_submit};
use reedbase_concurrent_core::{
    CsvRow, LockBackend, LockGuard, PendingWrite, QueueBackend, WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};
use reedbase_last::concurrent as last;

const TABLE: &str = "users";
const LONG: Duration = Duration::from_secs(5);
/// Longer than the crate's settling time of a directory's stamp (100 ms),
/// so that the look after it is kept and the next acquisition looks no
/// more.
const SETTLED: Duration = Duration::from_millis(250);

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

fn backend(base: &Path) -> LosingLocks<FsBackend> {
    LosingLocks::new(FsBackend::with_options(
        base,
        FsOptions::new().durability(Durability::Relaxed),
    ))
}

/// Submits `key` and returns the keys applied by that call, in order.
fn submit(coordinator: &WriteCoordinator<&LosingLocks<FsBackend>>, key: &str) -> Vec<String> {
    keys_applied_by_submit(coordinator, TABLE, write(key), LONG)
}

/// A table whose lock was taken and whose stamp is settled and looked at:
/// the next acquisitions know the queue missing without a look.
fn settled_table(base: &Path) -> LosingLocks<FsBackend> {
    let losing = backend(base);
    drop(losing.acquire_lock(TABLE, LONG).unwrap());
    thread::sleep(SETTLED);
    let guard = losing.acquire_lock(TABLE, LONG).unwrap();
    assert!(guard.queue_empty_at_acquisition());
    drop(guard);
    losing
}

#[test]
fn submits_to_a_table_without_a_queue_fetch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let losing = backend(dir.path());
    let coordinator = WriteCoordinator::new(&losing);
    for n in 0..5 {
        assert_eq!(submit(&coordinator, &format!("d{n}")), [format!("d{n}")]);
    }
    assert_eq!(losing.fetches(), 0, "a fetch was made with no queue");
    thread::sleep(SETTLED);
    for n in 5..10 {
        assert_eq!(submit(&coordinator, &format!("d{n}")), [format!("d{n}")]);
    }
    assert_eq!(losing.fetches(), 0, "a fetch was made with no queue");
}

#[test]
fn with_entries_in_the_queue_every_submit_fetches_them_first() {
    let dir = tempfile::tempdir().unwrap();
    let losing = backend(dir.path());
    let other = FsBackend::new(dir.path());
    let coordinator = WriteCoordinator::new(&losing);
    for round in 0..3 {
        other
            .queue_write(TABLE, &write(&format!("q{round}")))
            .unwrap();
        let guard = losing.acquire_lock(TABLE, LONG).unwrap();
        assert!(!guard.queue_empty_at_acquisition(), "round {round}");
        drop(guard);
        assert_eq!(
            submit(&coordinator, &format!("d{round}")),
            [format!("q{round}"), format!("d{round}")]
        );
        thread::sleep(SETTLED);
    }
    assert_eq!(losing.fetches(), 3);
}

#[test]
fn an_emptied_queue_is_not_fetched_from_until_something_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let losing = backend(dir.path());
    let other = FsBackend::new(dir.path());
    let coordinator = WriteCoordinator::new(&losing);
    other.queue_write(TABLE, &write("q0")).unwrap();
    assert_eq!(submit(&coordinator, "d0"), ["q0", "d0"]);
    thread::sleep(SETTLED);
    // This fetch finds the settled queue directory empty, and notes it.
    assert_eq!(submit(&coordinator, "d1"), ["d1"]);
    let fetched = losing.fetches();
    for n in 2..6 {
        assert_eq!(submit(&coordinator, &format!("d{n}")), [format!("d{n}")]);
    }
    assert_eq!(
        losing.fetches(),
        fetched,
        "an unchanged empty queue was fetched from"
    );
    // An entry from another backend, one of the old module, one renamed in
    // by hand: each moves the stamp and is applied first.
    other.queue_write(TABLE, &write("q1")).unwrap();
    assert_eq!(submit(&coordinator, "d6"), ["q1", "d6"]);
    thread::sleep(SETTLED);
    assert_eq!(submit(&coordinator, "d7"), ["d7"]);
    let entry = last::PendingWrite {
        rows: vec![last::CsvRow::new("q2", vec!["v"])],
        timestamp: 1,
        operation: last::WriteOperation::Insert,
    };
    last::queue_write(dir.path(), TABLE, entry).unwrap();
    assert_eq!(submit(&coordinator, "d8"), ["q2", "d8"]);
    thread::sleep(SETTLED);
    assert_eq!(submit(&coordinator, "d9"), ["d9"]);
    let elsewhere = tempfile::tempdir().unwrap();
    let maker = FsBackend::new(elsewhere.path());
    let id = maker.queue_write(TABLE, &write("q3")).unwrap();
    let name = format!("{id}.pending");
    let made = elsewhere.path().join("tables").join(TABLE).join("queue");
    let queue = dir.path().join("tables").join(TABLE).join("queue");
    // Both temporary directories are on one file system: a rename.
    std::fs::copy(made.join(&name), elsewhere.path().join(&name)).unwrap();
    std::fs::rename(elsewhere.path().join(&name), queue.join(&name)).unwrap();
    assert_eq!(submit(&coordinator, "d10"), ["q3", "d10"]);
}

/// After a settled look, `queue` comes from elsewhere with one entry; the
/// next submit applies that entry before its own write.
fn queued_elsewhere_is_applied_first(make_queue: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().unwrap();
    let losing = settled_table(dir.path());
    let coordinator = WriteCoordinator::new(&losing);
    assert_eq!(submit(&coordinator, "first"), ["first"]);
    assert_eq!(losing.fetches(), 0);
    make_queue(dir.path());
    assert_eq!(submit(&coordinator, "own"), ["elsewhere", "own"]);
    assert!(losing.fetches() >= 1);
    assert_eq!(losing.count_pending(TABLE).unwrap(), 0);
}

#[test]
fn an_entry_queued_through_another_backend_is_applied_first() {
    queued_elsewhere_is_applied_first(|base| {
        FsBackend::new(base)
            .queue_write(TABLE, &write("elsewhere"))
            .unwrap();
    });
}

#[test]
fn an_entry_queued_by_the_old_module_is_applied_first() {
    queued_elsewhere_is_applied_first(|base| {
        let entry = last::PendingWrite {
            rows: vec![last::CsvRow::new("elsewhere", vec!["v"])],
            timestamp: 1,
            operation: last::WriteOperation::Insert,
        };
        last::queue_write(base, TABLE, entry).unwrap();
    });
}

#[test]
fn an_entry_put_in_a_queue_made_by_hand_is_applied_first() {
    queued_elsewhere_is_applied_first(|base| {
        let elsewhere = tempfile::tempdir().unwrap();
        let maker = FsBackend::new(elsewhere.path());
        let id = maker.queue_write(TABLE, &write("elsewhere")).unwrap();
        let made = maker.base_path().join("tables").join(TABLE).join("queue");
        let queue = base.join("tables").join(TABLE).join("queue");
        std::fs::create_dir(&queue).unwrap();
        let name = format!("{id}.pending");
        std::fs::copy(made.join(&name), queue.join(&name)).unwrap();
    });
}

#[test]
fn a_link_in_place_of_the_queue_still_stops_a_submit() {
    let dir = tempfile::tempdir().unwrap();
    let losing = settled_table(dir.path());
    let coordinator = WriteCoordinator::new(&losing);
    assert_eq!(submit(&coordinator, "first"), ["first"]);
    let outside = tempfile::tempdir().unwrap();
    let queue = dir.path().join("tables").join(TABLE).join("queue");
    std::os::unix::fs::symlink(outside.path(), &queue).unwrap();
    let mut applied = 0;
    let error = coordinator
        .submit(TABLE, write("own"), LONG, |_, _| {
            applied += 1;
            Ok(())
        })
        .expect_err("a link in place of the queue");
    assert_eq!(applied, 0, "{error}");
    assert_eq!(std::fs::read_dir(outside.path()).unwrap().count(), 0);
}
