// SPDX-License-Identifier: Apache-2.0
//! Tests of taking a table's lock, the guard and probing: `acquire_lock`,
//! `try_acquire_lock`, `is_locked`, `wait_for_unlock`, and what happens when
//! `write.lock` or the table directory is deleted, renamed or replaced
//! while the lock is held.

use std::fs;
use std::io;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{ReedError, ReedResult};

use super::TableLock;
use crate::lock::{acquire_lock, is_locked, try_acquire_lock, wait_for_unlock};

const SECOND: Duration = Duration::from_secs(1);
/// Far longer than any test should take: an error retried until this
/// timeout instead of returned at once would show.
const LONG: Duration = Duration::from_secs(30);

/// Checks that `result` failed at once, not after a timeout, with an
/// `IoError` of `operation` and `kind` naming `expected_path`.
fn assert_io_error_at_once(
    started: Instant,
    result: ReedResult<TableLock>,
    (operation, kind): (&str, io::ErrorKind),
    expected_path: &Path,
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
            assert_eq!(path, expected_path, "{err}");
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
        let expected = ("create_lock_dir", io::ErrorKind::NotADirectory);
        assert_io_error_at_once(started, result, expected, &base);
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
    let expected = ("create_lock_dir", io::ErrorKind::AlreadyExists);
    assert_io_error_at_once(started, result, expected, &base);
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

#[test]
fn a_timeout_names_the_holder_when_its_record_can_be_read() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    let wait = Duration::from_millis(30);
    let acquire = acquire_lock(dir.path(), "users", wait).unwrap_err();
    let waiting = wait_for_unlock(dir.path(), "users", wait).unwrap_err();
    for err in [acquire, waiting] {
        let holder = err.holder().expect("the holder is named");
        assert_eq!(holder.pid, Some(std::process::id()), "{err}");
        assert!(
            err.to_string()
                .contains(&format!("held by pid {}", std::process::id())),
            "{err}"
        );
    }
}

#[test]
fn a_timeout_under_an_old_module_holder_names_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let _old = reedbase_last::concurrent::acquire_lock(dir.path(), "users", SECOND).unwrap();
    let err = acquire_lock(dir.path(), "users", Duration::from_millis(30)).unwrap_err();
    assert!(err.is_lock_timeout() && err.holder().is_none(), "{err}");
}
