// SPDX-License-Identifier: Apache-2.0
//! Tests of waiting on a watch: which events wake a waiter, a watch whose
//! directory goes away, and hand-off and timeout both with a watch and on
//! the polling fallback (threads of one process exclude each other as
//! processes do: each acquire opens its own descriptors). The same across
//! processes, and with old-module holders, is in
//! `tests/multiprocess_lock.rs`.

use std::fs::{self, File, OpenOptions};
use std::thread;
use std::time::{Duration, Instant};

use super::{NO_WATCH, WATCHES_MADE, Watch, Woke, wait_until};
use crate::lock::flock::Polled;
use crate::lock::{acquire_lock, is_locked, wait_for_unlock};

/// Far longer than any test should take.
const LONG: Duration = Duration::from_secs(30);
/// How long a watch is given to stay quiet.
const SHORT: Duration = Duration::from_millis(50);

/// A directory, its open descriptor (kept open: closing it is an event on
/// the directory itself) and a watch on it.
fn watched() -> (tempfile::TempDir, File, Watch) {
    let dir = tempfile::tempdir().unwrap();
    let handle = File::open(dir.path()).unwrap();
    let watch = Watch::new(&handle).expect("inotify works here");
    (dir, handle, watch)
}

#[test]
fn closing_write_lock_opened_for_writing_is_a_release() {
    let (dir, _handle, mut watch) = watched();
    drop(
        OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.path().join("write.lock"))
            .unwrap(),
    );
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Release);
    assert_eq!(watch.wait(SHORT).unwrap(), Woke::Quiet, "all read");
}

#[test]
fn closing_write_lock_opened_read_only_is_a_probe() {
    let (dir, _handle, mut watch) = watched();
    fs::write(dir.path().join("write.lock"), b"").unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Release, "created");
    drop(File::open(dir.path().join("write.lock")).unwrap());
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Probe);
}

#[test]
fn reading_write_lock_is_an_announced_release() {
    let (dir, _handle, mut watch) = watched();
    fs::write(dir.path().join("write.lock"), b"x").unwrap();
    let kept = File::open(dir.path().join("write.lock")).unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Release, "created");
    assert_eq!(watch.wait(SHORT).unwrap(), Woke::Quiet, "all read");
    // A guard keeps its descriptor open and reads a byte after unlocking.
    std::os::unix::fs::FileExt::read_at(&kept, &mut [0; 1], 0).unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Announced);
}

#[test]
fn setting_both_times_of_write_lock_is_a_change_but_one_time_alone_is_not() {
    let (dir, _handle, mut watch) = watched();
    let lock = dir.path().join("write.lock");
    fs::write(&lock, b"x").unwrap();
    let kept = OpenOptions::new().write(true).open(&lock).unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Release, "created");
    assert_eq!(watch.wait(SHORT).unwrap(), Woke::Quiet, "all read");
    // Reported as a write (not watched): a claimant would miss it.
    kept.set_modified(std::time::SystemTime::now()).unwrap();
    assert_eq!(watch.wait(SHORT).unwrap(), Woke::Quiet);
    // How a waiter tells the others that it took its claim back.
    crate::lock::turn_record::touch(&kept).unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Changed);
}

#[test]
fn other_names_do_not_wake() {
    let (dir, _handle, mut watch) = watched();
    fs::write(dir.path().join("table.csv"), b"a|b\n").unwrap();
    fs::rename(dir.path().join("table.csv"), dir.path().join("t.csv")).unwrap();
    fs::remove_file(dir.path().join("t.csv")).unwrap();
    assert_eq!(watch.wait(SHORT).unwrap(), Woke::Quiet);
}

#[test]
fn deleting_or_renaming_write_lock_is_a_release() {
    let (dir, _handle, mut watch) = watched();
    let lock = dir.path().join("write.lock");
    fs::write(&lock, b"").unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Release);
    fs::rename(&lock, dir.path().join("old.lock")).unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Release);
    fs::write(&lock, b"").unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Release);
    fs::remove_file(&lock).unwrap();
    assert_eq!(watch.wait(LONG).unwrap(), Woke::Release);
}

#[test]
fn a_removed_directory_wakes_and_then_stops_the_watch_so_the_waiter_polls() {
    let (dir, handle, mut watch) = watched();
    let path = dir.path().to_path_buf();
    drop(dir);
    assert!(!path.exists());
    // Still open here (as a waiter holds it): unlinked, but the kernel
    // reports the deletion only with the last reference; what woke the
    // watch is the remover closing the directory.
    assert_ne!(watch.wait(LONG).unwrap(), Woke::Quiet);
    drop(handle);
    assert!(watch.wait(LONG).is_err(), "the watch reported its end");
}

#[test]
fn a_free_lock_is_taken_at_once_and_a_zero_timeout_is_one_attempt() {
    let dir = tempfile::tempdir().unwrap();
    let handle = File::open(dir.path()).unwrap();
    let mut attempts = 0;
    let polled = wait_until(Instant::now(), LONG, &handle, || {
        attempts += 1;
        Ok(Some(()))
    });
    assert_eq!(polled.unwrap(), Polled::Ready(()));
    assert_eq!(attempts, 1);
    let mut attempts = 0;
    let polled = wait_until(Instant::now(), Duration::ZERO, &handle, || {
        attempts += 1;
        Ok(None::<()>)
    });
    assert!(matches!(polled.unwrap(), Polled::TimedOut(_)));
    assert_eq!(attempts, 1);
}

#[test]
fn an_error_from_an_attempt_is_returned_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let handle = File::open(dir.path()).unwrap();
    let mut attempts = 0;
    let started = Instant::now();
    let result = wait_until(started, LONG, &handle, || {
        attempts += 1;
        if attempts < 3 {
            Ok(None::<()>)
        } else {
            Err(reedbase_concurrent_core::ReedError::io(
                "lock_file",
                dir.path(),
                &std::io::Error::other("boom"),
            ))
        }
    });
    assert!(result.is_err());
    assert_eq!(attempts, 3);
    assert!(started.elapsed() < LONG, "not retried until the timeout");
}

/// A holder in another thread releases after the waiter has started
/// waiting; the waiter gets the lock, and a waiter whose timeout passes
/// first gets a `LockTimeout` with at least the timeout waited.
fn hand_off_and_time_out(without_watch: bool) {
    NO_WATCH.with(|flag| flag.set(without_watch));
    WATCHES_MADE.with(|made| made.set(0));
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    let guard = acquire_lock(&base, "orders", LONG).unwrap();

    let timeout = Duration::from_millis(100);
    let started = Instant::now();
    let err = acquire_lock(&base, "orders", timeout).unwrap_err();
    assert!(err.is_lock_timeout(), "{err}");
    assert!(started.elapsed() >= timeout);
    let err = wait_for_unlock(&base, "orders", timeout).unwrap_err();
    assert!(err.is_lock_timeout(), "{err}");

    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        drop(guard);
    });
    let second = acquire_lock(&base, "orders", LONG).unwrap();
    releaser.join().unwrap();
    assert!(is_locked(&base, "orders").unwrap());

    let releaser = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        drop(second);
    });
    wait_for_unlock(&base, "orders", LONG).unwrap();
    releaser.join().unwrap();
    assert!(!is_locked(&base, "orders").unwrap());
    let made = WATCHES_MADE.with(std::cell::Cell::get);
    if without_watch {
        assert_eq!(made, 0, "the fallback polled");
    } else {
        assert!(made >= 4, "every wait watched: {made}");
    }
    NO_WATCH.with(|flag| flag.set(false));
}

#[test]
fn hand_off_and_timeout_with_a_watch() {
    hand_off_and_time_out(false);
}

#[test]
fn hand_off_and_timeout_on_the_polling_fallback() {
    hand_off_and_time_out(true);
}
