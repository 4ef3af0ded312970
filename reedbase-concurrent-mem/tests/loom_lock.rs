// SPDX-License-Identifier: Apache-2.0
//! Loom models of the mem backend's lock: mutual exclusion, and no lost
//! wake-up in `acquire_lock` and `wait_for_unlock`.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release -p reedbase-concurrent-mem --test loom_lock
//! ```
//!
//! Loom does not model time: under `cfg(loom)` a non-zero timeout never
//! expires (see the backend's `sync` module), so a waiter that a release
//! fails to wake blocks for ever and loom reports the model as deadlocked.
//! The two wake-up models explore every interleaving; the three-thread
//! exclusion model is bounded to four preemptions (see [`check`]).
//! Without `--cfg loom` this file compiles to nothing.
#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use loom::sync::Arc;
use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use loom::thread;
use reedbase_concurrent_core::LockBackend;
use reedbase_concurrent_mem::MemBackend;

const TABLE: &str = "users";
/// Never expires under loom; any non-zero timeout would do.
const LONG: Duration = Duration::from_secs(3600);

/// Runs `model` under loom with at most `bound` preemptions per execution
/// (`None`: every interleaving), unless `LOOM_MAX_PREEMPTIONS` is set. Three
/// threads, each taking two mutexes per call, explore for many minutes
/// without a bound; a bound of 4 still covers every schedule with up to four
/// forced switches.
fn check(bound: Option<usize>, model: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    if builder.preemption_bound.is_none() {
        builder.preemption_bound = bound;
    }
    builder.check(model);
}

/// What the critical section touches: a flag that must be clear on entry,
/// and a counter updated with relaxed loads and stores, which comes out
/// right only if the lock orders the sections one after another.
#[derive(Default)]
struct Section {
    inside: AtomicBool,
    entries: AtomicUsize,
}

impl Section {
    fn enter(&self) {
        assert!(
            !self.inside.swap(true, Ordering::Relaxed),
            "two holders inside the critical section at once"
        );
        let entries = self.entries.load(Ordering::Relaxed);
        self.entries.store(entries + 1, Ordering::Relaxed);
        self.inside.store(false, Ordering::Relaxed);
    }
}

#[test]
fn acquire_lock_excludes_across_three_threads() {
    check(Some(4), || {
        let backend = MemBackend::new();
        let section = Arc::new(Section::default());
        let others: Vec<_> = (0..2)
            .map(|_| {
                let (backend, section) = (backend.clone(), Arc::clone(&section));
                thread::spawn(move || {
                    let guard = backend.acquire_lock(TABLE, LONG).unwrap();
                    section.enter();
                    drop(guard);
                })
            })
            .collect();
        let guard = backend.acquire_lock(TABLE, LONG).unwrap();
        section.enter();
        drop(guard);
        for other in others {
            other.join().unwrap();
        }
        assert_eq!(section.entries.load(Ordering::Relaxed), 3);
        assert!(!backend.is_locked(TABLE).unwrap());
    });
}

#[test]
fn try_acquire_lock_and_acquire_lock_exclude_each_other() {
    check(None, || {
        let backend = MemBackend::new();
        let section = Arc::new(Section::default());
        let (other_backend, other_section) = (backend.clone(), Arc::clone(&section));
        let trier = thread::spawn(
            move || match other_backend.try_acquire_lock(TABLE).unwrap() {
                Some(guard) => {
                    other_section.enter();
                    drop(guard);
                    1
                }
                None => 0,
            },
        );
        let guard = backend.acquire_lock(TABLE, LONG).unwrap();
        section.enter();
        // A zero timeout gives up at once on a held lock.
        assert!(
            backend
                .acquire_lock(TABLE, Duration::ZERO)
                .unwrap_err()
                .is_lock_timeout()
        );
        drop(guard);
        let tried = trier.join().unwrap();
        assert_eq!(section.entries.load(Ordering::Relaxed), 1 + tried);
    });
}

#[test]
fn release_wakes_an_acquirer_and_an_unlock_waiter() {
    check(None, || {
        let backend = MemBackend::new();
        let guard = backend.acquire_lock(TABLE, LONG).unwrap();
        let acquirer_backend = backend.clone();
        let acquirer = thread::spawn(move || acquirer_backend.acquire_lock(TABLE, LONG).map(drop));
        let unlock_backend = backend.clone();
        let unlock_waiter = thread::spawn(move || unlock_backend.wait_for_unlock(TABLE, LONG));
        drop(guard);
        acquirer.join().unwrap().unwrap();
        unlock_waiter.join().unwrap().unwrap();
        assert!(!backend.is_locked(TABLE).unwrap());
    });
}

#[test]
fn each_release_hands_the_lock_on_to_a_waiting_acquirer() {
    check(None, || {
        let backend = MemBackend::new();
        let guard = backend.acquire_lock(TABLE, LONG).unwrap();
        let acquirers: Vec<_> = (0..2)
            .map(|_| {
                let backend = backend.clone();
                thread::spawn(move || backend.acquire_lock(TABLE, LONG).map(drop))
            })
            .collect();
        drop(guard);
        for acquirer in acquirers {
            acquirer.join().unwrap().unwrap();
        }
    });
}
