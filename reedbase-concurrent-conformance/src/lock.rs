// SPDX-License-Identifier: Apache-2.0
//! Cases for [`LockBackend`](reedbase_concurrent_core::LockBackend): the old module's ten lock
//! tests, written against the trait, and the new contracts (never-waiting
//! `try_acquire_lock`, RAII release, timeouts that report the real wait,
//! who holds a lock).

use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedError;

use crate::Backend;
use crate::samples::{LONG, join};

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
            assert_eq!(named, table, "{what}: LockTimeout names the wrong table");
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

/// Panics unless `result` is a [`ReedError::LockTimeout`]; `what` names the
/// call that gave it.
#[track_caller]
fn assert_lock_timeout<T>(result: Result<T, ReedError>, what: &str) {
    match result {
        Err(error) if error.is_lock_timeout() => {}
        Err(other) => panic!("{what}: expected LockTimeout, got {other:?}"),
        Ok(_) => panic!("{what}: expected LockTimeout, got Ok"),
    }
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
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let start = Instant::now();
    let error = call(timeout);
    let seen = start.elapsed();
    assert_real_wait(&error, TABLE, timeout, seen, what);
}

/// Old `test_acquire_lock_success`: a free lock is taken, shows as locked,
/// and is free again once the guard is dropped.
pub fn acquire_lock_succeeds<B: Backend>(backend: &B) {
    let guard = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    assert!(
        backend.is_locked(TABLE).expect("is_locked"),
        "locked while held"
    );
    drop(guard);
    assert!(
        !backend.is_locked(TABLE).expect("is_locked"),
        "free after the drop"
    );
}

/// Old `test_acquire_lock_timeout`: a second acquire with a 500 ms timeout
/// against a held lock fails with `LockTimeout`.
pub fn acquire_lock_times_out_against_held_lock<B: Backend>(backend: &B) {
    let _held = backend
        .acquire_lock(TABLE, LONG)
        .expect("first acquire_lock");
    assert_lock_timeout(
        backend.acquire_lock(TABLE, Duration::from_millis(500)),
        "second acquire_lock (500 ms) while held",
    );
}

/// Old `test_is_locked_false`: a table nobody locked is not locked.
pub fn is_locked_false_without_lock<B: Backend>(backend: &B) {
    assert!(
        !backend.is_locked(TABLE).expect("is_locked"),
        "nobody took the lock"
    );
}

/// Old `test_is_locked_true`: a held lock shows as locked.
pub fn is_locked_true_while_held<B: Backend>(backend: &B) {
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    assert!(
        backend.is_locked(TABLE).expect("is_locked"),
        "locked while held"
    );
}

/// Old `test_wait_for_unlock_success`: `wait_for_unlock` returns once
/// another thread drops its guard after 200 ms, and the lock is then free.
pub fn wait_for_unlock_returns_after_release<B: Backend>(backend: &B) {
    let taken = Barrier::new(2);
    thread::scope(|scope| {
        let holder = scope.spawn(|| {
            let guard = backend
                .acquire_lock(TABLE, LONG)
                .expect("holder's acquire_lock");
            taken.wait();
            thread::sleep(Duration::from_millis(200));
            drop(guard);
        });
        taken.wait();
        backend
            .wait_for_unlock(TABLE, LONG)
            .expect("wait_for_unlock while another thread holds the lock for 200 ms");
        join(holder);
    });
    assert!(
        !backend.is_locked(TABLE).expect("is_locked"),
        "free after wait_for_unlock returned"
    );
}

/// Old `test_wait_for_unlock_timeout`: `wait_for_unlock` with a 200 ms
/// timeout on a held lock fails with `LockTimeout`.
pub fn wait_for_unlock_times_out_while_held<B: Backend>(backend: &B) {
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    assert_lock_timeout(
        backend.wait_for_unlock(TABLE, Duration::from_millis(200)),
        "wait_for_unlock (200 ms) while held",
    );
}

/// Old `test_multiple_locks_different_tables`: two tables are locked at
/// once, each independently.
pub fn different_tables_lock_independently<B: Backend>(backend: &B) {
    let _one = backend
        .acquire_lock("table1", LONG)
        .expect("acquire_lock table1");
    let _two = backend
        .acquire_lock("table2", Duration::from_millis(100))
        .expect("acquire_lock table2 while table1 is held");
    assert!(
        backend.is_locked("table1").expect("is_locked"),
        "table1 locked"
    );
    assert!(
        backend.is_locked("table2").expect("is_locked"),
        "table2 locked"
    );
}

/// Old `test_lock_raii_drop`: the lock is released at the end of the scope
/// that holds the guard.
pub fn lock_released_at_end_of_scope<B: Backend>(backend: &B) {
    {
        let _guard = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
        assert!(
            backend.is_locked(TABLE).expect("is_locked"),
            "locked in the scope"
        );
    }
    assert!(
        !backend.is_locked(TABLE).expect("is_locked"),
        "free after the scope"
    );
    let again = backend.try_acquire_lock(TABLE).expect("try_acquire_lock");
    assert!(
        again.is_some(),
        "try_acquire_lock after the scope gets the lock"
    );
}

/// Old `test_lock_contention`: another thread's 300 ms acquire times out
/// while this thread holds the lock.
pub fn second_thread_times_out_while_held<B: Backend>(backend: &B) {
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let result = thread::scope(|scope| {
        join(scope.spawn(|| {
            backend
                .acquire_lock(TABLE, Duration::from_millis(300))
                .map(drop)
        }))
    });
    assert_lock_timeout(result, "other thread's acquire_lock (300 ms) while held");
}

/// Old `test_is_locked_nonexistent_table`: `is_locked` on a table that does
/// not exist is `false`, not an error.
pub fn is_locked_false_for_unknown_table<B: Backend>(backend: &B) {
    let locked = backend
        .is_locked("nonexistent")
        .expect("is_locked on an unknown table");
    assert!(!locked, "an unknown table is not locked");
}

/// `try_acquire_lock` gives the lock when free, `None` while it is held,
/// and the lock again once the holder dropped it.
pub fn try_acquire_lock_never_waits<B: Backend>(backend: &B) {
    let first = backend
        .try_acquire_lock(TABLE)
        .expect("try_acquire_lock, free");
    assert!(
        first.is_some(),
        "try_acquire_lock on a free table gives the lock"
    );
    let second = backend
        .try_acquire_lock(TABLE)
        .expect("try_acquire_lock, held");
    assert!(second.is_none(), "try_acquire_lock while held gives None");
    drop(first);
    let third = backend
        .try_acquire_lock(TABLE)
        .expect("try_acquire_lock, released");
    assert!(
        third.is_some(),
        "try_acquire_lock after the release gives the lock"
    );
}

/// `try_acquire_lock_for` gives a free lock, waits out its timeout on a
/// held one and then returns `None` (not an error), takes the lock once the
/// holder dropped it (bad names: `bad_table_names_are_rejected`).
pub fn try_acquire_lock_for_returns_none_on_timeout<B: Backend>(backend: &B) {
    let timeout = Duration::from_millis(30);
    let first = backend
        .try_acquire_lock_for(TABLE, timeout)
        .expect("try_acquire_lock_for, free");
    assert!(first.is_some(), "a free table gives the lock");
    let started = Instant::now();
    let second = backend
        .try_acquire_lock_for(TABLE, timeout)
        .expect("try_acquire_lock_for, held");
    let waited = started.elapsed();
    assert!(second.is_none(), "a held lock gives None after the timeout");
    assert!(
        waited >= timeout,
        "waited {waited:?}, less than {timeout:?}"
    );
    drop(first);
    let third = backend
        .try_acquire_lock_for(TABLE, timeout)
        .expect("try_acquire_lock_for, released");
    assert!(third.is_some(), "the lock again after the release");
}

/// A zero timeout means "try once": `acquire_lock` takes a free lock and
/// `wait_for_unlock` returns for a free one (as the old module, which tried
/// before looking at the clock), and both time out at once on a held lock.
pub fn zero_timeout_tries_once<B: Backend>(backend: &B) {
    backend
        .wait_for_unlock(TABLE, Duration::ZERO)
        .expect("wait_for_unlock (zero timeout) on a free table");
    let held = backend
        .acquire_lock(TABLE, Duration::ZERO)
        .expect("acquire_lock (zero timeout) on a free table");
    assert_lock_timeout(
        backend.acquire_lock(TABLE, Duration::ZERO),
        "acquire_lock (zero timeout) while held",
    );
    assert_lock_timeout(
        backend.wait_for_unlock(TABLE, Duration::ZERO),
        "wait_for_unlock (zero timeout) while held",
    );
    drop(held);
}

/// `acquire_lock` against a held lock fails after a 300 ms timeout with
/// `LockTimeout` naming the table and the real wait (at least 300 ms).
pub fn acquire_lock_timeout_reports_real_wait<B: Backend>(backend: &B) {
    let what = "acquire_lock (300 ms) while held";
    assert_held_lock_reports_real_wait(backend, what, |timeout| {
        backend
            .acquire_lock(TABLE, timeout)
            .map(drop)
            .expect_err(what)
    });
}

/// `wait_for_unlock` on a held lock fails after a 300 ms timeout with
/// `LockTimeout` naming the table and the real wait (at least 300 ms).
pub fn wait_for_unlock_timeout_reports_real_wait<B: Backend>(backend: &B) {
    let what = "wait_for_unlock (300 ms) while held";
    assert_held_lock_reports_real_wait(backend, what, |timeout| {
        backend.wait_for_unlock(TABLE, timeout).expect_err(what)
    });
}

/// `lock_holder` is `None` for a free table (never locked, or released) and
/// `Some` while the lock is held, here or by another thread; it creates
/// nothing, so a table that was only asked about stays unknown.
pub fn lock_holder_tells_held_from_free<B: Backend>(backend: &B) {
    let holder = backend
        .lock_holder(TABLE)
        .expect("lock_holder, never locked");
    assert_eq!(holder, None, "a never locked table has no holder");
    let guard = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let holder = backend.lock_holder(TABLE).expect("lock_holder, held");
    assert!(
        holder.is_some(),
        "a held lock has a holder (perhaps unknown)"
    );
    let from_thread = thread::scope(|scope| join(scope.spawn(|| backend.lock_holder(TABLE))));
    assert!(
        from_thread
            .expect("lock_holder from another thread")
            .is_some(),
        "another thread sees the holder too"
    );
    drop(guard);
    let holder = backend.lock_holder(TABLE).expect("lock_holder, released");
    assert_eq!(holder, None, "a released lock has no holder");
    let other = backend
        .lock_holder("asked_only")
        .expect("lock_holder, unknown table");
    assert_eq!(other, None, "an unknown table has no holder");
    assert!(
        backend
            .tables_with_pending()
            .expect("tables_with_pending")
            .is_empty(),
        "asking about holders queues nothing"
    );
}
