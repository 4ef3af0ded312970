// SPDX-License-Identifier: Apache-2.0

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use reedbase_concurrent_core::{
    CsvRow, InspectBackend, LockBackend, LockHolder, PendingWrite, QueueBackend, RestoreBackend,
    WriteOperation,
};

use super::*;
use crate::FsBackend;

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

/// Every path below `root` with its size and modification time.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let entry = entry.unwrap();
            let meta = fs::symlink_metadata(entry.path()).unwrap();
            if meta.is_dir() {
                stack.push(entry.path());
            }
            found.insert(entry.path(), (meta.len(), meta.modified().unwrap()));
        }
    }
    found
}

#[test]
fn entries_in_fifo_order_with_the_corrupt_one_judged_but_not_moved() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let first = backend.queue_write("t", &write("a")).unwrap();
    let queue_dir = dir.path().join("tables/t/queue");
    let bad = "00000000000000000001-0123456789abcdef0123456789abcdef";
    fs::write(queue_dir.join(format!("{bad}.pending")), b"{\"rows\":[").unwrap();
    let third = backend.queue_write("t", &write("c")).unwrap();
    backend.record_failed_apply("t", &first).unwrap();
    backend.record_failed_apply("t", &first).unwrap();
    let before = snapshot(dir.path());

    let entries = queued_entries(dir.path(), "t").unwrap();

    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [first.as_str(), bad, third.as_str()]);
    assert_eq!(entries[0].write, Ok(write_with_time("a", &entries[0])));
    assert_eq!(entries[0].attempts, 2);
    assert_eq!(entries[2].attempts, 0);
    let reason = entries[1].write.as_ref().unwrap_err();
    assert!(reason.contains("JSON"), "{reason}");
    assert!(entries.iter().all(|e| e.queued_at.is_some() && e.bytes > 0));
    assert_eq!(snapshot(dir.path()), before, "inspection changed the base");
    assert!(!queue_dir.join("corrupt").exists());
    assert_eq!(backend.count_pending("t").unwrap(), 3);
}

/// The write `a` with the timestamp the entry holds.
fn write_with_time(key: &str, entry: &QueuedEntry) -> PendingWrite {
    let mut expected = write(key);
    expected.timestamp = entry.write.as_ref().map(|w| w.timestamp).unwrap_or(0);
    expected
}

#[test]
fn one_entry_by_id_and_errors_for_others() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let id = backend.queue_write("t", &write("a")).unwrap();
    let entry = queued_entry(dir.path(), "t", &id).unwrap();
    assert_eq!(entry.id, id);
    assert_eq!(entry.write.unwrap().rows[0].key, "a");
    let missing = "00000000000000000042-0123456789abcdef0123456789abcdef";
    assert!(
        queued_entry(dir.path(), "t", missing)
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        queued_entry(dir.path(), "t", "../x")
            .unwrap_err()
            .is_invalid_input()
    );
    assert!(
        queued_entry(dir.path(), "never", &id)
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        queued_entries(dir.path(), "../x")
            .unwrap_err()
            .is_invalid_input()
    );
}

#[test]
fn tables_are_the_directories_with_valid_names_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-base");
    assert_eq!(
        tables(&missing).unwrap_err().io_kind(),
        Some(io::ErrorKind::NotFound)
    );
    assert!(queued_entries(&missing, "t").unwrap().is_empty());
    assert!(!missing.exists());
    let file = dir.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    assert_eq!(
        tables(&file).unwrap_err().io_kind(),
        Some(io::ErrorKind::NotADirectory)
    );
    assert_eq!(tables(dir.path()).unwrap(), Vec::<String>::new());
    let tables_dir = dir.path().join("tables");
    for name in ["orders", "users"] {
        fs::create_dir_all(tables_dir.join(name)).unwrap();
    }
    fs::write(tables_dir.join("stray.csv"), b"x").unwrap();
    fs::create_dir_all(tables_dir.join(".hidden")).unwrap();
    std::os::unix::fs::symlink(tables_dir.join("users"), tables_dir.join("link")).unwrap();
    assert_eq!(tables(dir.path()).unwrap(), ["orders", "users"]);
}

#[test]
fn the_backend_inspects_its_base_and_tells_whether_a_holder_on_this_host_lives() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    assert!(InspectBackend::tables(&backend).unwrap().is_empty());
    let id = backend.queue_write("t", &write("a")).unwrap();
    backend.move_aside("t", &id, "broken").unwrap();
    let guard = backend
        .acquire_lock("t", std::time::Duration::from_secs(1))
        .unwrap();
    let summary = backend.table_summary("t").unwrap();
    let holder = summary.holder.clone().unwrap();
    assert_eq!((summary.pending, summary.moved_aside.len()), (0, 1));
    assert_eq!(backend.holder_alive(&holder), Some(true));
    drop(guard);
    let gone = LockHolder::new(Some(u32::MAX - 1), holder.host.clone(), None);
    assert_eq!(backend.holder_alive(&gone), Some(false));
    let elsewhere = LockHolder::new(Some(1), Some("another-host.invalid".into()), None);
    assert_eq!(backend.holder_alive(&elsewhere), None);
    assert_eq!(backend.holder_alive(&LockHolder::unknown()), None);
    assert_eq!(
        backend.restore_moved_aside("t", &id).unwrap().rows[0].key,
        "a"
    );
    assert_eq!(backend.queued_entry("t", &id).unwrap().id, id);
    assert!(
        backend
            .location()
            .contains(&dir.path().display().to_string())
    );
    let missing = FsBackend::new(dir.path().join("missing"));
    assert!(InspectBackend::tables(&missing).is_err());
    assert!(missing.table_summaries().is_err());
}
