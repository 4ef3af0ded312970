// SPDX-License-Identifier: Apache-2.0
//! The old module (`reedbase-last`) and this crate across processes: each
//! excludes the other, and a waiter of this crate notices the old module's
//! release or death.

use std::time::Duration;

use reedbase_concurrent_fs::lock::{lock_holder, try_acquire_lock};
use reedbase_concurrent_fs::{acquire_lock, is_locked};

use crate::{Outcome, PATIENCE, TABLE, check, spawn};

pub(crate) fn old_holder_excludes_new() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = spawn("hold_old", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    check(
        try_acquire_lock(dir.path(), TABLE).unwrap().is_none(),
        "try_acquire is refused",
    )?;
    check(
        is_locked(dir.path(), TABLE).unwrap(),
        "an old-module lock is seen",
    )?;
    let err = acquire_lock(dir.path(), TABLE, Duration::from_millis(100)).unwrap_err();
    check(
        err.is_lock_timeout(),
        &format!("acquire times out, got {err}"),
    )?;
    let holder_info = lock_holder(dir.path(), TABLE).unwrap();
    check(
        holder_info.is_some_and(|h| h.is_unknown()),
        "an old-module holder is unknown",
    )?;
    holder.send_line("release")?;
    holder.expect_line("released", PATIENCE)?;
    let _guard = acquire_lock(dir.path(), TABLE, PATIENCE).map_err(|e| e.to_string())?;
    holder.wait_success(PATIENCE)
}

pub(crate) fn new_holder_excludes_old() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = spawn("hold", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    let timeout = Duration::from_millis(300);
    let old = reedbase_last::concurrent::acquire_lock(dir.path(), TABLE, timeout);
    check(old.is_err(), "the old module's acquire times out")?;
    check(
        reedbase_last::concurrent::is_locked(dir.path(), TABLE).unwrap(),
        "the old module sees the lock",
    )?;
    holder.send_line("release")?;
    holder.expect_line("released", PATIENCE)?;
    holder.wait_success(PATIENCE)?;
    let old = reedbase_last::concurrent::acquire_lock(dir.path(), TABLE, PATIENCE);
    check(old.is_ok(), "the old module acquires once released")
}

/// An old-module child holds the lock; a child of this crate waits for it.
/// The old module's release (an unlock, then the close), or its death
/// (the close comes before the kernel drops the lock), is noticed.
pub(crate) fn old_release_is_noticed(kill: bool) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = spawn("hold_old", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    let mut waiter = spawn("acquire", dir.path())?;
    let mut watcher = spawn("wait_for_unlock", dir.path())?;
    waiter.expect_line("waiting", PATIENCE)?;
    watcher.expect_line("waiting", PATIENCE)?;
    check(
        waiter.stays_quiet(Duration::from_millis(200)),
        "the waiter waits while the old module holds",
    )?;
    check(
        watcher.stays_quiet(Duration::ZERO),
        "the watcher waits while the old module holds",
    )?;
    if kill {
        holder.kill()?;
    } else {
        holder.send_line("release")?;
        holder.expect_line("released", PATIENCE)?;
    }
    waiter.expect_line("acquired", PATIENCE)?;
    watcher.expect_line("free", PATIENCE)?;
    waiter.wait_success(PATIENCE)?;
    watcher.wait_success(PATIENCE)?;
    if !kill {
        holder.wait_success(PATIENCE)?;
    }
    Ok(())
}
