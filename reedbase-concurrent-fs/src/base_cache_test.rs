// SPDX-License-Identifier: Apache-2.0
//! Tests of the free functions' kept base directories: reused while the
//! path leads to them, never once it leads elsewhere.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};

use super::{base_at, close_idle};
use crate::{FsBackend, acquire_lock, count_pending, is_locked, queue_write, wait_for_unlock};

fn write() -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])])
}

#[test]
fn a_base_is_kept_while_its_path_leads_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    drop(acquire_lock(&base, "users", Duration::from_secs(1)).unwrap());
    let first = base_at(&base);
    assert!(Arc::ptr_eq(&first, &base_at(&base)));
    assert_eq!(first.kept().idle(), 1, "the released lock's files are kept");
    close_idle(&base);
    assert_eq!(first.kept().idle(), 0);
    assert!(!Arc::ptr_eq(&first, &base_at(&base)));
}

#[test]
fn a_base_replaced_at_its_path_is_opened_afresh() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    queue_write(&base, "users", write()).unwrap();
    drop(acquire_lock(&base, "users", Duration::from_secs(1)).unwrap());
    fs::rename(&base, dir.path().join("moved")).unwrap();
    fs::create_dir(&base).unwrap();
    assert_eq!(count_pending(&base, "users").unwrap(), 0);
    assert!(!is_locked(&base, "users").unwrap());
    queue_write(&base, "users", write()).unwrap();
    let guard = acquire_lock(&base, "users", Duration::from_secs(1)).unwrap();
    assert!(base.join("tables/users/write.lock").is_file());
    assert!(is_locked(&base, "users").unwrap());
    assert!(!is_locked(&dir.path().join("moved"), "users").unwrap());
    drop(guard);
    assert_eq!(
        count_pending(&dir.path().join("moved"), "users").unwrap(),
        1
    );
}

#[test]
fn a_base_path_that_became_a_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    drop(acquire_lock(&base, "users", Duration::from_secs(1)).unwrap());
    fs::remove_dir_all(&base).unwrap();
    fs::write(&base, b"not a directory").unwrap();
    assert!(acquire_lock(&base, "users", Duration::ZERO).is_err());
    assert!(is_locked(&base, "users").is_err());
}

/// The names under `dir`, recursively, with each file's contents.
fn snapshot(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut found = Vec::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(snapshot(&path));
        } else {
            found.push((path.clone(), fs::read(&path).unwrap_or_default()));
        }
    }
    found.sort();
    found
}

#[test]
fn a_table_moved_out_and_linked_back_is_not_used_through_kept_descriptors() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let first = queue_write(&base, "users", write()).unwrap();
    let second = queue_write(&base, "users", write()).unwrap();
    // Every kind of kept descriptor in use: the queue (a removal), the
    // lock's pair (an acquisition, a probe).
    crate::remove_from_queue(&base, "users", &first).unwrap();
    drop(acquire_lock(&base, "users", Duration::from_secs(1)).unwrap());
    assert!(!is_locked(&base, "users").unwrap());
    let table = base.join("tables/users");
    let moved = outside.path().join("users");
    fs::rename(&table, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &table).unwrap();
    let before = snapshot(outside.path());
    assert!(acquire_lock(&base, "users", Duration::ZERO).is_err());
    assert!(is_locked(&base, "users").is_err());
    assert!(crate::wait_for_unlock(&base, "users", Duration::ZERO).is_err());
    assert!(crate::remove_from_queue(&base, "users", &second).is_err());
    assert!(queue_write(&base, "users", write()).is_err());
    assert_eq!(
        snapshot(outside.path()),
        before,
        "nothing outside the base was written or removed"
    );
}

#[test]
fn after_a_base_is_replaced_removals_and_writes_go_to_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let old = queue_write(&base, "users", write()).unwrap();
    let gone = queue_write(&base, "users", write()).unwrap();
    crate::remove_from_queue(&base, "users", &gone).unwrap();
    fs::rename(&base, dir.path().join("moved")).unwrap();
    fs::create_dir(&base).unwrap();
    let new = queue_write(&base, "users", write()).unwrap();
    assert!(
        crate::remove_from_queue(&base, "users", &old)
            .unwrap_err()
            .is_not_found(),
        "the old base's entry is not in the base the path leads to"
    );
    crate::remove_from_queue(&base, "users", &new).unwrap();
    assert_eq!(count_pending(&base, "users").unwrap(), 0);
    assert_eq!(
        count_pending(&dir.path().join("moved"), "users").unwrap(),
        1
    );
}

#[test]
fn a_probe_keeps_the_files_it_opened_for_the_next_probe_and_acquisition() {
    use reedbase_concurrent_core::LockBackend;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    // Another holder (its own descriptors, as another process has) made
    // the table and its lock file; this base never locked it.
    let other = FsBackend::new(&base);
    drop(other.acquire_lock("users", Duration::from_secs(1)).unwrap());
    assert!(!is_locked(&base, "users").unwrap());
    let kept = base_at(&base);
    assert_eq!(kept.kept().idle(), 1, "the probe's files are kept");
    let held = other.acquire_lock("users", Duration::ZERO).unwrap();
    assert!(is_locked(&base, "users").unwrap(), "seen held through them");
    let waited = wait_for_unlock(&base, "users", Duration::from_millis(20)).unwrap_err();
    assert!(waited.is_lock_timeout(), "{waited}");
    drop(held);
    wait_for_unlock(&base, "users", Duration::ZERO).unwrap();
    assert_eq!(kept.kept().idle(), 1, "still one pair, reused");
    let mine = acquire_lock(&base, "users", Duration::ZERO).unwrap();
    assert!(
        other.is_locked("users").unwrap(),
        "an acquisition through them excludes"
    );
    assert!(other.try_acquire_lock("users").unwrap().is_none());
    drop(mine);
    assert!(!is_locked(&base, "users").unwrap());
    // A table without a lock file keeps nothing and creates nothing.
    fs::create_dir_all(base.join("tables").join("bare")).unwrap();
    assert!(!is_locked(&base, "bare").unwrap());
    assert!(!base.join("tables").join("bare").join("write.lock").exists());
    assert_eq!(kept.kept().idle(), 1);
    close_idle(&base);
}
