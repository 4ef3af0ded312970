// SPDX-License-Identifier: Apache-2.0
//! Criterion benchmarks of the fs table lock, with the old module
//! (`reedbase-last`) measured in the same run beside it.
//!
//! ```text
//! cargo bench -p reedbase-concurrent-fs --bench lock
//! cargo bench -p reedbase-concurrent-fs --bench lock -- 'is_locked'
//! ```
//!
//! Each group holds one operation, with `fs` and `last` side by side:
//!
//! - `acquire_release`: acquire and drop, uncontended, lock file present;
//! - `acquire_release_new_table`: the first acquire of a table, which
//!   creates its directories;
//! - `try_acquire_release`: one non-blocking attempt and drop (the old
//!   module has no `try_acquire_lock`; its nearest is `acquire_lock` with a
//!   zero timeout, one attempt);
//! - `is_locked_file_exists`, `is_locked_file_absent`;
//! - `lock_holder` (fs only): the diagnostics call, lock held and free.
//!
//! Hand-off latency between processes and the waiter's CPU time are not
//! measured here (see `cargo xtask bench`). Every result is checked, so an
//! error cannot pass for a fast success.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::fmt::Debug;
use std::hint::black_box;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use reedbase_concurrent_fs::lock::{lock_holder, try_acquire_lock};
use reedbase_concurrent_fs::{acquire_lock, is_locked};
use reedbase_last::concurrent as last;

const TABLE: &str = "users";
const TIMEOUT: Duration = Duration::from_secs(1);

fn must<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what} failed: {error:?}"),
    }
}

/// A temporary base directory in which `TABLE` has been locked once, so
/// that its lock file exists.
fn base_with_lock_file() -> tempfile::TempDir {
    let dir = must(tempfile::tempdir(), "tempdir");
    drop(must(
        acquire_lock(dir.path(), TABLE, TIMEOUT),
        "first acquire",
    ));
    dir
}

fn acquire_release(c: &mut Criterion) {
    let dir = base_with_lock_file();
    let base = dir.path();
    let mut group = c.benchmark_group("acquire_release");
    group.bench_function("fs", |b| {
        b.iter(|| {
            drop(must(
                acquire_lock(black_box(base), TABLE, TIMEOUT),
                "fs acquire",
            ))
        });
    });
    group.bench_function("last", |b| {
        b.iter(|| {
            drop(must(
                last::acquire_lock(black_box(base), TABLE, TIMEOUT),
                "last acquire",
            ))
        });
    });
    group.finish();
}

fn acquire_release_new_table(c: &mut Criterion) {
    let dir = must(tempfile::tempdir(), "tempdir");
    let base = dir.path();
    let counter = AtomicUsize::new(0);
    let fresh_name = || format!("t{}", counter.fetch_add(1, Ordering::Relaxed));
    let mut group = c.benchmark_group("acquire_release_new_table");
    group.bench_function("fs", |b| {
        b.iter_batched(
            fresh_name,
            |name| drop(must(acquire_lock(base, &name, TIMEOUT), "fs acquire")),
            BatchSize::SmallInput,
        );
    });
    group.bench_function("last", |b| {
        b.iter_batched(
            fresh_name,
            |name| {
                drop(must(
                    last::acquire_lock(base, &name, TIMEOUT),
                    "last acquire",
                ))
            },
            BatchSize::SmallInput,
        );
    });
    group.finish();
}

fn try_acquire_release(c: &mut Criterion) {
    let dir = base_with_lock_file();
    let base = dir.path();
    let mut group = c.benchmark_group("try_acquire_release");
    group.bench_function("fs", |b| {
        b.iter(|| {
            let guard = must(try_acquire_lock(black_box(base), TABLE), "fs try_acquire");
            assert!(guard.is_some(), "the lock is free");
        });
    });
    group.bench_function("last_zero_timeout", |b| {
        b.iter(|| {
            let guard = last::acquire_lock(black_box(base), TABLE, Duration::ZERO);
            drop(must(guard, "last acquire"));
        });
    });
    group.finish();
}

fn is_locked_file(c: &mut Criterion, group_name: &str, base: &Path) {
    let mut group = c.benchmark_group(group_name);
    group.bench_function("fs", |b| {
        b.iter(|| assert!(!must(is_locked(black_box(base), TABLE), "fs is_locked")));
    });
    group.bench_function("last", |b| {
        b.iter(|| {
            assert!(!must(
                last::is_locked(black_box(base), TABLE),
                "last is_locked"
            ))
        });
    });
    group.finish();
}

fn is_locked_exists_and_absent(c: &mut Criterion) {
    let with_file = base_with_lock_file();
    is_locked_file(c, "is_locked_file_exists", with_file.path());
    let without_file = must(tempfile::tempdir(), "tempdir");
    is_locked_file(c, "is_locked_file_absent", without_file.path());
}

fn lock_holder_held_and_free(c: &mut Criterion) {
    let dir = base_with_lock_file();
    let base = dir.path();
    let mut group = c.benchmark_group("lock_holder");
    group.bench_function("fs_free", |b| {
        b.iter(|| assert!(must(lock_holder(black_box(base), TABLE), "lock_holder").is_none()));
    });
    let _guard = must(acquire_lock(base, TABLE, TIMEOUT), "acquire");
    group.bench_function("fs_held", |b| {
        b.iter(|| assert!(must(lock_holder(black_box(base), TABLE), "lock_holder").is_some()));
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .sample_size(50)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    targets = acquire_release, acquire_release_new_table, try_acquire_release,
        is_locked_exists_and_absent, lock_holder_held_and_free
}
criterion_main!(benches);
