// SPDX-License-Identifier: Apache-2.0
//! Tests of `is_locked` and `wait_for_unlock`.

use std::fs;
use std::io;
use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedError;

use super::{acquire_lock, is_locked, wait_for_unlock};

const SECOND: Duration = Duration::from_secs(1);
/// Far longer than any test should take: a call that retried until this
/// timeout instead of failing at once would show.
const LONG: Duration = Duration::from_secs(30);

fn entries(path: &Path) -> usize {
    fs::read_dir(path).unwrap().count()
}

#[test]
fn a_table_never_locked_is_not_locked_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    assert!(!is_locked(dir.path(), "users").unwrap());
    fs::create_dir_all(dir.path().join("tables/users")).unwrap();
    assert!(!is_locked(dir.path(), "users").unwrap());
    assert_eq!(entries(&dir.path().join("tables/users")), 0);
    wait_for_unlock(dir.path(), "orders", SECOND).unwrap();
    assert_eq!(entries(&dir.path().join("tables")), 1);
}

#[test]
fn held_while_the_guard_lives_and_free_after() {
    let dir = tempfile::tempdir().unwrap();
    let guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    assert!(is_locked(dir.path(), "users").unwrap());
    assert!(!is_locked(dir.path(), "orders").unwrap());
    drop(guard);
    assert!(!is_locked(dir.path(), "users").unwrap());
    wait_for_unlock(dir.path(), "users", Duration::ZERO).unwrap();
}

#[test]
fn a_lock_of_the_old_module_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let old = reedbase_last::concurrent::acquire_lock(dir.path(), "users", SECOND).unwrap();
    assert!(is_locked(dir.path(), "users").unwrap());
    drop(old);
    assert!(!is_locked(dir.path(), "users").unwrap());
}

#[test]
fn probing_does_not_take_the_lock_from_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    drop(acquire_lock(dir.path(), "users", SECOND).unwrap());
    for _ in 0..100 {
        assert!(!is_locked(dir.path(), "users").unwrap());
        drop(acquire_lock(dir.path(), "users", Duration::ZERO).unwrap());
    }
}

#[test]
fn a_base_path_that_is_a_file_is_an_error_not_false() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    fs::write(&file, "not a directory").unwrap();
    let err = is_locked(&file, "users").unwrap_err();
    assert_eq!(err.io_kind(), Some(io::ErrorKind::NotADirectory), "{err}");
    let started = Instant::now();
    let err = wait_for_unlock(&file, "users", LONG).unwrap_err();
    assert!(!err.is_lock_timeout(), "{err}");
    assert!(
        matches!(
            err,
            ReedError::IoError {
                operation: "open_lock_file",
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < LONG);
}

#[test]
fn wait_for_unlock_times_out_with_the_real_wait() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    let timeout = Duration::from_millis(100);
    match wait_for_unlock(dir.path(), "users", timeout).unwrap_err() {
        ReedError::LockTimeout { table, waited, .. } => {
            assert_eq!(table, "users");
            assert!(waited >= timeout, "waited {waited:?}");
        }
        other => panic!("expected a timeout, got {other}"),
    }
}

#[test]
fn wait_for_unlock_returns_when_another_thread_releases() {
    let dir = tempfile::tempdir().unwrap();
    let guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(100));
        drop(guard);
    });
    wait_for_unlock(dir.path(), "users", LONG).unwrap();
    assert!(!is_locked(dir.path(), "users").unwrap());
    releaser.join().unwrap();
}

#[test]
fn bad_names_are_rejected_and_nothing_is_touched() {
    let dir = tempfile::tempdir().unwrap();
    for name in ["../x", "/abs", "", "a/b", ".", "a:b", "a\nb"] {
        assert!(
            is_locked(dir.path(), name).unwrap_err().is_invalid_input(),
            "{name:?}"
        );
        let err = wait_for_unlock(dir.path(), name, SECOND).unwrap_err();
        assert!(err.is_invalid_input(), "{name:?}");
    }
    assert_eq!(entries(dir.path()), 0);
}
