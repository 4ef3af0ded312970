// SPDX-License-Identifier: Apache-2.0
//! Loom models of the mem backend's queue: capacity is never exceeded, and
//! exactly `capacity` of several concurrent writes are accepted.
//!
//! ```text
//! RUSTFLAGS="--cfg loom" cargo test --release -p reedbase-concurrent-mem --test loom_queue
//! ```
//!
//! Both models run three threads and are bounded to four preemptions (see
//! [`check`]). Without `--cfg loom` this file compiles to nothing.
#![cfg(loom)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use loom::thread;
use reedbase_concurrent_core::{
    CsvRow, PendingWrite, QueueBackend, ReedError, ReedResult, WriteOperation,
};
use reedbase_concurrent_mem::MemBackend;

const TABLE: &str = "users";

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

fn write(key: &str) -> PendingWrite {
    PendingWrite {
        rows: vec![CsvRow::new(key, vec!["v"])],
        timestamp: 0,
        operation: WriteOperation::Insert,
    }
}

/// Writes once and checks, from the producer's side, that the queue never
/// holds more than its capacity.
fn produce(backend: &MemBackend, key: &str) -> ReedResult<String> {
    let result = backend.queue_write(TABLE, &write(key));
    assert!(backend.count_pending(TABLE).unwrap() <= backend.capacity());
    result
}

#[test]
fn exactly_capacity_of_three_concurrent_writes_succeed() {
    check(Some(4), || {
        let backend = MemBackend::with_capacity(2);
        let producers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|key| {
                let backend = backend.clone();
                thread::spawn(move || produce(&backend, key))
            })
            .collect();
        let mut results = vec![produce(&backend, "c")];
        results.extend(producers.into_iter().map(|p| p.join().unwrap()));

        let ids: HashSet<_> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        let refused: Vec<_> = results.iter().filter_map(|r| r.as_ref().err()).collect();
        assert_eq!(
            ids.len(),
            2,
            "exactly capacity writes accepted, with unique ids"
        );
        assert_eq!(
            refused,
            [&ReedError::QueueFull {
                table: TABLE.to_string(),
                size: 2
            }]
        );
        assert_eq!(backend.count_pending(TABLE).unwrap(), 2);
    });
}

#[test]
fn capacity_one_holds_with_two_producers_and_a_consumer() {
    check(Some(4), || {
        let backend = MemBackend::with_capacity(1);
        let producers: Vec<_> = ["a", "b"]
            .into_iter()
            .map(|key| {
                let backend = backend.clone();
                thread::spawn(move || produce(&backend, key).is_ok())
            })
            .collect();
        // The consumer: take the head, if any, the way a lock holder drains.
        let removed = match backend.get_next_pending(TABLE).unwrap() {
            Some((id, _)) => {
                backend.remove_from_queue(TABLE, &id).unwrap();
                1
            }
            None => 0,
        };
        let accepted = producers
            .into_iter()
            .map(|p| usize::from(p.join().unwrap()))
            .sum::<usize>();
        let pending = backend.count_pending(TABLE).unwrap();
        assert!(pending <= 1);
        assert_eq!(accepted, removed + pending);
        assert!(
            accepted >= 1,
            "an empty queue of capacity 1 accepts a write"
        );
    });
}
