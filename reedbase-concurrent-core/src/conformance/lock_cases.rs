// SPDX-License-Identifier: Apache-2.0
//! Cases for [`LockBackend`](crate::LockBackend): the old module's ten lock
//! tests, written against the trait, and the new contracts (never-waiting
//! `try_acquire_lock`, RAII release, timeouts that report the real wait).

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use super::Backend;
use super::samples::{LONG, err, err_of_guard, join, ok};
use crate::error::ReedError;

const TABLE: &str = "test_table";

/// Checks that a [`ReedError::LockTimeout`] names `table` and reports at
/// least `timeout` waited, and no more than the caller saw pass.
#[track_caller]
fn assert_real_wait(error: &ReedError, table: &str, timeout: Duration, seen: Duration, what: &str) {
    match error {
        ReedError::LockTimeout {
            table: named,
            waited,
            ..
        } => {
            assert_eq!(
                named, table,
                "{what}: LockTimeout should name table {table:?}, named {named:?}"
            );
            assert!(
                *waited >= timeout,
                "{what}: LockTimeout reports {waited:?} waited, less than the {timeout:?} timeout"
            );
            assert!(
                *waited <= seen,
                "{what}: LockTimeout reports {waited:?} waited, but the call took only {seen:?}"
            );
        }
        other => panic!("{what}: expected LockTimeout, got {other:?}"),
    }
}

/// Panics unless `error` is a [`ReedError::LockTimeout`]; `what` names the
/// call that gave it.
#[track_caller]
fn assert_lock_timeout(error: &ReedError, what: &str) {
    assert!(
        error.is_lock_timeout(),
        "{what}: expected LockTimeout, got {error:?}"
    );
}

/// Holds the lock of [`TABLE`] and times `call`, which makes a 300 ms
/// attempt on it and returns the error; checks with [`assert_real_wait`]
/// that it reports the real wait.
fn assert_held_lock_reports_real_wait<B: Backend>(
    backend: &B,
    what: &str,
    call: impl FnOnce(Duration) -> ReedError,
) {
    let timeout = Duration::from_millis(300);
    let _held = ok(backend.acquire_lock(TABLE, LONG), "acquire_lock");
    let start = Instant::now();
    let error = call(timeout);
    let seen = start.elapsed();
    assert_real_wait(&error, TABLE, timeout, seen, what);
}

/// Old `test_acquire_lock_success`: a free lock is taken, shows as locked,
/// and is free again once the guard is dropped.
pub fn acquire_lock_succeeds<B: Backend>(backend: &B) {
    let guard = ok(
        backend.acquire_lock(TABLE, LONG),
        "acquire_lock on a free table",
    );
    assert!(
        ok(backend.is_locked(TABLE), "is_locked"),
        "is_locked should be true while the guard is held"
    );
    drop(guard);
    assert!(
        !ok(backend.is_locked(TABLE), "is_locked"),
        "is_locked should be false after the guard is dropped"
    );
}

/// Old `test_acquire_lock_timeout`: a second acquire with a 500 ms timeout
/// against a held lock fails with `LockTimeout`.
pub fn acquire_lock_times_out_against_held_lock<B: Backend>(backend: &B) {
    let _held = ok(backend.acquire_lock(TABLE, LONG), "first acquire_lock");
    let error = err_of_guard(
        backend.acquire_lock(TABLE, Duration::from_millis(500)),
        "second acquire_lock (500 ms) while held",
    );
    assert_lock_timeout(&error, "second acquire_lock while held");
}

/// Old `test_is_locked_false`: a table nobody locked is not locked.
pub fn is_locked_false_without_lock<B: Backend>(backend: &B) {
    assert!(
        !ok(
            backend.is_locked(TABLE),
            "is_locked on a never locked table"
        ),
        "is_locked should be false when nobody took the lock"
    );
}

/// Old `test_is_locked_true`: a held lock shows as locked.
pub fn is_locked_true_while_held<B: Backend>(backend: &B) {
    let _held = ok(backend.acquire_lock(TABLE, LONG), "acquire_lock");
    assert!(
        ok(backend.is_locked(TABLE), "is_locked"),
        "is_locked should be true while the guard is held"
    );
}

/// Old `test_wait_for_unlock_success`: `wait_for_unlock` returns once
/// another thread drops its guard after 200 ms, and the lock is then free.
pub fn wait_for_unlock_returns_after_release<B: Backend>(backend: &B) {
    let taken = Barrier::new(2);
    thread::scope(|scope| {
        let holder = scope.spawn(|| {
            let guard = ok(backend.acquire_lock(TABLE, LONG), "holder's acquire_lock");
            taken.wait();
            thread::sleep(Duration::from_millis(200));
            drop(guard);
        });
        taken.wait();
        ok(
            backend.wait_for_unlock(TABLE, LONG),
            "wait_for_unlock while another thread holds the lock for 200 ms",
        );
        join(holder);
    });
    assert!(
        !ok(backend.is_locked(TABLE), "is_locked"),
        "is_locked should be false after wait_for_unlock returned"
    );
}

/// Old `test_wait_for_unlock_timeout`: `wait_for_unlock` with a 200 ms
/// timeout on a held lock fails with `LockTimeout`.
pub fn wait_for_unlock_times_out_while_held<B: Backend>(backend: &B) {
    let _held = ok(backend.acquire_lock(TABLE, LONG), "acquire_lock");
    let error = err(
        backend.wait_for_unlock(TABLE, Duration::from_millis(200)),
        "wait_for_unlock (200 ms) while held",
    );
    assert_lock_timeout(&error, "wait_for_unlock while held");
}

/// Old `test_multiple_locks_different_tables`: two tables are locked at
/// once, each independently.
pub fn different_tables_lock_independently<B: Backend>(backend: &B) {
    let _one = ok(backend.acquire_lock("table1", LONG), "acquire_lock table1");
    let _two = ok(
        backend.acquire_lock("table2", Duration::from_millis(100)),
        "acquire_lock table2 while table1 is held",
    );
    assert!(
        ok(backend.is_locked("table1"), "is_locked table1"),
        "table1 should be locked"
    );
    assert!(
        ok(backend.is_locked("table2"), "is_locked table2"),
        "table2 should be locked"
    );
}

/// Old `test_lock_raii_drop`: the lock is released at the end of the scope
/// that holds the guard.
pub fn lock_released_at_end_of_scope<B: Backend>(backend: &B) {
    {
        let _guard = ok(backend.acquire_lock(TABLE, LONG), "acquire_lock");
        assert!(
            ok(backend.is_locked(TABLE), "is_locked inside the scope"),
            "is_locked should be true inside the scope"
        );
    }
    assert!(
        !ok(backend.is_locked(TABLE), "is_locked after the scope"),
        "the lock should be released when its guard goes out of scope"
    );
    let again = ok(
        backend.try_acquire_lock(TABLE),
        "try_acquire_lock after the scope",
    );
    assert!(
        again.is_some(),
        "try_acquire_lock should get the lock after the scope ended"
    );
}

/// Old `test_lock_contention`: another thread's 300 ms acquire times out
/// while this thread holds the lock.
pub fn second_thread_times_out_while_held<B: Backend>(backend: &B) {
    let _held = ok(backend.acquire_lock(TABLE, LONG), "acquire_lock");
    let result = thread::scope(|scope| {
        let contender = scope.spawn(|| {
            backend
                .acquire_lock(TABLE, Duration::from_millis(300))
                .map(drop)
        });
        join(contender)
    });
    let error = err(result, "other thread's acquire_lock (300 ms) while held");
    assert_lock_timeout(&error, "other thread's acquire_lock while held");
}

/// Old `test_is_locked_nonexistent_table`: `is_locked` on a table that does
/// not exist is `false`, not an error.
pub fn is_locked_false_for_unknown_table<B: Backend>(backend: &B) {
    assert!(
        !ok(
            backend.is_locked("nonexistent"),
            "is_locked on an unknown table"
        ),
        "is_locked on an unknown table should be false"
    );
}

/// `try_acquire_lock` gives the lock when free, `None` while it is held,
/// and the lock again once the holder dropped it.
pub fn try_acquire_lock_never_waits<B: Backend>(backend: &B) {
    let first = ok(
        backend.try_acquire_lock(TABLE),
        "try_acquire_lock on a free table",
    );
    assert!(
        first.is_some(),
        "try_acquire_lock on a free table should give the lock"
    );
    let second = ok(
        backend.try_acquire_lock(TABLE),
        "try_acquire_lock while held",
    );
    assert!(
        second.is_none(),
        "try_acquire_lock while held should give None"
    );
    drop(first);
    let third = ok(
        backend.try_acquire_lock(TABLE),
        "try_acquire_lock after release",
    );
    assert!(
        third.is_some(),
        "try_acquire_lock after the holder dropped its guard should give the lock"
    );
}

/// A zero timeout means "try once": `acquire_lock` takes a free lock and
/// `wait_for_unlock` returns for a free one (as the old module, which tried
/// before looking at the clock), and both time out at once on a held lock.
pub fn zero_timeout_tries_once<B: Backend>(backend: &B) {
    ok(
        backend.wait_for_unlock(TABLE, Duration::ZERO),
        "wait_for_unlock (zero timeout) on a free table",
    );
    let held = ok(
        backend.acquire_lock(TABLE, Duration::ZERO),
        "acquire_lock (zero timeout) on a free table",
    );
    let error = err_of_guard(
        backend.acquire_lock(TABLE, Duration::ZERO),
        "acquire_lock (zero timeout) while held",
    );
    assert_lock_timeout(&error, "acquire_lock (zero timeout) while held");
    let error = err(
        backend.wait_for_unlock(TABLE, Duration::ZERO),
        "wait_for_unlock (zero timeout) while held",
    );
    assert_lock_timeout(&error, "wait_for_unlock (zero timeout) while held");
    drop(held);
}

/// `acquire_lock` against a held lock fails after a 300 ms timeout with
/// `LockTimeout` naming the table and the real wait (at least 300 ms).
pub fn acquire_lock_timeout_reports_real_wait<B: Backend>(backend: &B) {
    let what = "acquire_lock (300 ms) while held";
    assert_held_lock_reports_real_wait(backend, what, |timeout| {
        err_of_guard(backend.acquire_lock(TABLE, timeout), what)
    });
}

/// `wait_for_unlock` on a held lock fails after a 300 ms timeout with
/// `LockTimeout` naming the table and the real wait (at least 300 ms).
pub fn wait_for_unlock_timeout_reports_real_wait<B: Backend>(backend: &B) {
    let what = "wait_for_unlock (300 ms) while held";
    assert_held_lock_reports_real_wait(backend, what, |timeout| {
        err(backend.wait_for_unlock(TABLE, timeout), what)
    });
}
