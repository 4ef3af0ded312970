// SPDX-License-Identifier: Apache-2.0
//! Tests of recovery.rs on the mem backend: rows that never committed are
//! rolled back in a table without queued writes, applied entries whose
//! removal was lost are removed, and nothing is locked when there is
//! nothing to do.

use std::fs::{self, OpenOptions};
use std::io::Write as _;
use std::time::Duration;

use reedbase_concurrent_core::{
    ApplyKey, CsvRow, LockBackend, PendingWrite, QueueBackend, WriteOperation,
};
use reedbase_concurrent_mem::MemBackend;

use super::*;

const TABLE: &str = "users";
const WAIT: Duration = Duration::from_secs(5);

fn insert(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

#[test]
fn rows_that_never_committed_are_rolled_back_in_a_table_without_queued_writes() {
    let base = tempfile::tempdir().unwrap();
    let writer = TableWriter::new(base.path(), TABLE).unwrap();
    writer
        .apply(ApplyKey::direct(None), &insert("acked"))
        .unwrap();
    // A power cut between the table's fsync and the journal's.
    let mut table = OpenOptions::new()
        .append(true)
        .open(writer.table_path())
        .unwrap();
    table.write_all(b"never-acked|v\n").unwrap();

    let report = recover_all(base.path(), &MemBackend::new(), WAIT).unwrap();
    assert_eq!(
        fs::read_to_string(writer.table_path()).unwrap(),
        "acked|v\n"
    );
    assert_eq!(
        (report.tables, report.repaired.clone()),
        (1, vec![TABLE.to_string()])
    );
    assert!(report.failed.is_empty(), "{:?}", report.failed);
}

#[test]
fn an_applied_entry_whose_removal_was_lost_is_removed() {
    let base = tempfile::tempdir().unwrap();
    let backend = MemBackend::new();
    let writer = TableWriter::new(base.path(), TABLE).unwrap();
    let applied = backend.queue_write(TABLE, &insert("applied")).unwrap();
    let waiting = backend.queue_write(TABLE, &insert("waiting")).unwrap();
    writer
        .apply(ApplyKey::queued(&applied, None), &insert("applied"))
        .unwrap();

    let report = recover_all(base.path(), &backend, WAIT).unwrap();
    assert_eq!(report.settled, 1);
    assert!(!backend.is_pending(TABLE, &applied).unwrap());
    assert!(
        backend.is_pending(TABLE, &waiting).unwrap(),
        "not applied: left queued"
    );
    assert_eq!(writer.committed_lines().unwrap(), ["applied|v"]);
}

#[test]
fn a_table_with_nothing_to_do_is_not_locked() {
    let base = tempfile::tempdir().unwrap();
    let backend = MemBackend::new();
    let writer = TableWriter::new(base.path(), TABLE).unwrap();
    writer.apply(ApplyKey::direct(None), &insert("a")).unwrap();
    let _held = backend.acquire_lock(TABLE, WAIT).unwrap();
    let report = recover_all(base.path(), &backend, Duration::ZERO).unwrap();
    assert_eq!(report.tables, 1);
    assert!(report.failed.is_empty() && report.repaired.is_empty());
}

#[test]
fn a_table_that_needs_recovery_but_stays_locked_is_reported() {
    let base = tempfile::tempdir().unwrap();
    let backend = MemBackend::new();
    let writer = TableWriter::new(base.path(), TABLE).unwrap();
    writer.apply(ApplyKey::direct(None), &insert("a")).unwrap();
    let mut table = OpenOptions::new()
        .append(true)
        .open(writer.table_path())
        .unwrap();
    table.write_all(b"torn").unwrap();
    let _held = backend.acquire_lock(TABLE, WAIT).unwrap();
    let report = recover_all(base.path(), &backend, Duration::ZERO).unwrap();
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].0, TABLE);
}

#[test]
fn a_base_without_tables_has_nothing_to_recover() {
    let base = tempfile::tempdir().unwrap();
    let report = recover_all(base.path().join("absent"), &MemBackend::new(), WAIT).unwrap();
    assert_eq!(report.tables, 0);
}
