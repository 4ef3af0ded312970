// SPDX-License-Identifier: Apache-2.0
//! Cases for the lock across threads: mutual exclusion, and prompt wake-up
//! of a waiter when the holder releases.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedError;

use crate::Backend;
use crate::samples::{LONG, join};

const TABLE: &str = "test_table";
/// Mutual exclusion across threads: four threads each take the lock 100
/// times; inside, an "inside" flag must be clear, and a non-atomic
/// read-modify-write of a shared counter (with a yield in between) must not
/// lose an update.
pub fn lock_excludes_other_threads<B: Backend>(backend: &B) {
    const THREADS: usize = 4;
    const ITERATIONS: usize = 100;
    let inside = AtomicBool::new(false);
    let counter = AtomicUsize::new(0);
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        let workers: Vec<_> = (0..THREADS)
            .map(|worker| {
                let (inside, counter, start) = (&inside, &counter, &start);
                scope.spawn(move || {
                    start.wait();
                    for n in 0..ITERATIONS {
                        let guard = backend.acquire_lock(TABLE, LONG).unwrap_or_else(|e| panic!("thread {worker}, iteration {n}: acquire_lock: {e}"));
                        assert!(
                            !inside.swap(true, Ordering::SeqCst),
                            "thread {worker}, iteration {n}: took the lock while another thread held it"
                        );
                        let value = counter.load(Ordering::SeqCst);
                        thread::yield_now();
                        counter.store(value + 1, Ordering::SeqCst);
                        inside.store(false, Ordering::SeqCst);
                        drop(guard);
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(join);
    });
    assert_eq!(
        counter.load(Ordering::SeqCst),
        THREADS * ITERATIONS,
        "updates were lost under the lock"
    );
}

/// The shortest of three release-to-wake delays: in each round a waiter
/// thread starts `wait` on the held lock, the holder releases about 10 ms
/// later, and the delay runs from just before the release to the moment
/// `wait` returned.
fn fastest_wake<B: Backend>(
    backend: &B,
    what: &str,
    wait: impl Fn(&B) -> Result<(), ReedError> + Sync,
) -> Duration {
    let mut delays = Vec::new();
    for round in 0..3 {
        let guard = backend
            .acquire_lock(TABLE, LONG)
            .expect("holder's acquire_lock");
        let started = Barrier::new(2);
        let delay = thread::scope(|scope| {
            let waiter = scope.spawn(|| {
                started.wait();
                let result = wait(backend);
                let woke = Instant::now();
                result.unwrap_or_else(|e| panic!("round {round}: {what} while held: {e}"));
                woke
            });
            started.wait();
            thread::sleep(Duration::from_millis(10));
            let released = Instant::now();
            drop(guard);
            join(waiter).saturating_duration_since(released)
        });
        delays.push(delay);
    }
    delays.into_iter().min().unwrap_or_default()
}

/// A thread waiting in `acquire_lock` (5 s timeout) gets the lock promptly
/// when the holder releases it, about 10 ms after the waiter started: over
/// three rounds the shortest delay is under 40 ms (a backend polling every
/// 100 ms takes about 90 ms every round).
pub fn acquire_lock_wakes_promptly<B: Backend>(backend: &B) {
    let what = "acquire_lock (5 s)";
    let fastest = fastest_wake(backend, what, |backend| {
        backend.acquire_lock(TABLE, LONG).map(drop)
    });
    assert!(
        fastest < Duration::from_millis(40),
        "{what}: the waiter got the lock {fastest:?} after the release at best of 3 rounds, \
         expected under 40 ms"
    );
}

/// As [`acquire_lock_wakes_promptly`], for `wait_for_unlock`.
pub fn wait_for_unlock_wakes_promptly<B: Backend>(backend: &B) {
    let what = "wait_for_unlock (5 s)";
    let fastest = fastest_wake(backend, what, |backend| {
        backend.wait_for_unlock(TABLE, LONG)
    });
    assert!(
        fastest < Duration::from_millis(40),
        "{what}: the waiter returned {fastest:?} after the release at best of 3 rounds, \
         expected under 40 ms"
    );
}
