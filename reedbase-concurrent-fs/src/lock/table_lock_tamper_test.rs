// SPDX-License-Identifier: Apache-2.0
//! Tests of a table's lock when `write.lock` or the table directory is
//! deleted, renamed, replaced or linked while the lock is held: never a
//! second holder among this crate's lockers, and the holder's guard says it
//! no longer holds. (Two descriptors in one process exclude each other as
//! two processes do; `tests/multiprocess_lock.rs` repeats the first case
//! across processes.)

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use reedbase_concurrent_core::{LockGuard, LockHolder};

use super::{Held, take};
use crate::lock::{acquire_lock, is_locked, lock_holder, try_acquire_lock, wait_for_unlock};
use crate::tables_dir::BaseDir;
use crate::tables_dir::TablePaths;

const SECOND: Duration = Duration::from_secs(1);

fn lock_file(base: &Path) -> PathBuf {
    base.join("tables/users/write.lock")
}

/// While `guard` holds the lock after `tamper` changed `write.lock`: no
/// one else gets it, every probe still sees it held, and the guard knows it
/// lost its hold. Once released, the next acquirer gets it.
fn assert_no_second_holder(base: &Path, tamper: impl FnOnce(&Path)) {
    let guard = acquire_lock(base, "users", SECOND).unwrap();
    assert!(guard.is_held().unwrap());
    tamper(base);
    assert!(
        try_acquire_lock(base, "users").unwrap().is_none(),
        "a second holder"
    );
    let err = acquire_lock(base, "users", Duration::from_millis(50)).unwrap_err();
    assert!(err.is_lock_timeout(), "{err}");
    assert!(
        is_locked(base, "users").unwrap(),
        "is_locked must tell the truth"
    );
    assert!(
        wait_for_unlock(base, "users", Duration::ZERO)
            .unwrap_err()
            .is_lock_timeout()
    );
    assert!(lock_holder(base, "users").unwrap().is_some());
    assert!(!guard.is_held().unwrap(), "the guard must know");
    drop(guard);
    assert!(!is_locked(base, "users").unwrap());
    let next = acquire_lock(base, "users", SECOND).unwrap();
    assert!(next.is_held().unwrap());
    assert!(lock_file(base).is_file());
}

#[test]
fn write_lock_deleted_while_held_gives_no_second_holder() {
    let dir = tempfile::tempdir().unwrap();
    assert_no_second_holder(dir.path(), |base| fs::remove_file(lock_file(base)).unwrap());
}

#[test]
fn write_lock_renamed_while_held_gives_no_second_holder() {
    let dir = tempfile::tempdir().unwrap();
    assert_no_second_holder(dir.path(), |base| {
        fs::rename(lock_file(base), base.join("tables/users/write.lock.old")).unwrap();
    });
}

#[test]
fn write_lock_replaced_while_held_gives_no_second_holder() {
    let dir = tempfile::tempdir().unwrap();
    assert_no_second_holder(dir.path(), |base| {
        let fresh = base.join("tables/users/fresh");
        fs::write(&fresh, b"").unwrap();
        fs::rename(&fresh, lock_file(base)).unwrap();
    });
}

#[test]
fn a_holder_whose_write_lock_was_deleted_is_an_unknown_holder() {
    let dir = tempfile::tempdir().unwrap();
    let _guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    fs::remove_file(lock_file(dir.path())).unwrap();
    assert_eq!(
        lock_holder(dir.path(), "users").unwrap(),
        Some(LockHolder::unknown())
    );
}

#[test]
fn a_second_name_for_write_lock_while_held_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    fs::hard_link(lock_file(dir.path()), dir.path().join("elsewhere")).unwrap();
    assert!(!guard.is_held().unwrap());
    let err = try_acquire_lock(dir.path(), "users").unwrap_err();
    assert!(err.to_string().contains("hard links"), "{err}");
}

#[test]
fn the_table_directory_renamed_while_held_is_detected_not_prevented() {
    let dir = tempfile::tempdir().unwrap();
    let guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    fs::rename(
        dir.path().join("tables/users"),
        dir.path().join("tables/moved"),
    )
    .unwrap();
    assert!(!guard.is_held().unwrap());
    let next = acquire_lock(dir.path(), "users", SECOND).unwrap();
    assert!(next.is_held().unwrap());
    drop(guard);
    assert!(next.is_held().unwrap());
}

#[test]
fn a_lock_taken_on_a_file_no_longer_at_its_path_is_not_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let base = BaseDir::new(dir.path().to_path_buf());
    let paths = TablePaths::new(dir.path(), "users").unwrap();
    let mut held = Held::open(&base, &paths).unwrap();
    assert_eq!(held.try_lock(&paths).unwrap(), Some(true));
    held.dir_locked = true;
    assert!(held.in_place(&base, "users", &paths.lock_file).unwrap());
    fs::rename(&paths.lock_file, dir.path().join("tables/users/aside")).unwrap();
    assert!(!held.in_place(&base, "users", &paths.lock_file).unwrap());
    held.release();
    // An acquisition now takes the new write.lock, and the directory lock
    // released above.
    let taken = take(
        Arc::new(BaseDir::new(dir.path().to_path_buf())),
        "users",
        SECOND,
    )
    .unwrap();
    assert!(taken.is_ok());
}

#[test]
fn a_kept_lock_file_replaced_between_acquisitions_is_not_locked_again() {
    let dir = tempfile::tempdir().unwrap();
    drop(acquire_lock(dir.path(), "users", SECOND).unwrap());
    let replacement = dir.path().join("tables/users/new.lock");
    fs::write(&replacement, b"").unwrap();
    fs::rename(&replacement, lock_file(dir.path())).unwrap();
    let guard = acquire_lock(dir.path(), "users", SECOND).unwrap();
    assert!(
        guard.is_held().unwrap(),
        "the new write.lock is the one locked"
    );
    let old_module = reedbase_last::concurrent::acquire_lock(dir.path(), "users", Duration::ZERO);
    assert!(old_module.is_err(), "the old module must meet the lock");
}

#[test]
fn a_kept_tables_directory_replaced_by_a_link_is_refused_within_its_check_interval() {
    let dir = tempfile::tempdir().unwrap();
    drop(acquire_lock(dir.path(), "users", SECOND).unwrap());
    let outside = tempfile::tempdir().unwrap();
    fs::rename(dir.path().join("tables"), outside.path().join("tables")).unwrap();
    std::os::unix::fs::symlink(outside.path().join("tables"), dir.path().join("tables")).unwrap();
    std::thread::sleep(Duration::from_millis(60));
    assert!(acquire_lock(dir.path(), "users", SECOND).is_err());
    assert!(is_locked(dir.path(), "users").is_err());
}

#[test]
fn a_kept_table_directory_replaced_by_a_link_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(acquire_lock(dir.path(), "users", SECOND).unwrap());
    let outside = tempfile::tempdir().unwrap();
    fs::rename(
        dir.path().join("tables/users"),
        outside.path().join("users"),
    )
    .unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("users"),
        dir.path().join("tables/users"),
    )
    .unwrap();
    assert!(acquire_lock(dir.path(), "users", SECOND).is_err());
    assert!(is_locked(dir.path(), "users").is_err());
    assert!(lock_holder(dir.path(), "users").is_err());
}

/// Waits until the table directory's last change is settled, so that a
/// probe's next look keeps its stamp (see `Held::in_place_for_probe`).
fn settle() {
    std::thread::sleep(crate::no_follow::Stamp::SETTLE + Duration::from_millis(50));
}

fn lock_looks() -> u64 {
    crate::lock::held::LOCK_LOOKS.with(std::cell::Cell::get)
}

/// A table locked once and released, settled, then probed once (the look
/// that keeps the table directory's stamp); returns the base.
fn probed_once() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    drop(acquire_lock(dir.path(), "users", SECOND).unwrap());
    settle();
    assert!(!is_locked(dir.path(), "users").unwrap());
    dir
}

/// A new `write.lock` renamed over the kept one, held (exclusively,
/// through the returned file) by another locker: the old module locks only
/// `write.lock`.
fn replaced_and_held_elsewhere(base: &Path) -> fs::File {
    let fresh = base.join("tables/users/fresh");
    fs::write(&fresh, b"").unwrap();
    fs::rename(&fresh, lock_file(base)).unwrap();
    let other = fs::File::open(lock_file(base)).unwrap();
    rustix::fs::flock(&other, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
    other
}

#[test]
fn a_settled_table_directory_spares_a_probe_the_look_at_write_lock() {
    let dir = probed_once();
    let before = lock_looks();
    for _ in 0..3 {
        assert!(!is_locked(dir.path(), "users").unwrap());
        wait_for_unlock(dir.path(), "users", SECOND).unwrap();
        assert_eq!(lock_holder(dir.path(), "users").unwrap(), None);
    }
    assert_eq!(lock_looks(), before, "a probe looked at write.lock");
    // A name made in the table directory: the next probe looks.
    fs::write(dir.path().join("tables/users/note"), b"").unwrap();
    assert!(!is_locked(dir.path(), "users").unwrap());
    assert_eq!(lock_looks(), before + 1);
}

#[test]
fn write_lock_replaced_after_a_settled_probe_is_probed_afresh() {
    let dir = probed_once();
    let other = replaced_and_held_elsewhere(dir.path());
    assert!(
        is_locked(dir.path(), "users").unwrap(),
        "the new write.lock's holder was missed"
    );
    let err = wait_for_unlock(dir.path(), "users", Duration::from_millis(20)).unwrap_err();
    assert!(err.is_lock_timeout(), "{err}");
    drop(other);
    assert!(!is_locked(dir.path(), "users").unwrap());
}

#[test]
fn write_lock_replaced_by_a_link_after_a_settled_probe_is_refused() {
    let dir = probed_once();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("target");
    fs::write(&target, b"outside").unwrap();
    fs::remove_file(lock_file(dir.path())).unwrap();
    std::os::unix::fs::symlink(&target, lock_file(dir.path())).unwrap();
    assert!(is_locked(dir.path(), "users").is_err());
    assert!(try_acquire_lock(dir.path(), "users").is_err());
    assert_eq!(fs::read(&target).unwrap(), b"outside");
}

#[test]
fn a_second_name_for_write_lock_after_a_settled_probe_is_refused_by_the_next_acquisition() {
    let dir = probed_once();
    fs::hard_link(lock_file(dir.path()), dir.path().join("elsewhere")).unwrap();
    // The probe writes nothing; the acquisition, which would, looks.
    let err = try_acquire_lock(dir.path(), "users").unwrap_err();
    assert!(err.to_string().contains("hard links"), "{err}");
}

#[test]
fn through_a_backend_a_settled_probe_sees_a_replaced_write_lock() {
    use reedbase_concurrent_core::LockBackend;
    let dir = tempfile::tempdir().unwrap();
    let backend = crate::FsBackend::new(dir.path());
    drop(backend.acquire_lock("users", SECOND).unwrap());
    settle();
    assert!(!backend.is_locked("users").unwrap());
    let before = lock_looks();
    assert!(!backend.is_locked("users").unwrap());
    assert_eq!(lock_looks(), before, "a probe looked at write.lock");
    let _other = replaced_and_held_elsewhere(dir.path());
    assert!(
        backend.is_locked("users").unwrap(),
        "the new write.lock's holder was missed"
    );
}
