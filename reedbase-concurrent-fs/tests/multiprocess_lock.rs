// SPDX-License-Identifier: Apache-2.0
//! Table locks across real processes. This binary re-runs itself as child
//! processes (role in `REEDBASE_TEST_CHILD`, see `support`), so it has its
//! own `main` instead of libtest's.
//!
//! - processes incrementing a counter file by read-modify-write under the
//!   lock lose no increment;
//! - a holder killed with SIGKILL releases the lock;
//! - waiters in other processes are woken when the lock is released;
//! - the old module (`reedbase-last`) and this crate exclude each other;
//! - `lock_holder` names the holding process, and forgets it once killed;
//! - `write.lock` deleted or renamed while a child holds the lock gives no
//!   second holder, and `is_locked` still tells the truth; deleted while
//!   another child waits (waking it) neither;
//! - a child waiting for another child's lock gets it when released, and
//!   times out while it is kept;
//! - a release by an old-module child, or its death, is noticed by waiting
//!   children of this crate.
//!
//! The hand-off latency and waiter CPU are measured by `cargo xtask bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_test_support as support;

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_fs::lock::{lock_holder, try_acquire_lock};
use reedbase_concurrent_fs::{acquire_lock, is_locked, wait_for_unlock};
use support::{ChildProcess, Runner, base_dir, child_role, line_from_parent, param, tell_parent};

const TABLE: &str = "orders";
/// No wait in this file is longer than this; a hang is a failure, not a stall.
const PATIENCE: Duration = Duration::from_secs(60);

type Outcome = Result<(), String>;

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        run_child(&role);
        return ExitCode::SUCCESS;
    }
    let mut runner = Runner::from_args();
    runner.run(
        "counter_incremented_by_four_processes_is_exact",
        counter_is_exact,
    );
    runner.run(
        "sigkilled_holder_releases_the_lock",
        sigkilled_holder_releases,
    );
    runner.run("waiters_in_other_processes_are_woken", waiters_are_woken);
    runner.run(
        "old_module_holder_excludes_this_crate",
        old_holder_excludes_new,
    );
    runner.run(
        "this_crate_holder_excludes_old_module",
        new_holder_excludes_old,
    );
    runner.run(
        "lock_holder_names_the_child_until_killed",
        lock_holder_names_child,
    );
    runner.run(
        "write_lock_deleted_while_a_child_holds_it_gives_no_second_holder",
        || write_lock_tampered_while_held(|lock| fs::remove_file(lock)),
    );
    runner.run(
        "write_lock_renamed_while_a_child_holds_it_gives_no_second_holder",
        || write_lock_tampered_while_held(|lock| fs::rename(lock, lock.with_extension("old"))),
    );
    runner.run(
        "a_waiting_child_gets_the_lock_another_child_releases",
        waiting_child_gets_released_lock,
    );
    runner.run(
        "a_waiting_child_times_out_while_another_child_holds",
        waiting_child_times_out,
    );
    runner.run("a_release_by_an_old_module_child_is_noticed", || {
        old_release_is_noticed(false)
    });
    runner.run("an_old_module_child_killed_holding_is_noticed", || {
        old_release_is_noticed(true)
    });
    runner.run(
        "write_lock_deleted_while_a_child_waits_gives_no_second_holder",
        write_lock_deleted_while_waiting,
    );
    runner.finish()
}

fn run_child(role: &str) {
    let base = base_dir();
    match role {
        "counter" => child_counter(&base),
        "hold" => {
            let guard = acquire_lock(&base, TABLE, PATIENCE).unwrap();
            hold_until_told(guard);
        }
        "hold_old" => {
            let guard = reedbase_last::concurrent::acquire_lock(&base, TABLE, PATIENCE).unwrap();
            hold_until_told(guard);
        }
        "acquire" => {
            tell_parent("waiting");
            let _guard = acquire_lock(&base, TABLE, PATIENCE).unwrap();
            tell_parent("acquired");
        }
        "acquire_within" => {
            let timeout = Duration::from_millis(param("timeout_ms", "").parse().unwrap());
            tell_parent("waiting");
            match acquire_lock(&base, TABLE, timeout) {
                Ok(_guard) => tell_parent("acquired"),
                Err(err) if err.is_lock_timeout() => tell_parent("timed out"),
                Err(err) => panic!("{err}"),
            }
        }
        "wait_for_unlock" => {
            tell_parent("waiting");
            wait_for_unlock(&base, TABLE, PATIENCE).unwrap();
            tell_parent("free");
        }
        other => panic!("unknown child role {other}"),
    }
}

/// Says `held`, then keeps `guard` until the parent sends a line (or dies).
fn hold_until_told<G>(guard: G) {
    tell_parent("held");
    let _ = line_from_parent();
    drop(guard);
    tell_parent("released");
}

fn child_counter(base: &Path) {
    let rounds: usize = param("count", "").parse().unwrap();
    let counter = base.join("counter.txt");
    for _ in 0..rounds {
        let _guard = acquire_lock(base, TABLE, PATIENCE).unwrap();
        let value: u64 = match fs::read_to_string(&counter) {
            Ok(text) => text.trim().parse().unwrap(),
            Err(_) => 0,
        };
        // Widen the window between read and write, so that a broken lock
        // would lose increments.
        thread::sleep(Duration::from_micros(100));
        fs::write(&counter, format!("{}\n", value + 1)).unwrap();
    }
    tell_parent("done");
}

fn spawn(role: &str, base: &Path) -> Result<ChildProcess, String> {
    ChildProcess::spawn(role, base, "")
}

fn check(condition: bool, what: &str) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(format!("failed: {what}"))
    }
}

fn counter_is_exact() -> Outcome {
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

fn sigkilled_holder_releases() -> Outcome {
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

fn waiters_are_woken() -> Outcome {
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

fn old_holder_excludes_new() -> Outcome {
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

fn new_holder_excludes_old() -> Outcome {
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

fn lock_holder_names_child() -> Outcome {
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
fn write_lock_tampered_while_held(tamper: fn(&Path) -> std::io::Result<()>) -> Outcome {
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

/// A child waits in `acquire_lock` while another child holds the lock; the
/// holder releases and the waiter gets the lock (with a watch on the table
/// directory in both, no process of the parent's in between).
fn waiting_child_gets_released_lock() -> Outcome {
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
fn waiting_child_times_out() -> Outcome {
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

/// An old-module child holds the lock; a child of this crate waits for it.
/// The old module's release (an unlock, then the close), or its death
/// (the close comes before the kernel drops the lock), is noticed.
fn old_release_is_noticed(kill: bool) -> Outcome {
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

/// A child waits for the lock another child holds; `write.lock` is deleted
/// meanwhile (an event the waiter wakes on). The waiter must not get the
/// lock while the holder holds it, and gets it once the holder releases.
fn write_lock_deleted_while_waiting() -> Outcome {
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
