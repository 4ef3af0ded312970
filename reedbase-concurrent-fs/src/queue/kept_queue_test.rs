// SPDX-License-Identifier: Apache-2.0
use std::os::unix::fs::symlink;

use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, WriteOperation};

use crate::FsBackend;
use crate::base_cache::base_at;

fn write() -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])])
}

#[test]
fn a_removal_keeps_the_queue_directory_and_close_idle_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path();
    let first = crate::queue_write(path, "users", write()).unwrap();
    let second = crate::queue_write(path, "users", write()).unwrap();
    crate::remove_from_queue(path, "users", &first).unwrap();
    assert_eq!(base_at(path).kept().queues().len(), 1);
    crate::remove_from_queue(path, "users", &second).unwrap();
    assert_eq!(base_at(path).kept().queues().len(), 1);
    let base = base_at(path);
    crate::close_idle(path);
    assert_eq!(base.kept().queues().len(), 0);
}

#[test]
fn a_queue_directory_moved_out_and_linked_back_is_not_removed_from() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let first = backend.queue_write("users", &write()).unwrap();
    let second = backend.queue_write("users", &write()).unwrap();
    backend.remove_from_queue("users", &first).unwrap();
    // The table directory (with the kept queue in it) moved out of the
    // base and a link left in its place.
    let table = dir.path().join("tables/users");
    let moved = outside.path().join("users");
    std::fs::rename(&table, &moved).unwrap();
    symlink(&moved, &table).unwrap();
    assert!(backend.remove_from_queue("users", &second).is_err());
    let entry = moved.join("queue").join(format!("{second}.pending"));
    assert!(entry.exists(), "the entry outside the base was removed");
}

#[test]
fn a_queue_directory_replaced_is_opened_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let first = backend.queue_write("users", &write()).unwrap();
    backend.remove_from_queue("users", &first).unwrap();
    let queue = dir.path().join("tables/users/queue");
    std::fs::rename(&queue, dir.path().join("old-queue")).unwrap();
    let second = backend.queue_write("users", &write()).unwrap();
    backend.remove_from_queue("users", &second).unwrap();
    assert_eq!(backend.count_pending("users").unwrap(), 0);
    assert!(
        std::fs::read_dir(dir.path().join("old-queue"))
            .unwrap()
            .next()
            .is_none()
    );
}

/// Waits until the table directory's last change is settled (see
/// `Stamp::SETTLE`), so that the next look keeps its stamp.
fn settle() {
    std::thread::sleep(crate::no_follow::Stamp::SETTLE + std::time::Duration::from_millis(50));
}

/// Queues `n` entries of `users` through `backend`, then lets the table
/// directory settle.
fn queued(backend: &FsBackend, n: usize) -> Vec<String> {
    let ids = (0..n)
        .map(|_| backend.queue_write("users", &write()).unwrap())
        .collect();
    settle();
    ids
}

fn looks() -> u64 {
    super::QUEUE_LOOKS.with(std::cell::Cell::get)
}

/// Removes `id` from `users` through an `FsBackend` (`free` false) or the
/// free function.
fn remove(backend: &FsBackend, free: bool, path: &std::path::Path, id: &str) {
    match free {
        true => crate::remove_from_queue(path, "users", id).unwrap(),
        false => backend.remove_from_queue("users", id).unwrap(),
    }
}

/// For removals through an `FsBackend` and through the free functions:
/// `n` entries of `users` queued and settled, the first removed (the look
/// that keeps the table directory's stamp), then `then(free, base path,
/// backend, the ids)`.
fn each_way(n: usize, then: impl Fn(bool, &std::path::Path, &FsBackend, &[String])) {
    for free in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path();
        let backend = FsBackend::new(path);
        let ids = queued(&backend, n);
        remove(&backend, free, path, &ids[0]);
        then(free, path, &backend, &ids);
    }
}

#[test]
fn a_settled_table_directory_spares_the_look_at_its_queue() {
    each_way(4, |free, path, backend, ids| {
        let after_first = looks();
        for id in &ids[1..] {
            remove(backend, free, path, id);
        }
        assert_eq!(
            looks(),
            after_first,
            "looked at `queue` with the table directory unchanged (free: {free})"
        );
        assert_eq!(backend.count_pending("users").unwrap(), 0);
        // A name made in the table directory: the next removal looks.
        let id = backend.queue_write("users", &write()).unwrap();
        std::fs::write(path.join("tables/users/note"), b"").unwrap();
        let before = looks();
        remove(backend, free, path, &id);
        assert_eq!(looks(), before + 1, "free: {free}");
    });
}

#[test]
fn a_queue_directory_replaced_after_a_settled_look_is_not_removed_from() {
    each_way(2, |free, path, backend, ids| {
        // The kept queue directory renamed away, a new one in its place
        // holding an entry of the same name.
        let queue = path.join("tables/users/queue");
        let old = path.join("old-queue");
        std::fs::rename(&queue, &old).unwrap();
        std::fs::create_dir(&queue).unwrap();
        let name = format!("{}.pending", ids[1]);
        std::fs::copy(old.join(&name), queue.join(&name)).unwrap();
        remove(backend, free, path, &ids[1]);
        assert!(
            old.join(&name).exists(),
            "removed from the old queue (free: {free})"
        );
        assert!(!queue.join(&name).exists(), "free: {free}");
    });
}

#[test]
fn a_queue_directory_moved_out_after_a_settled_look_is_not_removed_from() {
    each_way(2, |free, path, backend, ids| {
        let outside = tempfile::tempdir().unwrap();
        let moved = outside.path().join("queue");
        std::fs::rename(path.join("tables/users/queue"), &moved).unwrap();
        symlink(&moved, path.join("tables/users/queue")).unwrap();
        let removed = match free {
            true => crate::remove_from_queue(path, "users", &ids[1]),
            false => backend.remove_from_queue("users", &ids[1]),
        };
        assert!(removed.is_err(), "free: {free}");
        let entry = moved.join(format!("{}.pending", ids[1]));
        assert!(
            entry.exists(),
            "the entry outside the base was removed (free: {free})"
        );
    });
}

#[test]
fn a_count_written_elsewhere_after_a_settled_look_is_removed_with_its_entry() {
    // This process keeps the queue's link count (no subdirectory yet).
    each_way(2, |free, path, backend, ids| {
        // Another process (a base of its own) counts a failed apply: the
        // marker is made in the queue directory.
        let other = FsBackend::new(path);
        assert_eq!(other.record_failed_apply("users", &ids[1]).unwrap(), 1);
        let count = path.join(format!("tables/users/queue/{}.attempts", ids[1]));
        assert!(count.exists());
        remove(backend, free, path, &ids[1]);
        assert!(
            !count.exists(),
            "the count stayed behind its entry (free: {free})"
        );
    });
}
