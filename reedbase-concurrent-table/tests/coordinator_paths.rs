// SPDX-License-Identifier: Apache-2.0
//! The table writer plugged into the coordinator on the mem backend, in one
//! process: both paths, a replay after a lost removal, and a queued write
//! the writer refuses.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::{
    ApplyKey, CsvRow, PendingWrite, QueueBackend, WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_mem::MemBackend;
use reedbase_concurrent_table::{TableError, TableWriter};

const TABLE: &str = "users";

fn insert(keys: &[&str]) -> PendingWrite {
    let rows = keys.iter().map(|key| CsvRow::new(*key, ["v"])).collect();
    PendingWrite::new(WriteOperation::Insert, rows)
}

fn writer(base: &Path) -> TableWriter {
    TableWriter::new(base, TABLE).unwrap()
}

#[test]
fn both_coordinator_paths_apply_each_write_once_in_order() {
    let base = tempfile::tempdir().unwrap();
    let backend = MemBackend::new();
    let coordinator = WriteCoordinator::new(backend.clone());
    let writer = writer(base.path());
    for key in ["q-a", "q-b"] {
        backend.queue_write(TABLE, &insert(&[key])).unwrap();
    }
    let timeout = Duration::from_secs(5);
    coordinator
        .submit(TABLE, insert(&["own-1"]), timeout, |key, write| {
            writer.apply(key, write)
        })
        .unwrap();
    for key in ["q-c", "q-d", "q-e"] {
        backend.queue_write(TABLE, &insert(&[key])).unwrap();
    }
    let commits_before = writer.stats().commits;
    coordinator
        .submit_batch(TABLE, insert(&["own-2"]), timeout, |batch| {
            writer.apply_batch(batch)
        })
        .unwrap();
    assert_eq!(
        writer.stats().commits,
        commits_before + 1,
        "one commit per batch"
    );
    assert_eq!(
        writer.committed_lines().unwrap(),
        [
            "q-a|v", "q-b|v", "own-1|v", "q-c|v", "q-d|v", "q-e|v", "own-2|v"
        ]
    );
    assert_eq!(backend.count_pending(TABLE).unwrap(), 0);
}

#[test]
fn a_write_applied_but_not_removed_is_not_applied_twice() {
    let base = tempfile::tempdir().unwrap();
    let backend = MemBackend::new();
    let writer = writer(base.path());
    let write = insert(&["once"]);
    let id = backend.queue_write(TABLE, &write).unwrap();
    // A holder applied it and died before removing it from the queue.
    writer.apply(ApplyKey::queued(&id, None), &write).unwrap();
    let coordinator = WriteCoordinator::new(backend);
    let drained = coordinator
        .drain_batch(TABLE, Duration::from_secs(5), |batch| {
            writer.apply_batch(batch)
        })
        .unwrap();
    assert_eq!(drained, 1);
    assert_eq!(writer.committed_lines().unwrap(), ["once|v"]);
    assert_eq!(writer.stats().replays_skipped, 1);
}

#[test]
fn a_refused_queued_write_blocks_the_drain_with_the_writers_reason() {
    let base = tempfile::tempdir().unwrap();
    let backend = MemBackend::new();
    let writer = writer(base.path());
    let delete = PendingWrite::new(WriteOperation::Delete, vec![CsvRow::new("a", ["v"])]);
    backend.queue_write(TABLE, &delete).unwrap();
    let coordinator = WriteCoordinator::new(backend);
    let error = coordinator
        .drain(TABLE, Duration::from_secs(5), |key, write| {
            writer.apply(key, write)
        })
        .unwrap_err();
    assert!(error.blocking_entry().is_some());
    let source = std::error::Error::source(&error).expect("the apply error");
    let table_error = source.downcast_ref::<TableError>().expect("a TableError");
    assert!(matches!(table_error, TableError::Unsupported { .. }));
    assert!(error.to_string().contains("only appended to"), "{error}");
}
