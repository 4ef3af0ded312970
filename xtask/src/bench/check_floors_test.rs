// SPDX-License-Identifier: Apache-2.0
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File};

use rustix::fs::{FlockOperation, flock};

use super::{CheckedProbe, CheckedUnlink};

#[test]
fn checked_unlinkat_removes_the_entry_it_was_given() {
    let dir = tempfile::tempdir().unwrap();
    let floor = CheckedUnlink::create(dir.path(), "t", b"{}".to_vec(), 3).unwrap();
    assert_eq!(floor.count().unwrap(), 3);
    for by_path in [false, true] {
        let name = floor.write_entry().unwrap();
        assert_eq!(floor.count().unwrap(), 4);
        floor.remove(&name, by_path).unwrap();
        assert_eq!(floor.count().unwrap(), 3, "by path: {by_path}");
        assert!(floor.remove(&name, by_path).is_err(), "removed twice");
    }
}

#[test]
fn checked_unlinkat_refuses_a_replaced_queue_directory() {
    let dir = tempfile::tempdir().unwrap();
    let floor = CheckedUnlink::create(dir.path(), "t", b"{}".to_vec(), 0).unwrap();
    let name = floor.write_entry().unwrap();
    let table = dir.path().join("tables/t");
    fs::rename(table.join("queue"), table.join("old")).unwrap();
    fs::create_dir(table.join("queue")).unwrap();
    let error = floor.remove(&name, false).unwrap_err();
    assert!(error.contains("queue directory"), "{error}");
    assert_eq!(fs::read_dir(table.join("old")).unwrap().count(), 1);
}

#[test]
fn the_checks_refuse_a_table_directory_replaced_by_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let floor = CheckedProbe::create(dir.path(), "t").unwrap();
    assert!(floor.probe(false).unwrap());
    assert!(floor.probe(true).unwrap());
    let tables = dir.path().join("tables");
    fs::rename(tables.join("t"), tables.join("moved")).unwrap();
    std::os::unix::fs::symlink("moved", tables.join("t")).unwrap();
    for by_path in [false, true] {
        let error = floor.probe(by_path).unwrap_err();
        assert!(error.contains("table directory"), "{by_path}: {error}");
    }
}

#[test]
fn checked_probe_sees_an_exclusive_lock_on_either_file() {
    let dir = tempfile::tempdir().unwrap();
    let floor = CheckedProbe::create(dir.path(), "t").unwrap();
    let table = dir.path().join("tables/t");
    for path in [table.join("write.lock"), table.clone()] {
        let holder = File::open(&path).unwrap();
        flock(&holder, FlockOperation::LockExclusive).unwrap();
        assert!(!floor.probe(false).unwrap(), "{} held", path.display());
        drop(holder);
        assert!(floor.probe(false).unwrap(), "{} released", path.display());
    }
}

#[test]
fn checked_probe_refuses_a_replaced_lock_file() {
    let dir = tempfile::tempdir().unwrap();
    let floor = CheckedProbe::create(dir.path(), "t").unwrap();
    let lock = dir.path().join("tables/t/write.lock");
    fs::remove_file(&lock).unwrap();
    fs::write(&lock, b"").unwrap();
    let error = floor.probe(false).unwrap_err();
    assert!(error.contains("write.lock"), "{error}");
}

#[test]
fn the_new_table_floor_makes_a_locked_table_with_a_holder_record_each_call() {
    let dir = tempfile::tempdir().unwrap();
    let floor = super::CheckedNewTable::create(dir.path()).unwrap();
    floor.acquire_release().unwrap();
    floor.acquire_release().unwrap();
    for table in ["t0", "t1"] {
        let lock = dir.path().join("tables").join(table).join("write.lock");
        assert_eq!(std::fs::metadata(&lock).unwrap().len(), 256, "{table}");
        // Released: a lock is free again.
        let file = std::fs::File::open(&lock).unwrap();
        fs2::FileExt::try_lock_exclusive(&file).unwrap();
    }
    // A table that exists already is refused, as a floor of new tables.
    std::fs::create_dir(dir.path().join("tables/t2")).unwrap();
    assert!(floor.acquire_release().unwrap_err().contains("mkdirat"));
}
