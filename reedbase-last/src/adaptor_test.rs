// SPDX-License-Identifier: Apache-2.0
//! Tests of the adaptor's conversions (it must convert, not fix).

use std::io;
use std::time::Duration;

use reedbase_concurrent_core::{
    CsvRow, LockBackend, PendingWrite, QueueBackend, ReedError, WriteOperation,
};

use crate::LastBackend;

fn backend() -> (tempfile::TempDir, LastBackend) {
    let dir = tempfile::tempdir().expect("temporary directory");
    let backend = LastBackend::new(dir.path());
    (dir, backend)
}

#[test]
fn test_lock_timeout_reports_whole_seconds_asked_for() {
    let (_dir, backend) = backend();
    let _held = backend
        .acquire_lock("users", Duration::from_secs(1))
        .expect("lock");
    match backend.acquire_lock("users", Duration::from_millis(300)) {
        Err(ReedError::LockTimeout { table, waited, .. }) => {
            assert_eq!(table, "users");
            assert_eq!(waited, Duration::ZERO);
        }
        Err(other) => panic!("expected LockTimeout, got {other:?}"),
        Ok(_) => panic!("expected LockTimeout, got the lock"),
    }
    assert!(backend.try_acquire_lock("users").expect("try").is_none());
}

#[test]
fn test_io_error_gets_best_effort_path_and_kind_other() {
    let (dir, backend) = backend();
    let err = backend
        .remove_from_queue("users", "no-such-id")
        .unwrap_err();
    match err {
        ReedError::IoError {
            operation,
            path,
            kind,
            ..
        } => {
            assert_eq!(operation, "remove_queue_file");
            assert_eq!(
                path,
                dir.path().join("tables/users/queue/no-such-id.pending")
            );
            assert_eq!(kind, io::ErrorKind::Other);
        }
        other => panic!("expected IoError, got {other:?}"),
    }
}

#[test]
fn test_timestamps_convert_both_ways() {
    let (_dir, backend) = backend();
    let write = PendingWrite {
        rows: vec![CsvRow::new("k", vec!["v"])],
        timestamp: u128::from(u64::MAX),
        operation: WriteOperation::Delete,
    };
    let id = backend.queue_write("users", &write).expect("queue");
    assert_eq!(
        backend.get_next_pending("users").expect("get"),
        Some((id, write))
    );
}

#[test]
fn test_timestamp_beyond_u64_is_refused() {
    let (_dir, backend) = backend();
    let write = PendingWrite {
        rows: Vec::new(),
        timestamp: u128::from(u64::MAX) + 1,
        operation: WriteOperation::Insert,
    };
    let err = backend.queue_write("users", &write).unwrap_err();
    assert!(
        matches!(err, ReedError::SerializationError { .. }),
        "got {err:?}"
    );
    assert_eq!(backend.count_pending("users").expect("count"), 0);
}

#[test]
fn test_no_validation_is_added() {
    let (dir, backend) = backend();
    let write = PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new("a|b", vec!["x\ny"])],
    );
    backend
        .queue_write("../escape", &write)
        .expect("queued unvalidated");
    assert_eq!(backend.count_pending("../escape").expect("count"), 1);
    assert!(dir.path().join("escape/queue").is_dir());
    assert_eq!(backend.capacity(), 100);
}
