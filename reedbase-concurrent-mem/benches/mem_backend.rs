// SPDX-License-Identifier: Apache-2.0
//! Criterion benchmarks of the in-memory backend's hot paths.
//!
//! ```text
//! cargo bench -p reedbase-concurrent-mem --bench mem_backend
//! cargo bench -p reedbase-concurrent-mem --bench mem_backend -- --warm-up-time 1 --measurement-time 3
//! ```
//!
//! The design's target for `acquire_lock + drop` is under 1 microsecond.
//! Every case runs on a table whose slot already exists (the steady state of
//! a running process); each iteration checks its result, so an error cannot
//! pass for a fast success.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use reedbase_concurrent_core::{
    CsvRow, LockBackend, PendingWrite, QueueBackend, ReedResult, WriteOperation,
};
use reedbase_concurrent_mem::MemBackend;

const TABLE: &str = "users";
const TIMEOUT: Duration = Duration::from_secs(1);

/// A backend with the benchmark table's slot already created.
fn warm_backend() -> MemBackend {
    let backend = MemBackend::new();
    match backend.is_locked(TABLE) {
        Ok(false) => backend,
        other => panic!("a fresh backend should report {TABLE} unlocked, got {other:?}"),
    }
}

fn bench_locks(c: &mut Criterion) {
    let backend = warm_backend();
    c.bench_function("acquire_lock + drop", |b| {
        b.iter(|| match backend.acquire_lock(black_box(TABLE), TIMEOUT) {
            Ok(guard) => drop(guard),
            Err(error) => panic!("acquire_lock failed: {error}"),
        })
    });
    c.bench_function("try_acquire_lock + drop", |b| {
        b.iter(|| match backend.try_acquire_lock(black_box(TABLE)) {
            Ok(Some(guard)) => drop(guard),
            other => panic!("try_acquire_lock should succeed, got {other:?}"),
        })
    });
    c.bench_function("is_locked", |b| {
        b.iter(|| match backend.is_locked(black_box(TABLE)) {
            Ok(locked) => black_box(locked),
            Err(error) => panic!("is_locked failed: {error}"),
        })
    });
}

/// One trip of a 1-row write through the queue: in, peek, out.
fn queue_cycle(backend: &MemBackend, write: &PendingWrite) -> ReedResult<()> {
    let id = backend.queue_write(black_box(TABLE), black_box(write))?;
    match backend.get_next_pending(TABLE)? {
        Some((next_id, next)) if next_id == id => {
            black_box(next);
        }
        other => panic!("expected entry {id} at the head, got {other:?}"),
    }
    backend.remove_from_queue(TABLE, &id)
}

fn bench_queue(c: &mut Criterion) {
    let backend = warm_backend();
    let write = PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new("user:1", vec!["Alice", "alice@example.com"])],
    );
    c.bench_function("queue_write + get_next_pending + remove_from_queue", |b| {
        b.iter(|| {
            if let Err(error) = queue_cycle(&backend, &write) {
                panic!("queue cycle failed: {error}");
            }
        })
    });
}

criterion_group!(benches, bench_locks, bench_queue);
criterion_main!(benches);
