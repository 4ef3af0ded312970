// SPDX-License-Identifier: Apache-2.0
//! The table writer under failed writes and fsyncs and power cuts: a step
//! reported as failed leaves nothing that says "applied", a retry applies
//! once, and what a step reported as applied survives a cut.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;

use reedbase_concurrent_core::{ApplyKey, CsvRow, PendingWrite, WriteOperation};
use reedbase_concurrent_table::TableWriter;
use reedbase_faultfs::{Fault, FaultErrno, Op, mount_or_skip};

fn insert(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

/// The table file as a plain CSV reader sees it: every line.
fn plain_lines(writer: &TableWriter) -> Vec<String> {
    let text = fs::read_to_string(writer.table_path()).unwrap_or_default();
    text.lines().map(str::to_string).collect()
}

/// Applies `a`, fails the next call `fault` describes while applying `b`,
/// then applies `c`; returns the writer.
fn fail_between(
    fault: Fault,
    name: &str,
) -> Option<(reedbase_faultfs::FaultFs, tempfile::TempDir)> {
    let dir = tempfile::tempdir().unwrap();
    let fs = mount_or_skip(dir.path(), name)?;
    let writer = TableWriter::new(fs.path(), "t").unwrap();
    writer.apply(ApplyKey::direct(None), &insert("a")).unwrap();
    fs.control().fail(fault);
    let failed = writer.apply(ApplyKey::direct(None), &insert("b"));
    assert!(failed.is_err(), "the armed fault fails the step");
    writer.apply(ApplyKey::direct(None), &insert("c")).unwrap();
    assert_eq!(
        writer.committed_lines().unwrap(),
        ["a|v", "c|v"],
        "b was reported as not applied"
    );
    assert_eq!(plain_lines(&writer), ["a|v", "c|v"]);
    fs.control().power_cut();
    let after = TableWriter::new(fs.path(), "t").unwrap();
    after.recover().unwrap();
    assert_eq!(
        after.committed_lines().unwrap(),
        ["a|v", "c|v"],
        "after a power cut"
    );
    assert_eq!(plain_lines(&after), ["a|v", "c|v"]);
    Some((fs, dir))
}

#[test]
fn a_failed_journal_fsync_leaves_the_step_not_applied() {
    for errno in [FaultErrno::Eio, FaultErrno::Enospc] {
        fail_between(
            Fault::new(Op::Fsync, 1, errno).on("table.journal"),
            "a_failed_journal_fsync_leaves_the_step_not_applied",
        );
    }
}

#[test]
fn a_failed_journal_write_leaves_the_step_not_applied() {
    fail_between(
        Fault::new(Op::Write, 1, FaultErrno::Enospc).on("table.journal"),
        "a_failed_journal_write_leaves_the_step_not_applied",
    );
}

#[test]
fn a_failed_table_fsync_or_write_leaves_the_step_not_applied() {
    fail_between(
        Fault::new(Op::Fsync, 1, FaultErrno::Eio).on("table.csv"),
        "a_failed_table_fsync_leaves_the_step_not_applied",
    );
    fail_between(
        Fault::new(Op::Write, 1, FaultErrno::Enospc).on("table.csv"),
        "a_failed_table_write_leaves_the_step_not_applied",
    );
}

#[test]
fn a_queued_write_retried_after_a_failed_journal_fsync_is_applied_once() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount_or_skip(
        dir.path(),
        "a_queued_write_retried_after_a_failed_journal_fsync",
    ) else {
        return;
    };
    let writer = TableWriter::new(fs.path(), "t").unwrap();
    let id = "00000000000000000001-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f";
    fs.control()
        .fail(Fault::new(Op::Fsync, 1, FaultErrno::Eio).on("table.journal"));
    assert!(
        writer
            .apply(ApplyKey::queued(id, None), &insert("q"))
            .is_err()
    );
    writer
        .apply(ApplyKey::queued(id, None), &insert("q"))
        .unwrap();
    assert_eq!(
        writer.stats().replays_skipped,
        0,
        "the failed step recorded nothing"
    );
    fs.control().power_cut();
    assert_eq!(plain_lines(&writer), ["q|v"]);
}

#[test]
fn a_write_applied_after_a_failed_directory_sync_survives_a_power_cut() {
    // Each of the first syncs of the table's directory, and of `tables`,
    // fails once in turn; the write is then applied again.
    for (name, nth) in [
        ("t", 1),
        ("t", 2),
        ("t", 3),
        ("tables", 1),
        ("tables", 2),
        ("tables", 3),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let Some(fs) = mount_or_skip(dir.path(), "a_write_applied_after_a_failed_directory_sync")
        else {
            return;
        };
        let writer = TableWriter::new(fs.path(), "t").unwrap();
        fs.control()
            .fail(Fault::new(Op::Fsync, nth, FaultErrno::Eio).on(name));
        if writer.apply(ApplyKey::direct(None), &insert("a")).is_ok() {
            continue;
        }
        writer.apply(ApplyKey::direct(None), &insert("a")).unwrap();
        fs.control().power_cut();
        assert_eq!(
            plain_lines(&writer),
            ["a|v"],
            "sync {nth} of {name} failed: the names were synced on the retry"
        );
    }
}
