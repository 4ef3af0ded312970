// SPDX-License-Identifier: Apache-2.0
//! Tests of the free functions' kept base directories: reused while the
//! path leads to them, never once it leads elsewhere.

use std::fs;
use std::sync::Arc;
use std::time::Duration;

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};

use super::{base_at, close_idle};
use crate::{acquire_lock, count_pending, is_locked, queue_write};

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
