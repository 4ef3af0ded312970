// SPDX-License-Identifier: Apache-2.0
//! The fs queue across power cuts: an entry moved aside keeps its reason,
//! and in relaxed mode an entry applied and journaled whose removal was
//! lost is recognised as applied by the start-up recipe, not moved aside
//! as an empty file; a failed queue directory fsync after the rename
//! reports an unknown outcome and leaves the entry queued.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::{
    ApplyKey, CsvRow, LockBackend, PendingWrite, QueueBackend, WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};
use reedbase_concurrent_table::{TableWriter, recover_all};
use reedbase_faultfs::mount_or_skip;

const TABLE: &str = "t";
const WAIT: Duration = Duration::from_secs(5);

fn insert(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

fn queue_dir(base: &Path) -> std::path::PathBuf {
    base.join("tables").join(TABLE).join("queue")
}

/// The start-up recipe: recover every table, then drain every queue.
fn start_up(base: &Path, backend: FsBackend) -> usize {
    let coordinator = WriteCoordinator::new(backend);
    let report = recover_all(base, coordinator.backend(), WAIT).unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    let drained = coordinator
        .drain_all(WAIT, |table, key, write| {
            TableWriter::new(base, table)?.apply(key, write)
        })
        .unwrap();
    assert!(drained.failed.is_empty(), "{:?}", drained.failed);
    report.settled
}

#[test]
fn an_entry_moved_aside_keeps_its_reason_across_a_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount_or_skip(dir.path(), "an_entry_moved_aside_keeps_its_reason") else {
        return;
    };
    let backend = FsBackend::new(fs.path());
    let bad = backend.queue_write(TABLE, &insert("bad")).unwrap();
    let mut damaged = File::create(queue_dir(fs.path()).join(format!("{bad}.pending"))).unwrap();
    damaged.write_all(b"{not json").unwrap();
    damaged.sync_all().unwrap();
    assert_eq!(
        backend.get_next_pending(TABLE).unwrap(),
        None,
        "moved aside"
    );
    // A later durable write syncs the queue directory: the entry's removal
    // from the queue is durable from here on.
    backend.queue_write(TABLE, &insert("good")).unwrap();

    fs.control().power_cut();
    let backend = FsBackend::new(fs.path());
    let moved = backend.moved_aside(TABLE).unwrap();
    assert_eq!(
        moved.len(),
        1,
        "the entry is neither lost nor back: {moved:?}"
    );
    assert_eq!(moved[0].id, bad);
    assert!(
        moved[0].reason.contains("does not parse"),
        "{}",
        moved[0].reason
    );
}

#[test]
fn a_relaxed_entry_applied_but_not_removed_is_recognised_after_a_power_cut() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount_or_skip(dir.path(), "a_relaxed_entry_applied_but_not_removed") else {
        return;
    };
    let relaxed =
        || FsBackend::with_options(fs.path(), FsOptions::new().durability(Durability::Relaxed));
    let backend = relaxed();
    let id = backend.queue_write(TABLE, &insert("applied")).unwrap();
    let (_, write) = backend.get_next_pending(TABLE).unwrap().unwrap();
    TableWriter::new(fs.path(), TABLE)
        .unwrap()
        .apply(ApplyKey::queued(&id, None), &write)
        .unwrap();
    // The file system commits the entry's name but not its data (as ext4
    // does with delayed allocation); then the power goes before the
    // removal.
    File::open(queue_dir(fs.path()))
        .unwrap()
        .sync_all()
        .unwrap();
    fs.control().power_cut();
    let entry = queue_dir(fs.path()).join(format!("{id}.pending"));
    assert_eq!(
        fs::metadata(&entry).unwrap().len(),
        0,
        "the entry came back empty"
    );

    let settled = start_up(fs.path(), relaxed());
    assert_eq!(settled, 1, "recognised as applied");
    assert!(
        relaxed().moved_aside(TABLE).unwrap().is_empty(),
        "not moved aside as lost"
    );
    assert!(!entry.exists());
    let table = fs::read_to_string(fs.path().join("tables/t/table.csv")).unwrap();
    assert_eq!(table, "applied|v\n");
}

#[test]
fn a_durable_entry_survives_a_power_cut_when_the_lock_created_its_table_directory() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount_or_skip(
        dir.path(),
        "a_durable_entry_survives_when_the_lock_created_its_directory",
    ) else {
        return;
    };
    let backend = FsBackend::new(fs.path());
    drop(backend.acquire_lock(TABLE, WAIT).unwrap());
    let id = backend.queue_write(TABLE, &insert("queued")).unwrap();
    fs.control().power_cut();
    let backend = FsBackend::new(fs.path());
    assert!(
        backend.is_pending(TABLE, &id).unwrap(),
        "an acknowledged durable entry is there"
    );
}

#[test]
fn a_relaxed_entry_moved_aside_empty_is_told_applied_by_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount_or_skip(
        dir.path(),
        "a_relaxed_entry_moved_aside_empty_is_told_applied",
    ) else {
        return;
    };
    let relaxed =
        || FsBackend::with_options(fs.path(), FsOptions::new().durability(Durability::Relaxed));
    let backend = relaxed();
    let applied = backend.queue_write(TABLE, &insert("applied")).unwrap();
    let lost = backend.queue_write(TABLE, &insert("lost")).unwrap();
    let (_, write) = backend.get_next_pending(TABLE).unwrap().unwrap();
    let writer = TableWriter::new(fs.path(), TABLE).unwrap();
    writer
        .apply(ApplyKey::queued(&applied, None), &write)
        .unwrap();
    File::open(queue_dir(fs.path()))
        .unwrap()
        .sync_all()
        .unwrap();
    fs.control().power_cut();

    // A drain without recover_all (a background drainer got there first)
    // moves both empty entries aside; the journal tells them apart.
    WriteCoordinator::new(relaxed())
        .drain(TABLE, WAIT, |key, write| writer.apply(key, write))
        .unwrap();
    let moved: Vec<String> = relaxed()
        .moved_aside(TABLE)
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect();
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert!(
        writer.is_applied(&applied).unwrap(),
        "its rows are in the table"
    );
    assert!(
        !writer.is_applied(&lost).unwrap(),
        "lost in the relaxed window"
    );
}

/// The queue directory's fsync fails after the rename: the call says the
/// outcome is unknown and names the id, the entry stays queued, and one
/// drain applies it once (the caller asks for the id, it does not resubmit).
#[test]
fn a_failed_queue_directory_fsync_leaves_the_entry_queued_under_its_id() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount_or_skip(dir.path(), "a_failed_queue_directory_fsync") else {
        return;
    };
    let options = FsOptions::new().durability(Durability::Durable);
    let backend = FsBackend::with_options(fs.path(), options);
    // The directories exist: the fault meets the fsync after the rename.
    backend.queue_write(TABLE, &insert("a")).unwrap();
    fs.control().fail(
        reedbase_faultfs::Fault::new(
            reedbase_faultfs::Op::Fsync,
            1,
            reedbase_faultfs::FaultErrno::Eio,
        )
        .on("queue"),
    );
    let error = backend.queue_write(TABLE, &insert("b")).unwrap_err();
    assert!(error.is_outcome_unknown(), "{error}");
    let reedbase_concurrent_core::ReedError::QueueOutcomeUnknown { queue_id, .. } = &error else {
        unreachable!()
    };
    assert!(backend.is_pending(TABLE, queue_id).unwrap(), "taken back");
    start_up(fs.path(), FsBackend::with_options(fs.path(), options));
    let table = fs::read_to_string(fs.path().join("tables/t/table.csv")).unwrap();
    let lines: Vec<&str> = table.lines().filter(|l| l.starts_with("b|")).collect();
    assert_eq!(lines.len(), 1, "applied once: {table:?}");
}
