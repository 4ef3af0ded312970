// SPDX-License-Identifier: Apache-2.0
//! The queue tests the old module shipped.

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
