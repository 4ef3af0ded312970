// SPDX-License-Identifier: Apache-2.0
//! The lock tests the old module shipped, rewritten.
//!
//! Rewrites, not copies: the shipped test files are not in this workspace.
//! Each test here has the scenario and name of one the old module shipped
//! (`docs/old-module.md` lists them); its assertions were written here from
//! the behaviour that page states, so they may check more or less than the
//! shipped test did.

use std::fs;
use std::thread;
use std::time::Duration;

use tempfile::TempDir;

use crate::concurrent::lock::{acquire_lock, is_locked, wait_for_unlock};
use crate::error::ReedError;

fn base() -> TempDir {
    tempfile::tempdir().expect("temporary directory")
}

#[test]
fn test_acquire_lock_success() {
    let dir = base();
    let lock = acquire_lock(dir.path(), "users", Duration::from_secs(1)).expect("lock");
    assert_eq!(lock.table_name(), "users");
    assert!(lock.path().ends_with("tables/users/write.lock"));
    assert!(lock.path().exists());
}

#[test]
fn test_acquire_lock_timeout() {
    let dir = base();
    let _held = acquire_lock(dir.path(), "users", Duration::from_secs(1)).expect("lock");
    let err = acquire_lock(dir.path(), "users", Duration::from_millis(500)).unwrap_err();
    match err {
        ReedError::LockTimeout {
            table,
            timeout_secs,
        } => {
            assert_eq!(table, "users");
            assert_eq!(timeout_secs, 0);
        }
        other => panic!("expected LockTimeout, got {other:?}"),
    }
}

#[test]
fn test_is_locked_false_without_lock_file() {
    let dir = base();
    fs::create_dir_all(dir.path().join("tables/users")).expect("table dir");
    assert!(!is_locked(dir.path(), "users").expect("is_locked"));
}

#[test]
fn test_is_locked_true() {
    let dir = base();
    let _held = acquire_lock(dir.path(), "users", Duration::from_secs(1)).expect("lock");
    assert!(is_locked(dir.path(), "users").expect("is_locked"));
}

#[test]
fn test_wait_for_unlock_success() {
    let dir = base();
    let held = acquire_lock(dir.path(), "users", Duration::from_secs(1)).expect("lock");
    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(200));
        drop(held);
    });
    wait_for_unlock(dir.path(), "users", Duration::from_secs(2)).expect("unlocked in time");
    assert!(!is_locked(dir.path(), "users").expect("is_locked"));
    releaser.join().expect("releaser thread");
}

#[test]
fn test_wait_for_unlock_timeout() {
    let dir = base();
    let _held = acquire_lock(dir.path(), "users", Duration::from_secs(1)).expect("lock");
    let err = wait_for_unlock(dir.path(), "users", Duration::from_millis(200)).unwrap_err();
    assert!(matches!(err, ReedError::LockTimeout { .. }), "got {err:?}");
}

#[test]
fn test_different_tables_lock_independently() {
    let dir = base();
    let _users = acquire_lock(dir.path(), "users", Duration::from_secs(1)).expect("users lock");
    let _orders = acquire_lock(dir.path(), "orders", Duration::from_secs(1)).expect("orders lock");
    assert!(is_locked(dir.path(), "users").expect("is_locked"));
    assert!(is_locked(dir.path(), "orders").expect("is_locked"));
}

#[test]
fn test_lock_released_at_end_of_scope() {
    let dir = base();
    {
        let _lock = acquire_lock(dir.path(), "users", Duration::from_secs(1)).expect("lock");
        assert!(is_locked(dir.path(), "users").expect("is_locked"));
    }
    assert!(!is_locked(dir.path(), "users").expect("is_locked"));
    let _again = acquire_lock(dir.path(), "users", Duration::from_millis(100)).expect("relock");
}

#[test]
fn test_second_thread_times_out() {
    let dir = base();
    let _held = acquire_lock(dir.path(), "users", Duration::from_secs(1)).expect("lock");
    let path = dir.path().to_path_buf();
    let result =
        thread::spawn(move || acquire_lock(&path, "users", Duration::from_millis(300)).map(|_| ()))
            .join()
            .expect("waiter thread");
    assert!(
        matches!(result, Err(ReedError::LockTimeout { .. })),
        "got {result:?}"
    );
}

#[test]
fn test_is_locked_nonexistent_table() {
    let dir = base();
    assert!(!is_locked(dir.path(), "no_such_table").expect("is_locked"));
    assert!(
        !dir.path().join("tables").exists(),
        "is_locked must not create anything"
    );
}
