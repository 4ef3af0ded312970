// SPDX-License-Identifier: Apache-2.0
//! Tests of `acquire_lock`, `try_acquire_lock` and the guard.
#![cfg(unix)]

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{ReedError, ReedResult};

use super::{TableLock, acquire_lock, is_locked, try_acquire_lock};

const SECOND: Duration = Duration::from_secs(1);
/// Far longer than any test should take: an error retried until this
/// timeout instead of returned at once would show.
const LONG: Duration = Duration::from_secs(30);

/// Checks that `result` failed at once, not after a timeout, with an
/// `IoError` of `operation` and `kind`.
fn assert_io_error_at_once(
    started: Instant,
    result: ReedResult<TableLock>,
    operation: &str,
    kind: io::ErrorKind,
) {
    let err = result.unwrap_err();
    assert!(!err.is_lock_timeout(), "reported as a timeout: {err}");
    match &err {
        ReedError::IoError {
            operation: op,
            kind: k,
            path,
            ..
        } => {
            assert_eq!((*op, *k), (operation, kind), "{err}");
            assert!(path.ends_with("tables/users/write.lock") || path.ends_with("tables/users"));
        }
        other => panic!("expected an IoError, got {other}"),
    }
    assert!(started.elapsed() < LONG);
}

#[test]
fn acquire_creates_the_lock_file_and_release_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let lock_file = dir.path().join("tables/users/write.lock");
    let guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    assert_eq!(guard.path(), lock_file);
    assert!(lock_file.is_file());
    drop(guard);
    assert!(lock_file.is_file());
    drop(try_acquire_lock(dir.path(), "users").unwrap().unwrap());
    assert!(lock_file.is_file());
}

#[test]
fn a_second_acquire_times_out_with_the_real_wait() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    let timeout = Duration::from_millis(200);
    match acquire_lock(dir.path(), "users", timeout).unwrap_err() {
        ReedError::LockTimeout { table, waited, .. } => {
            assert_eq!(table, "users");
            assert!(waited >= timeout, "waited {waited:?}");
            assert!(waited < LONG);
        }
        other => panic!("expected a timeout, got {other}"),
    }
    assert!(
        acquire_lock(dir.path(), "users", Duration::ZERO)
            .unwrap_err()
            .is_lock_timeout()
    );
    assert!(try_acquire_lock(dir.path(), "users").unwrap().is_none());
}

#[test]
fn dropping_the_guard_frees_the_table_for_the_next() {
    let dir = tempfile::tempdir().unwrap();
    {
        let _guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
        assert!(is_locked(dir.path(), "users").unwrap());
    }
    assert!(!is_locked(dir.path(), "users").unwrap());
    let _again = try_acquire_lock(dir.path(), "users").unwrap().unwrap();
}

#[test]
fn tables_lock_independently() {
    let dir = tempfile::tempdir().unwrap();
    let _users = acquire_lock(dir.path(), "users", SECOND).unwrap();
    let orders = acquire_lock(dir.path(), "orders", SECOND).unwrap();
    assert_eq!(orders.table_name(), "orders");
}

#[test]
fn threads_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let inside = Arc::new(AtomicBool::new(false));
    let entered = Arc::new(AtomicUsize::new(0));
    let workers: Vec<_> = (0..4)
        .map(|_| {
            let (base, inside, entered) =
                (dir.path().to_path_buf(), inside.clone(), entered.clone());
            thread::spawn(move || {
                for _ in 0..50 {
                    let _guard = acquire_lock(&base, "users", LONG).unwrap();
                    assert!(!inside.swap(true, Ordering::SeqCst), "two holders at once");
                    thread::sleep(Duration::from_micros(50));
                    inside.store(false, Ordering::SeqCst);
                    entered.fetch_add(1, Ordering::SeqCst);
                }
            })
        })
        .collect();
    workers
        .into_iter()
        .for_each(|worker| worker.join().unwrap());
    assert_eq!(entered.load(Ordering::SeqCst), 200);
}

#[test]
fn old_and_new_exclude_each_other() {
    let dir = tempfile::tempdir().unwrap();
    let old = reedbase_last::concurrent::acquire_lock(dir.path(), "users", SECOND).unwrap();
    assert!(try_acquire_lock(dir.path(), "users").unwrap().is_none());
    drop(old);
    let _new = acquire_lock(dir.path(), "users", SECOND).unwrap();
    let timeout = Duration::from_millis(300);
    assert!(reedbase_last::concurrent::acquire_lock(dir.path(), "users", timeout).is_err());
}

#[test]
fn a_base_path_that_is_a_file_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    fs::write(&file, "not a directory").unwrap();
    for base in [file.clone(), file.join("below")] {
        let started = Instant::now();
        let result = acquire_lock(&base, "users", LONG);
        assert_io_error_at_once(
            started,
            result,
            "open_lock_file",
            io::ErrorKind::NotADirectory,
        );
        let err = try_acquire_lock(&base, "users").unwrap_err();
        assert_eq!(err.io_kind(), Some(io::ErrorKind::NotADirectory));
    }
    assert_eq!(fs::read(&file).unwrap(), b"not a directory");
}

#[test]
fn a_directory_that_cannot_be_created_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    // A dangling symbolic link as the base path: opening the lock file finds
    // nothing, and creating the directories finds the link in the way.
    let base = dir.path().join("dangling");
    std::os::unix::fs::symlink(dir.path().join("missing"), &base).unwrap();
    let started = Instant::now();
    let result = acquire_lock(&base, "users", LONG);
    assert_io_error_at_once(
        started,
        result,
        "create_lock_dir",
        io::ErrorKind::AlreadyExists,
    );
}

#[test]
fn an_unwritable_directory_fails_at_once() {
    // Tests run as root, whom permission bits do not stop; sysfs refuses
    // new directories even to root.
    let base = Path::new("/sys/kernel");
    if !base.is_dir() {
        return;
    }
    let started = Instant::now();
    let err = acquire_lock(base, "users", LONG).unwrap_err();
    assert!(!err.is_lock_timeout(), "reported as a timeout: {err}");
    assert!(
        matches!(
            err,
            ReedError::IoError {
                operation: "create_lock_dir",
                ..
            }
        ),
        "{err}"
    );
    assert!(started.elapsed() < LONG);
    assert!(!is_locked(base, "users").unwrap());
}

#[test]
fn bad_names_are_rejected_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    fs::create_dir(&base).unwrap();
    for name in [
        "../x", "/abs", "", "a/b", ".", "..", ".hidden", "a\\b", "a\0b",
    ] {
        let err = acquire_lock(&base, name, SECOND).unwrap_err();
        assert!(err.is_invalid_input(), "{name:?}: {err}");
        assert!(
            try_acquire_lock(&base, name)
                .unwrap_err()
                .is_invalid_input()
        );
    }
    assert_eq!(fs::read_dir(&base).unwrap().count(), 0);
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    assert!(!Path::new("/abs").exists());
}
