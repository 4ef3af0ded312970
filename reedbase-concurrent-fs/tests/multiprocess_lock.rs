// SPDX-License-Identifier: Apache-2.0
//! Table locks across real processes. This binary re-runs itself as child
//! processes (role in `REEDBASE_TEST_CHILD`, see `support`), so it has its
//! own `main` instead of libtest's; the scenarios live in
//! `multiprocess_lock/`, one file a subject.
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
//!   children of this crate;
//! - children taking turns: while a child's claim on a turn is in
//!   `write.lock`, no other child takes the lock twice before it;
//! - a waiter whose claim on a turn cannot be written (a full disk, a file
//!   system an error turned read-only) times out with `LockTimeout` while
//!   a child holds, gets the lock the child releases, and changes nothing
//!   outside the base (these mount file systems and need root, see
//!   `mounts`).
//!
//! The hand-off latency and waiter CPU are measured by `cargo xtask bench`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_test_support as support;

mod mounts;

/// The scenarios, by subject.
mod multiprocess_lock {
    pub(crate) mod exclusion;
    pub(crate) mod lock_file;
    pub(crate) mod old_module;
    pub(crate) mod turns;
    pub(crate) mod unwritable_claims;
}

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use multiprocess_lock::{exclusion, lock_file, old_module, turns, unwritable_claims};
use reedbase_concurrent_fs::{acquire_lock, wait_for_unlock};
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
        exclusion::counter_is_exact,
    );
    runner.run(
        "sigkilled_holder_releases_the_lock",
        exclusion::sigkilled_holder_releases,
    );
    runner.run(
        "waiters_in_other_processes_are_woken",
        exclusion::waiters_are_woken,
    );
    runner.run(
        "old_module_holder_excludes_this_crate",
        old_module::old_holder_excludes_new,
    );
    runner.run(
        "this_crate_holder_excludes_old_module",
        old_module::new_holder_excludes_old,
    );
    runner.run(
        "lock_holder_names_the_child_until_killed",
        lock_file::lock_holder_names_child,
    );
    runner.run(
        "write_lock_deleted_while_a_child_holds_it_gives_no_second_holder",
        || lock_file::write_lock_tampered_while_held(|lock| fs::remove_file(lock)),
    );
    runner.run(
        "write_lock_renamed_while_a_child_holds_it_gives_no_second_holder",
        || {
            lock_file::write_lock_tampered_while_held(|lock| {
                fs::rename(lock, lock.with_extension("old"))
            })
        },
    );
    runner.run(
        "a_waiting_child_gets_the_lock_another_child_releases",
        exclusion::waiting_child_gets_released_lock,
    );
    runner.run(
        "a_waiting_child_times_out_while_another_child_holds",
        exclusion::waiting_child_times_out,
    );
    runner.run("a_release_by_an_old_module_child_is_noticed", || {
        old_module::old_release_is_noticed(false)
    });
    runner.run("an_old_module_child_killed_holding_is_noticed", || {
        old_module::old_release_is_noticed(true)
    });
    runner.run(
        "write_lock_deleted_while_a_child_waits_gives_no_second_holder",
        lock_file::write_lock_deleted_while_waiting,
    );
    runner.run("turns_are_taken", turns::turns_are_taken);
    runner.run(
        "a_waiter_whose_claim_cannot_be_written_on_a_full_disk_times_out",
        unwritable_claims::full_disk_times_out,
    );
    runner.run(
        "a_waiter_whose_claim_cannot_be_written_on_a_full_disk_gets_the_released_lock",
        unwritable_claims::full_disk_gets_released_lock,
    );
    runner.run(
        "a_waiter_whose_claim_cannot_be_written_on_a_file_system_read_only_by_an_error",
        unwritable_claims::read_only_by_error,
    );
    runner.finish()
}

fn run_child(role: &str) {
    let base = base_dir();
    match role {
        "counter" => child_counter(&base),
        "turns" => turns::child(&base, param("count", "").parse().unwrap()),
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
