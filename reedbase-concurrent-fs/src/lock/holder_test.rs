// SPDX-License-Identifier: Apache-2.0
//! Tests of holder diagnostics: the flock is the truth.

use std::fs;
use std::os::unix::fs::FileExt as _;
use std::path::Path;
use std::process;
use std::time::{Duration, SystemTime};

use super::{CLEARED_RECORD, RECORD_LEN, host_name, own_start_ticks, record_of};
use crate::FsBackend;
use crate::lock::{LockHolder, acquire_lock, lock_holder};
use reedbase_concurrent_core::LockBackend as _;

const SECOND: Duration = Duration::from_secs(1);
/// A pid above Linux's largest `pid_max` (2^22): never a live process.
const NO_SUCH_PID: u32 = 4_000_000_000;

fn lock_file(base: &Path) -> std::path::PathBuf {
    base.join("tables/users/write.lock")
}

fn write_at_start(path: &Path, bytes: &[u8]) {
    let file = fs::OpenOptions::new().write(true).open(path).unwrap();
    file.write_all_at(bytes, 0).unwrap();
}

/// Holds the table's lock through the old module, which writes no record.
fn hold_as_old_module(base: &Path) -> reedbase_last::concurrent::TableLock {
    reedbase_last::concurrent::acquire_lock(base, "users", SECOND).unwrap()
}

#[test]
fn the_holder_is_this_process_while_held_and_none_after() {
    let dir = tempfile::tempdir().unwrap();
    let before = SystemTime::now();
    let guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    let after = SystemTime::now();
    let holder = lock_holder(dir.path(), "users").unwrap().unwrap();
    assert_eq!(holder.pid, Some(process::id()));
    assert_eq!(holder.host.as_deref(), Some(host_name()));
    let acquired = holder.acquired_at.unwrap();
    assert!(before <= acquired && acquired <= after);
    assert!(!holder.is_unknown());
    drop(guard);
    assert_eq!(lock_holder(dir.path(), "users").unwrap(), None);
}

#[test]
fn release_keeps_the_file_and_its_record_names_nobody_after() {
    let dir = tempfile::tempdir().unwrap();
    drop(acquire_lock(dir.path(), "users", SECOND).unwrap());
    let left = fs::read(lock_file(dir.path())).unwrap();
    assert_eq!(left.len(), RECORD_LEN);
    assert_ne!(left, CLEARED_RECORD, "the record stays");
    assert_eq!(lock_holder(dir.path(), "users").unwrap(), None);
}

#[test]
fn a_record_left_by_a_released_holder_is_not_believed_under_another_lock() {
    let dir = tempfile::tempdir().unwrap();
    drop(acquire_lock(dir.path(), "users", SECOND).unwrap());
    // An old-module process (here in this one) takes the lock next and
    // writes no record: the one left behind is not its holder's.
    let _old = hold_as_old_module(dir.path());
    assert!(
        lock_holder(dir.path(), "users")
            .unwrap()
            .unwrap()
            .is_unknown()
    );
}

#[test]
fn the_backend_reports_the_same_holder() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    assert_eq!(backend.lock_holder("users").unwrap(), None);
    let _guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    assert_eq!(
        backend.lock_holder("users").unwrap(),
        lock_holder(dir.path(), "users").unwrap()
    );
}

#[test]
fn a_record_without_a_lock_is_no_holder() {
    let dir = tempfile::tempdir().unwrap();
    let guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    // What a killed holder leaves: its record, and no lock.
    let record = fs::read(lock_file(dir.path())).unwrap();
    drop(guard);
    write_at_start(&lock_file(dir.path()), &record);
    assert_eq!(lock_holder(dir.path(), "users").unwrap(), None);
}

#[test]
fn a_lock_without_a_record_has_an_unknown_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _old = hold_as_old_module(dir.path());
    let holder = lock_holder(dir.path(), "users").unwrap().unwrap();
    assert!(holder.is_unknown());
    assert_eq!((holder.host, holder.acquired_at), (None, None));
}

#[test]
fn a_dead_holders_record_under_a_live_lock_is_not_believed() {
    let dir = tempfile::tempdir().unwrap();
    let _old = hold_as_old_module(dir.path());
    let now = SystemTime::now();
    write_at_start(
        &lock_file(dir.path()),
        &record_of(NO_SUCH_PID, None, host_name(), now),
    );
    assert!(
        lock_holder(dir.path(), "users")
            .unwrap()
            .unwrap()
            .is_unknown()
    );
    // A live pid that started at another time is a reused pid.
    let reused = own_start_ticks().map(|ticks| ticks + 1);
    write_at_start(
        &lock_file(dir.path()),
        &record_of(process::id(), reused, host_name(), now),
    );
    assert!(
        lock_holder(dir.path(), "users")
            .unwrap()
            .unwrap()
            .is_unknown()
    );
}

#[test]
fn a_record_from_another_host_is_taken_at_its_word() {
    let dir = tempfile::tempdir().unwrap();
    let _old = hold_as_old_module(dir.path());
    let now = SystemTime::now();
    write_at_start(
        &lock_file(dir.path()),
        &record_of(NO_SUCH_PID, Some(1), "elsewhere", now),
    );
    let holder = lock_holder(dir.path(), "users").unwrap().unwrap();
    assert_eq!(holder.pid, Some(NO_SUCH_PID));
    assert_eq!(holder.host.as_deref(), Some("elsewhere"));
}

#[test]
fn a_garbled_record_under_a_live_lock_is_an_unknown_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _old = hold_as_old_module(dir.path());
    write_at_start(&lock_file(dir.path()), &[b'#'; RECORD_LEN]);
    let expected = LockHolder::unknown();
    assert_eq!(lock_holder(dir.path(), "users").unwrap(), Some(expected));
}

#[test]
fn asking_creates_nothing_and_bad_names_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(lock_holder(dir.path(), "users").unwrap(), None);
    for name in ["../x", "/abs", "", "a/b", "."] {
        let err = lock_holder(dir.path(), name).unwrap_err();
        assert!(err.is_invalid_input(), "{name:?}: {err}");
    }
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
