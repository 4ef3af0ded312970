// SPDX-License-Identifier: Apache-2.0
//! Cases that need several threads: mutual exclusion, prompt wake-up of
//! waiters, and readers racing writers. Capacity under concurrent producers
//! has its own file.

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use super::Backend;
use super::samples::{LONG, SetOnDrop, join};
use crate::error::ReedError;
use crate::types::{CsvRow, PendingWrite, WriteOperation};

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

const RACING_ROWS: usize = 100;

/// Entry `n` of the racing cases: 100 rows, fully determined by `n`.
fn racing_write(n: usize) -> PendingWrite {
    let payload = format!("entry {n} ").repeat(12);
    let rows = (0..RACING_ROWS)
        .map(|row| {
            CsvRow::new(
                format!("entry-{n}-row-{row:03}"),
                vec![n.to_string(), payload.clone()],
            )
        })
        .collect();
    PendingWrite {
        rows,
        timestamp: 1_700_000_000_000_000_000 + n as u128,
        operation: WriteOperation::Insert,
    }
}

/// The entry number of `write` if it is exactly one of `written`; panics
/// naming what is wrong with it otherwise.
#[track_caller]
fn whole_racing_entry(write: &PendingWrite, written: &[PendingWrite], what: &str) -> usize {
    let n = write
        .rows
        .first()
        .and_then(|row| row.values.first())
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|n| *n < written.len())
        .unwrap_or_else(|| {
            panic!(
                "{what}: entry with {} rows is not one that was written",
                write.rows.len()
            )
        });
    assert_eq!(
        write.rows.len(),
        RACING_ROWS,
        "{what}: entry {n} has {} rows",
        write.rows.len()
    );
    assert!(
        *write == written[n],
        "{what}: entry {n} differs from what was written"
    );
    n
}

/// Races one writer against `reader`: a thread queues `min(capacity, 60)`
/// entries of [`racing_write`] and sets the flag it hands the reader once it
/// is done (or failed), while `reader` runs in another thread with the
/// entries written; returns them and what the reader returned.
fn race_writer<B: Backend, R: Send>(
    backend: &B,
    reader: impl FnOnce(&[PendingWrite], &AtomicBool) -> R + Send,
) -> (Vec<PendingWrite>, R) {
    let count = backend.capacity().min(60);
    let written: Vec<PendingWrite> = (0..count).map(racing_write).collect();
    let done = AtomicBool::new(false);
    let result = thread::scope(|scope| {
        scope.spawn(|| {
            let _done = SetOnDrop(&done);
            for (n, write) in written.iter().enumerate() {
                backend
                    .queue_write(TABLE, write)
                    .unwrap_or_else(|e| panic!("queue_write {n}: {e}"));
            }
        });
        let reader = scope.spawn(|| reader(&written, &done));
        join(reader)
    });
    (written, result)
}

/// A reader racing a writer never sees a partial entry: while one thread
/// queues `min(capacity, 60)` entries of 100 rows, another calls
/// `get_next_pending` in a loop; every call is `Ok`, and every entry it sees
/// is the first one written, whole.
pub fn reader_racing_writer_sees_whole_entries<B: Backend>(backend: &B) {
    let (written, seen) = race_writer(backend, |written, done| {
        let mut seen = 0;
        loop {
            let finished = done.load(Ordering::SeqCst);
            let got = backend
                .get_next_pending(TABLE)
                .expect("get_next_pending racing the writer");
            if let Some((_, write)) = got {
                let n = whole_racing_entry(&write, written, "get_next_pending racing the writer");
                assert_eq!(
                    n, 0,
                    "get_next_pending returned entry {n}, not the oldest (0)"
                );
                seen += 1;
            }
            if finished {
                return seen;
            }
            // Let the writer in: a reader that takes the backend's lock
            // back at once can starve it on a small machine.
            thread::yield_now();
        }
    });
    assert!(
        seen > 0,
        "the reader never saw an entry, even after the writer finished"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        written.len(),
        "count after the race"
    );
}

/// As [`reader_racing_writer_sees_whole_entries`], but the reader also
/// removes each entry it sees, so that it reads every entry as soon as it
/// appears: every entry is whole, each is seen once, in the order written.
pub fn reader_draining_while_writer_queues_sees_whole_entries<B: Backend>(backend: &B) {
    let (written, order) = race_writer(backend, |written, done| {
        let mut order = Vec::new();
        loop {
            let finished = done.load(Ordering::SeqCst);
            match backend
                .get_next_pending(TABLE)
                .expect("get_next_pending racing the writer")
            {
                Some((id, write)) => {
                    order.push(whole_racing_entry(
                        &write,
                        written,
                        "get_next_pending racing the writer",
                    ));
                    backend
                        .remove_from_queue(TABLE, &id)
                        .expect("remove_from_queue racing the writer");
                    thread::yield_now();
                }
                None if finished => return order,
                None => thread::yield_now(),
            }
        }
    });
    let expected: Vec<usize> = (0..written.len()).collect();
    assert_eq!(
        order, expected,
        "entries seen by the draining reader, in order"
    );
}
