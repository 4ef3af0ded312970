// SPDX-License-Identifier: Apache-2.0
//! Criterion benchmarks of the fs queue, with the old module
//! (`reedbase-last`) measured in the same run beside it.
//!
//! ```text
//! cargo bench -p reedbase-concurrent-fs --bench queue
//! cargo bench -p reedbase-concurrent-fs --bench queue -- 'drain'
//! ```
//!
//! - `queue_write`, 1 row and 100 rows, into an empty queue: relaxed and
//!   durable, JSON and postcard (the old module has one mode: in place, no
//!   fsync, JSON);
//! - `queue_write`, 1 row, with 99 entries pending;
//! - `get_next_pending` and `count_pending` at depth 100;
//! - a drain of 100 entries, `get_next_pending` + `remove_from_queue` each.
//!
//! Before criterion's groups, an *interleaved* comparison of `queue_write`
//! runs: every round times one write of each subject in turn, so that all
//! of them meet the same file-system state and the same load from the rest
//! of the machine (on a shared machine, criterion's one-subject-after-another
//! medians of file creation drift by several times between subjects). It
//! prints the median of each and its ratio to the old module's.
//!
//! Only the operation is timed: the write to be queued is built (and, for
//! the old module, converted and cloned) before the clock starts, and the
//! entry a write benchmark adds is removed after it stops, so that every
//! iteration meets the same queue. Every result is checked, so an error
//! cannot pass for a fast success.

// `criterion_group!` defines an undocumented `pub fn`.
#![allow(missing_docs)]

use std::fmt::Debug;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, criterion_group};
use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use reedbase_concurrent_fs::queue::queue_write_with;
use reedbase_concurrent_fs::{
    Codec, Durability, FsOptions, count_pending, get_next_pending, remove_from_queue,
};
use reedbase_last::concurrent as last;

const TABLE: &str = "users";

fn must<T, E: Debug>(result: Result<T, E>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what} failed: {error:?}"),
    }
}

/// A write of `rows` rows of about 140 bytes of JSON each.
fn sample_write(rows: usize) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        (0..rows)
            .map(|n| {
                CsvRow::new(
                    format!("user:{n}"),
                    vec![
                        format!("Name {n}"),
                        format!("user{n}@example.com"),
                        "active".to_string(),
                    ],
                )
            })
            .collect(),
    )
}

fn to_last(write: &PendingWrite) -> last::PendingWrite {
    last::PendingWrite {
        rows: write
            .rows
            .iter()
            .map(|r| last::CsvRow::new(r.key.clone(), r.values.clone()))
            .collect(),
        timestamp: must(u64::try_from(write.timestamp), "timestamp to u64"),
        operation: last::WriteOperation::Insert,
    }
}

/// What is measured: the old module, or this crate with some options.
#[derive(Clone, Copy)]
enum Subject {
    Last,
    Fs(FsOptions),
}

const LAST: Subject = Subject::Last;

fn fs(durability: Durability, codec: Codec) -> Subject {
    Subject::Fs(FsOptions::new().durability(durability).codec(codec))
}

impl Subject {
    fn name(&self) -> String {
        match self {
            Subject::Last => "last".to_string(),
            Subject::Fs(options) => {
                format!("fs {:?} {:?}", options.durability, options.codec).to_lowercase()
            }
        }
    }

    /// Queues `write`, timing only the call.
    fn timed_write(&self, base: &Path, write: &PendingWrite) -> (Duration, String) {
        match self {
            Subject::Last => {
                let old = to_last(write);
                let start = Instant::now();
                let id = last::queue_write(base, TABLE, old);
                (start.elapsed(), must(id, "last queue_write"))
            }
            Subject::Fs(options) => {
                let start = Instant::now();
                let id = queue_write_with(base, TABLE, write, options);
                (start.elapsed(), must(id, "fs queue_write"))
            }
        }
    }

    fn get(&self, base: &Path) -> Option<String> {
        match self {
            Subject::Last => {
                must(last::get_next_pending(base, TABLE), "last get").map(|(id, _)| id)
            }
            Subject::Fs(_) => must(get_next_pending(base, TABLE), "fs get").map(|(id, _)| id),
        }
    }

    fn count(&self, base: &Path) -> usize {
        match self {
            Subject::Last => must(last::count_pending(base, TABLE), "last count"),
            Subject::Fs(_) => must(count_pending(base, TABLE), "fs count"),
        }
    }

    fn remove(&self, base: &Path, id: &str) {
        match self {
            Subject::Last => must(last::remove_from_queue(base, TABLE, id), "last remove"),
            Subject::Fs(_) => must(remove_from_queue(base, TABLE, id), "fs remove"),
        }
    }

    fn fill(&self, base: &Path, entries: usize, write: &PendingWrite) {
        for _ in 0..entries {
            self.timed_write(base, write);
        }
    }
}

/// Benchmarks one write into a queue holding `pending` entries, removing it
/// again after each timed call.
fn bench_writes(c: &mut Criterion, group: &str, subjects: &[Subject], rows: usize, pending: usize) {
    let mut group = c.benchmark_group(group);
    let write = sample_write(rows);
    for subject in subjects {
        let dir = must(tempfile::tempdir(), "tempdir");
        subject.fill(dir.path(), pending, &write);
        group.bench_function(BenchmarkId::from_parameter(subject.name()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (took, id) = subject.timed_write(dir.path(), black_box(&write));
                    total += took;
                    subject.remove(dir.path(), &id);
                }
                total
            });
        });
    }
    group.finish();
}

fn bench_queue_write(c: &mut Criterion) {
    let all = [
        LAST,
        fs(Durability::Relaxed, Codec::Json),
        fs(Durability::Relaxed, Codec::Postcard),
        fs(Durability::Durable, Codec::Json),
        fs(Durability::Durable, Codec::Postcard),
    ];
    bench_writes(c, "queue_write 1 row, empty queue", &all, 1, 0);
    bench_writes(c, "queue_write 100 rows, empty queue", &all, 100, 0);
    let some = [
        LAST,
        fs(Durability::Relaxed, Codec::Json),
        fs(Durability::Durable, Codec::Json),
    ];
    bench_writes(c, "queue_write 1 row, 99 pending", &some, 1, 99);
}

fn bench_get_next_pending(c: &mut Criterion) {
    let mut group = c.benchmark_group("get_next_pending, depth 100");
    let write = sample_write(1);
    for subject in [
        LAST,
        fs(Durability::Relaxed, Codec::Json),
        fs(Durability::Relaxed, Codec::Postcard),
    ] {
        let dir = must(tempfile::tempdir(), "tempdir");
        subject.fill(dir.path(), 100, &write);
        group.bench_function(BenchmarkId::from_parameter(subject.name()), |b| {
            b.iter(|| match subject.get(dir.path()) {
                Some(id) => black_box(id),
                None => panic!("the queue is empty"),
            });
        });
    }
    group.finish();
}

fn bench_count_pending(c: &mut Criterion) {
    let mut group = c.benchmark_group("count_pending, depth 100");
    let write = sample_write(1);
    for subject in [LAST, fs(Durability::Relaxed, Codec::Json)] {
        let dir = must(tempfile::tempdir(), "tempdir");
        subject.fill(dir.path(), 100, &write);
        group.bench_function(BenchmarkId::from_parameter(subject.name()), |b| {
            b.iter(|| assert_eq!(subject.count(black_box(dir.path())), 100));
        });
    }
    group.finish();
}

fn bench_drain(c: &mut Criterion) {
    let mut group = c.benchmark_group("drain 100 entries");
    group.sample_size(20);
    let write = sample_write(1);
    for subject in [LAST, fs(Durability::Relaxed, Codec::Json)] {
        let dir = must(tempfile::tempdir(), "tempdir");
        group.bench_function(BenchmarkId::from_parameter(subject.name()), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    subject.fill(dir.path(), 100, &write);
                    let start = Instant::now();
                    let mut popped = 0;
                    while let Some(id) = subject.get(dir.path()) {
                        subject.remove(dir.path(), &id);
                        popped += 1;
                    }
                    total += start.elapsed();
                    assert_eq!(popped, 100, "the drain popped {popped} entries");
                }
                total
            });
        });
    }
    group.finish();
}

/// The subjects of the interleaved comparison.
fn write_subjects() -> [Subject; 5] {
    [
        LAST,
        fs(Durability::Relaxed, Codec::Json),
        fs(Durability::Relaxed, Codec::Postcard),
        fs(Durability::Durable, Codec::Json),
        fs(Durability::Durable, Codec::Postcard),
    ]
}

/// Times `rounds` writes of each subject, interleaved, each subject in its
/// own queue holding `pending` entries; prints medians and ratios.
fn interleaved_writes(label: &str, rows: usize, pending: usize, rounds: usize) {
    let write = sample_write(rows);
    let subjects = write_subjects();
    let dirs: Vec<tempfile::TempDir> = subjects
        .iter()
        .map(|subject| {
            let dir = must(tempfile::tempdir(), "tempdir");
            subject.fill(dir.path(), pending, &write);
            dir
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(rounds); subjects.len()];
    for round in 0..rounds {
        for k in 0..subjects.len() {
            // Rotate who goes first, so that no subject always follows another.
            let which = (round + k) % subjects.len();
            let (took, id) = subjects[which].timed_write(dirs[which].path(), &write);
            samples[which].push(took);
            subjects[which].remove(dirs[which].path(), &id);
        }
    }
    let medians: Vec<Duration> = samples
        .iter_mut()
        .map(|times| {
            times.sort_unstable();
            times[times.len() / 2]
        })
        .collect();
    println!("interleaved queue_write, {label} ({rounds} rounds), median:");
    for (subject, median) in subjects.iter().zip(&medians) {
        let ratio = medians[0].as_secs_f64() / median.as_secs_f64();
        println!(
            "  {:<24} {:>10.1?}   last/this {ratio:.2}",
            subject.name(),
            median
        );
    }
}

fn main() {
    // Under `cargo test` (no `--bench`), criterion runs each case once; skip
    // the interleaved comparison there.
    let benchmarking = std::env::args().any(|arg| arg == "--bench");
    let filter = std::env::args().skip(1).find(|arg| !arg.starts_with('-'));
    if benchmarking
        && filter
            .as_deref()
            .is_none_or(|f| "interleaved queue_write".contains(f))
    {
        interleaved_writes("1 row, empty queue", 1, 0, 1000);
        interleaved_writes("100 rows, empty queue", 100, 0, 500);
        interleaved_writes("1 row, 99 pending", 1, 99, 500);
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}

criterion_group!(
    benches,
    bench_queue_write,
    bench_get_next_pending,
    bench_count_pending,
    bench_drain
);
