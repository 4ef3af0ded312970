// SPDX-License-Identifier: Apache-2.0
//! Locks held by processes of this crate: no increment lost under the
//! lock, a killed holder's lock freed, waiters in other processes woken or
//! timed out.

use std::fs;
use std::time::Duration;

use reedbase_concurrent_fs::lock::try_acquire_lock;
use reedbase_concurrent_fs::{acquire_lock, is_locked};

use crate::support::ChildProcess;
use crate::{Outcome, PATIENCE, TABLE, check, spawn};

pub(crate) fn counter_is_exact() -> Outcome {
    const PROCESSES: usize = 4;
    const ROUNDS: usize = 100;
    let dir = tempfile::tempdir().unwrap();
    let params = format!("count={ROUNDS}");
    let mut children: Vec<ChildProcess> = (0..PROCESSES)
        .map(|_| ChildProcess::spawn("counter", dir.path(), &params))
        .collect::<Result<_, _>>()?;
    for child in &mut children {
        child.expect_line("done", PATIENCE)?;
        child.wait_success(PATIENCE)?;
    }
    let total: usize = fs::read_to_string(dir.path().join("counter.txt"))
        .map_err(|e| e.to_string())?
        .trim()
        .parse()
        .map_err(|e| format!("counter: {e}"))?;
    check(
        total == PROCESSES * ROUNDS,
        &format!("total {total} == {}", PROCESSES * ROUNDS),
    )
}

pub(crate) fn sigkilled_holder_releases() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = spawn("hold", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    check(
        is_locked(dir.path(), TABLE).unwrap(),
        "locked while the child holds it",
    )?;
    check(
        try_acquire_lock(dir.path(), TABLE).unwrap().is_none(),
        "try_acquire is refused",
    )?;
    let err = acquire_lock(dir.path(), TABLE, Duration::from_millis(100)).unwrap_err();
    check(err.is_lock_timeout(), "acquire times out while held")?;
    let status = holder.kill()?;
    check(!status.success(), "the child was killed, not finished")?;
    let _guard = acquire_lock(dir.path(), TABLE, PATIENCE).map_err(|e| e.to_string())?;
    check(
        dir.path().join("tables/orders/write.lock").is_file(),
        "lock file kept",
    )
}

pub(crate) fn waiters_are_woken() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let guard = acquire_lock(dir.path(), TABLE, PATIENCE).unwrap();
    let mut acquirer = spawn("acquire", dir.path())?;
    let mut watcher = spawn("wait_for_unlock", dir.path())?;
    acquirer.expect_line("waiting", PATIENCE)?;
    watcher.expect_line("waiting", PATIENCE)?;
    let quiet = Duration::from_millis(200);
    check(
        acquirer.stays_quiet(quiet),
        "the acquirer waits while the lock is held",
    )?;
    check(
        watcher.stays_quiet(Duration::ZERO),
        "the watcher waits while the lock is held",
    )?;
    drop(guard);
    acquirer.expect_line("acquired", PATIENCE)?;
    watcher.expect_line("free", PATIENCE)?;
    acquirer.wait_success(PATIENCE)?;
    watcher.wait_success(PATIENCE)
}

/// A child waits in `acquire_lock` while another child holds the lock; the
/// holder releases and the waiter gets the lock (with a watch on the table
/// directory in both, no process of the parent's in between).
pub(crate) fn waiting_child_gets_released_lock() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = spawn("hold", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    let mut waiter = spawn("acquire", dir.path())?;
    waiter.expect_line("waiting", PATIENCE)?;
    check(
        waiter.stays_quiet(Duration::from_millis(200)),
        "the waiter waits while the holder holds",
    )?;
    holder.send_line("release")?;
    holder.expect_line("released", PATIENCE)?;
    waiter.expect_line("acquired", PATIENCE)?;
    waiter.wait_success(PATIENCE)?;
    holder.wait_success(PATIENCE)
}

/// A child waits with a timeout while another child keeps the lock: it
/// gets a `LockTimeout`, not the lock, and returns (it does not sleep on
/// its watch past the deadline until something happens).
pub(crate) fn waiting_child_times_out() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let mut holder = spawn("hold", dir.path())?;
    holder.expect_line("held", PATIENCE)?;
    let mut waiter = ChildProcess::spawn("acquire_within", dir.path(), "timeout_ms=300")?;
    waiter.expect_line("waiting", PATIENCE)?;
    waiter.expect_line("timed out", PATIENCE)?;
    waiter.wait_success(PATIENCE)?;
    check(
        is_locked(dir.path(), TABLE).unwrap(),
        "the holder still holds",
    )?;
    holder.send_line("release")?;
    holder.expect_line("released", PATIENCE)?;
    holder.wait_success(PATIENCE)
}
