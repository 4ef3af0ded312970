// SPDX-License-Identifier: Apache-2.0
//! The lock file across processes: the holder record names the holding
//! process until it dies, and `write.lock` deleted or renamed under a
//! holder or a waiter gives no second holder.

use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_fs::lock::{lock_holder, try_acquire_lock};
use reedbase_concurrent_fs::{acquire_lock, is_locked};

use crate::{Outcome, PATIENCE, TABLE, check, spawn};

pub(crate) fn lock_holder_names_child() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let spawned = SystemTime::now();
    let mut holder = spawn("hold", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    let info = lock_holder(dir.path(), TABLE)
        .unwrap()
        .ok_or("no holder reported")?;
    check(
        info.pid == Some(holder.pid()),
        &format!("{info:?} names pid {}", holder.pid()),
    )?;
    let acquired = info.acquired_at.ok_or("no acquisition time")?;
    check(
        spawned <= acquired && acquired <= SystemTime::now(),
        "acquired while running",
    )?;
    check(info.host.is_some(), "a host name")?;
    holder.kill()?;
    check(
        lock_holder(dir.path(), TABLE).unwrap().is_none(),
        "no holder once killed",
    )?;
    // The killed child's record is still in the file; under a record-less
    // old-module holder it must not be taken for the live holder.
    let record = fs::read_to_string(dir.path().join("tables/orders/write.lock")).unwrap();
    check(
        record.starts_with("reedbase-lock-holder v1"),
        "the dead record stays behind",
    )?;
    let mut old = spawn("hold_old", dir.path())?;
    old.expect_line("held", PATIENCE)?;
    let info = lock_holder(dir.path(), TABLE)
        .unwrap()
        .ok_or("no holder under old")?;
    check(
        info.is_unknown(),
        &format!("the dead child is not the holder: {info:?}"),
    )?;
    old.kill().map(drop)
}

/// A child holds the lock; `tamper` deletes or renames `write.lock`. No
/// one else may get the lock while the child holds it (the old code handed
/// a second holder the new `write.lock`), `is_locked` must say it is held,
/// and once the child releases it, the lock is free for the next holder.
pub(crate) fn write_lock_tampered_while_held(tamper: fn(&Path) -> std::io::Result<()>) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("tables").join(TABLE).join("write.lock");
    let mut holder = spawn("hold", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    tamper(&lock).map_err(|e| format!("tampering with {}: {e}", lock.display()))?;
    check(
        try_acquire_lock(dir.path(), TABLE).unwrap().is_none(),
        "no second holder while the child holds the lock",
    )?;
    let err = acquire_lock(dir.path(), TABLE, Duration::from_millis(100)).unwrap_err();
    check(
        err.is_lock_timeout(),
        &format!("acquire times out, got {err}"),
    )?;
    check(
        is_locked(dir.path(), TABLE).unwrap(),
        "is_locked sees the child's lock",
    )?;
    holder.send_line("release")?;
    holder.expect_line("released", PATIENCE)?;
    holder.wait_success(PATIENCE)?;
    let _guard = acquire_lock(dir.path(), TABLE, PATIENCE).map_err(|e| e.to_string())?;
    check(lock.is_file(), "write.lock is there again")
}

/// A child waits for the lock another child holds; `write.lock` is deleted
/// meanwhile (an event the waiter wakes on). The waiter must not get the
/// lock while the holder holds it, and gets it once the holder releases.
pub(crate) fn write_lock_deleted_while_waiting() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("tables").join(TABLE).join("write.lock");
    let mut holder = spawn("hold", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    let mut waiter = spawn("acquire", dir.path())?;
    waiter.expect_line("waiting", PATIENCE)?;
    check(
        waiter.stays_quiet(Duration::from_millis(100)),
        "the waiter waits",
    )?;
    fs::remove_file(&lock).map_err(|e| format!("deleting {}: {e}", lock.display()))?;
    check(
        waiter.stays_quiet(Duration::from_millis(300)),
        "no second holder after write.lock was deleted",
    )?;
    check(
        try_acquire_lock(dir.path(), TABLE).unwrap().is_none(),
        "the holder still excludes this process",
    )?;
    holder.send_line("release")?;
    holder.expect_line("released", PATIENCE)?;
    waiter.expect_line("acquired", PATIENCE)?;
    waiter.wait_success(PATIENCE)?;
    holder.wait_success(PATIENCE)
}
