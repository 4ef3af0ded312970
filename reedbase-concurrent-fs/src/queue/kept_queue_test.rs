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
