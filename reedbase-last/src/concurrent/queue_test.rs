// SPDX-License-Identifier: Apache-2.0
//! The queue tests the old module shipped, rewritten, and checks of
//! behaviour that `docs/old-module.md` states beyond them (marked as such).
//!
//! Rewrites, not copies: the shipped test files are not in this workspace.
//! Each test here has the scenario and name of one the old module shipped
//! (`docs/old-module.md` lists them); its assertions were written here from
//! the behaviour that page states, so they may check more or less than the
//! shipped test did.

use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use tempfile::TempDir;

use crate::concurrent::queue::{count_pending, get_next_pending, queue_write, remove_from_queue};
use crate::concurrent::types::{CsvRow, PendingWrite, WriteOperation};
use crate::error::ReedError;

fn base() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}

fn now_nanos() -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after the epoch")
        .as_nanos();
    u64::try_from(nanos).expect("fits in u64")
}

fn write(operation: WriteOperation, key: &str) -> PendingWrite {
    PendingWrite {
        rows: vec![CsvRow::new(key, vec!["Alice", "alice@example.com"])],
        timestamp: now_nanos(),
        operation,
    }
}

#[test]
fn test_queue_write_and_get() {
    let dir = base();
    let queued = write(WriteOperation::Insert, "user:1");
    let id = queue_write(dir.path(), "users", queued.clone()).expect("queue");
    let (next_id, next) = get_next_pending(dir.path(), "users")
        .expect("get")
        .expect("one entry");
    assert_eq!(next_id, id);
    assert_eq!(next, queued);
}

#[test]
fn test_remove_from_queue() {
    let dir = base();
    let id = queue_write(dir.path(), "users", write(WriteOperation::Insert, "k")).expect("queue");
    assert_eq!(count_pending(dir.path(), "users").expect("count"), 1);
    remove_from_queue(dir.path(), "users", &id).expect("remove");
    assert_eq!(count_pending(dir.path(), "users").expect("count"), 0);
}

#[test]
fn test_count_pending_empty() {
    let dir = base();
    assert_eq!(count_pending(dir.path(), "users").expect("count"), 0);
}

#[test]
fn test_count_pending_two() {
    let dir = base();
    queue_write(dir.path(), "users", write(WriteOperation::Insert, "a")).expect("queue");
    queue_write(dir.path(), "users", write(WriteOperation::Insert, "b")).expect("queue");
    assert_eq!(count_pending(dir.path(), "users").expect("count"), 2);
}

#[test]
fn test_queue_full() {
    let dir = base();
    for i in 0..100 {
        queue_write(
            dir.path(),
            "users",
            write(WriteOperation::Insert, &format!("k{i}")),
        )
        .expect("queue");
    }
    let err = queue_write(
        dir.path(),
        "users",
        write(WriteOperation::Insert, "one_too_many"),
    )
    .unwrap_err();
    match err {
        ReedError::QueueFull { table, size } => {
            assert_eq!(table, "users");
            assert_eq!(size, 100);
        }
        other => panic!("expected QueueFull, got {other:?}"),
    }
}

#[test]
fn test_fifo_order() {
    let dir = base();
    let first =
        queue_write(dir.path(), "users", write(WriteOperation::Insert, "first")).expect("queue");
    thread::sleep(Duration::from_millis(10));
    queue_write(dir.path(), "users", write(WriteOperation::Insert, "second")).expect("queue");
    let (next_id, next) = get_next_pending(dir.path(), "users")
        .expect("get")
        .expect("an entry");
    assert_eq!(next_id, first);
    assert_eq!(next.rows[0].key, "first");
}

#[test]
fn test_get_next_pending_empty() {
    let dir = base();
    assert!(
        get_next_pending(dir.path(), "users")
            .expect("get")
            .is_none()
    );
}

#[test]
fn test_all_operations_queue() {
    let dir = base();
    for operation in [
        WriteOperation::Insert,
        WriteOperation::Update,
        WriteOperation::Delete,
    ] {
        queue_write(dir.path(), "users", write(operation, "k")).expect("queue");
    }
    assert_eq!(count_pending(dir.path(), "users").expect("count"), 3);
}

#[test]
fn test_multiple_rows_keep_order() {
    let dir = base();
    let queued = PendingWrite {
        rows: vec![
            CsvRow::new("user:1", vec!["Alice"]),
            CsvRow::new("user:2", vec!["Bob"]),
            CsvRow::new("user:3", vec!["Carol"]),
        ],
        timestamp: now_nanos(),
        operation: WriteOperation::Insert,
    };
    queue_write(dir.path(), "users", queued).expect("queue");
    let (_, next) = get_next_pending(dir.path(), "users")
        .expect("get")
        .expect("an entry");
    let keys: Vec<&str> = next.rows.iter().map(|row| row.key.as_str()).collect();
    assert_eq!(keys, ["user:1", "user:2", "user:3"]);
}

#[test]
fn test_separate_queues_per_table() {
    let dir = base();
    queue_write(dir.path(), "users", write(WriteOperation::Insert, "u")).expect("queue");
    queue_write(dir.path(), "orders", write(WriteOperation::Insert, "o1")).expect("queue");
    queue_write(dir.path(), "orders", write(WriteOperation::Insert, "o2")).expect("queue");
    assert_eq!(count_pending(dir.path(), "users").expect("count"), 1);
    assert_eq!(count_pending(dir.path(), "orders").expect("count"), 2);
}

#[test]
fn test_remove_missing_id_is_error() {
    let dir = base();
    let err = remove_from_queue(dir.path(), "users", "no-such-id").unwrap_err();
    match err {
        ReedError::IoError { operation, .. } => assert_eq!(operation, "remove_queue_file"),
        other => panic!("expected IoError, got {other:?}"),
    }
}

#[test]
fn test_drain_in_timestamp_order() {
    let dir = base();
    for i in 0..5 {
        queue_write(
            dir.path(),
            "users",
            write(WriteOperation::Insert, &format!("k{i}")),
        )
        .expect("queue");
        thread::sleep(Duration::from_millis(10));
    }
    let mut timestamps = Vec::new();
    while let Some((id, next)) = get_next_pending(dir.path(), "users").expect("get") {
        timestamps.push(next.timestamp);
        remove_from_queue(dir.path(), "users", &id).expect("remove");
    }
    assert_eq!(timestamps.len(), 5);
    assert!(
        timestamps.windows(2).all(|pair| pair[0] < pair[1]),
        "{timestamps:?}"
    );
}

/// Beyond the shipped tests: the order is the creation time of the entry
/// itself, read without following a link, so a link made after a real entry
/// comes after it even when its target is older.
#[test]
fn beyond_shipped_a_link_sorts_by_its_own_creation_time() {
    let dir = base();
    let queue = dir.path().join("tables").join("users").join("queue");
    std::fs::create_dir_all(&queue).expect("queue dir");
    let target = dir.path().join("older-target.json");
    let linked = write(WriteOperation::Insert, "linked");
    std::fs::write(&target, serde_json::to_string(&linked).expect("json")).expect("target");
    thread::sleep(Duration::from_millis(20));
    let real = write(WriteOperation::Insert, "real");
    let real_id = queue_write(dir.path(), "users", real.clone()).expect("queue");
    thread::sleep(Duration::from_millis(20));
    std::os::unix::fs::symlink(&target, queue.join("zz-link.pending")).expect("link");
    let (first_id, first) = get_next_pending(dir.path(), "users")
        .expect("get")
        .expect("an entry");
    assert_eq!(first_id, real_id, "the real entry is older than the link");
    assert_eq!(first, real);
    remove_from_queue(dir.path(), "users", &first_id).expect("remove");
    let (second_id, second) = get_next_pending(dir.path(), "users")
        .expect("get")
        .expect("the link");
    assert_eq!(second_id, "zz-link");
    assert_eq!(second, linked, "the link is read through to its target");
}

/// Beyond the shipped tests: the reason of a corrupt entry carries the old
/// prefix, and the entry keeps failing every later call.
#[test]
fn beyond_shipped_a_corrupt_entry_reports_the_old_prefix_every_time() {
    let dir = base();
    let queue = dir.path().join("tables").join("users").join("queue");
    std::fs::create_dir_all(&queue).expect("queue dir");
    std::fs::write(queue.join("torn.pending"), "{\"rows\": [").expect("torn entry");
    for _ in 0..2 {
        match get_next_pending(dir.path(), "users") {
            Err(ReedError::DeserializationError { reason }) => {
                assert!(
                    reason.starts_with("Failed to deserialise write: "),
                    "{reason}"
                );
            }
            other => panic!("expected DeserializationError, got {other:?}"),
        }
    }
}
