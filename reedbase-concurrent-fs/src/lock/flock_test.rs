// SPDX-License-Identifier: Apache-2.0
//! Tests of the fs2 wrapper: contention is told apart from failure.

use std::fs::{File, OpenOptions};
use std::io;

use super::flock::{TryLock, is_contended, try_lock_exclusive, try_lock_shared, unlock};

fn open_twice(dir: &tempfile::TempDir) -> (File, File) {
    let path = dir.path().join("write.lock");
    let open = || {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .unwrap()
    };
    (open(), open())
}

#[test]
fn exclusive_excludes_a_second_description_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = open_twice(&dir);
    assert_eq!(try_lock_exclusive(&first).unwrap(), TryLock::Acquired);
    assert_eq!(try_lock_exclusive(&second).unwrap(), TryLock::Contended);
    assert_eq!(try_lock_shared(&second).unwrap(), TryLock::Contended);
    unlock(&first).unwrap();
    assert_eq!(try_lock_exclusive(&second).unwrap(), TryLock::Acquired);
}

#[test]
fn shared_probes_do_not_conflict_but_block_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = open_twice(&dir);
    let (third, _) = open_twice(&dir);
    assert_eq!(try_lock_shared(&first).unwrap(), TryLock::Acquired);
    assert_eq!(try_lock_shared(&second).unwrap(), TryLock::Acquired);
    assert_eq!(try_lock_exclusive(&third).unwrap(), TryLock::Contended);
    unlock(&first).unwrap();
    unlock(&second).unwrap();
    assert_eq!(try_lock_exclusive(&third).unwrap(), TryLock::Acquired);
}

#[test]
fn closing_the_descriptor_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = open_twice(&dir);
    assert_eq!(try_lock_exclusive(&first).unwrap(), TryLock::Acquired);
    drop(first);
    assert_eq!(try_lock_exclusive(&second).unwrap(), TryLock::Acquired);
}

#[test]
fn only_the_contended_error_counts_as_contention() {
    assert!(is_contended(&fs2::lock_contended_error()));
    assert!(!is_contended(&io::Error::from(
        io::ErrorKind::PermissionDenied
    )));
    assert!(!is_contended(&io::Error::from(io::ErrorKind::NotFound)));
    assert!(!is_contended(&io::Error::other("disk on fire")));
}
