// SPDX-License-Identifier: Apache-2.0
//! Tests of reader.rs: committed rows and status, read without the lock.

use std::fs::{self, OpenOptions};
use std::io::Write;

use reedbase_concurrent_core::{ApplyKey, CsvRow, PendingWrite, WriteOperation};

use super::*;

fn insert(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

fn append_raw(writer: &TableWriter, bytes: &[u8]) {
    let mut file = OpenOptions::new()
        .append(true)
        .open(writer.table_path())
        .unwrap();
    file.write_all(bytes).unwrap();
}

#[test]
fn rows_of_a_step_in_progress_are_not_read() {
    let base = tempfile::tempdir().unwrap();
    let writer = TableWriter::new(base.path(), "t").unwrap();
    writer
        .apply(ApplyKey::queued("q1", None), &insert("a"))
        .unwrap();
    // Rows appended, record not yet written: another process mid-step.
    append_raw(&writer, b"b|v\nc|");
    assert_eq!(writer.committed_lines().unwrap(), ["a|v"]);
    let status = writer.status().unwrap();
    assert_eq!(status.table_len, 10);
    assert_eq!(status.committed_len, 4);
    assert_eq!(status.uncommitted_len(), 6);
    assert_eq!(status.remembered_ids, 1);
    assert!(status.journaled && !status.torn_journal);
    // Reading repaired nothing.
    assert_eq!(fs::metadata(writer.table_path()).unwrap().len(), 10);
}

#[test]
fn a_table_without_a_journal_is_read_whole_but_for_a_torn_last_line() {
    let base = tempfile::tempdir().unwrap();
    let writer = TableWriter::new(base.path(), "t").unwrap();
    assert!(writer.committed_lines().unwrap().is_empty());
    assert!(!writer.status().unwrap().journaled);
    fs::create_dir_all(writer.table_path().parent().unwrap()).unwrap();
    fs::write(writer.table_path(), "old|1\nold|2\nhalf").unwrap();
    assert_eq!(writer.committed_lines().unwrap(), ["old|1", "old|2"]);
    let status = writer.status().unwrap();
    assert_eq!((status.table_len, status.journaled), (16, false));
}

#[test]
fn a_cut_table_is_reported_not_read() {
    let base = tempfile::tempdir().unwrap();
    let writer = TableWriter::new(base.path(), "t").unwrap();
    writer
        .apply(ApplyKey::direct(None), &insert("abc"))
        .unwrap();
    fs::write(writer.table_path(), "ab").unwrap();
    let error = writer.committed_lines().unwrap_err();
    assert!(
        matches!(
            error,
            TableError::TableTruncated {
                len: 2,
                committed: 6,
                ..
            }
        ),
        "{error}"
    );
    assert!(
        error.to_string().contains("shorter than the 6 bytes"),
        "{error}"
    );
}

#[test]
fn a_torn_journal_line_is_reported_and_ignored() {
    let base = tempfile::tempdir().unwrap();
    let writer = TableWriter::new(base.path(), "t").unwrap();
    writer.apply(ApplyKey::direct(None), &insert("a")).unwrap();
    let mut journal = OpenOptions::new()
        .append(true)
        .open(writer.journal_path())
        .unwrap();
    journal.write_all(b"r 4 8 - q").unwrap();
    append_raw(&writer, b"b|v\n");
    let status = writer.status().unwrap();
    assert!(status.torn_journal);
    assert_eq!(status.committed_len, 4);
    assert_eq!(writer.committed_lines().unwrap(), ["a|v"]);
}
