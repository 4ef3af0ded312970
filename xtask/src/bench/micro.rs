// SPDX-License-Identifier: Apache-2.0
//! The in-process micro-benchmarks, as criterion benchmarks: groups
//! `lock`, `disk`, `queue` and `drain`, each operation a criterion group
//! named `<group>: <operation>` with one benchmark per subject (and, on
//! three old-API rows, per checks floor: see `check_floors`).
//!
//! `cargo xtask bench` runs them in a child process and reads criterion's
//! results (`estimates.json`, `sample.json`) into its table; `cargo bench
//! -p xtask --bench micro [-- FILTER]` runs them on their own. Every result
//! is checked, so an error cannot pass for a fast success. The pg subjects
//! run when a [`PgSite`] is given (each in a namespace of its own beside
//! it), and are left out otherwise.

use std::fs::{self, File, OpenOptions};
use std::hint::black_box;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup, Criterion, SamplingMode};

use super::check_floors::{CheckedProbe, CheckedUnlink, PROBE_FLOORS, UNLINKAT_FLOORS};
use super::subjects::{Payload, Subject, is_pg, subject};
use crate::pg_site::PgSite;

/// The micro groups, in the order they run.
pub const GROUPS: [&str; 4] = ["lock", "disk", "queue", "drain"];

/// Subjects of the lock group.
const LOCKERS: [&str; 7] = [
    "last",
    "fs",
    "fs free",
    "mem",
    "sqlite relaxed",
    "pg durable",
    "pg relaxed",
];
/// Subjects of the queue_write rows; the durable ones first, so that they
/// run within seconds of the `disk` group's floor (on a shared machine an
/// fsync's cost changes by several times from one minute to the next).
const WRITERS: [&str; 11] = [
    "fs durable json",
    "fs durable postcard",
    "sqlite durable",
    "pg durable",
    "last",
    "fs relaxed json",
    "fs free",
    "fs relaxed postcard",
    "mem",
    "sqlite relaxed",
    "pg relaxed",
];
/// Subjects of the reading rows (durability does not change a reader).
const READERS: [&str; 7] = [
    "last",
    "fs relaxed json",
    "fs free",
    "fs relaxed postcard",
    "mem",
    "sqlite relaxed",
    "pg relaxed",
];

/// Criterion set up for a full run, or for a smoke test (`quick`).
pub fn criterion(quick: bool) -> Criterion {
    let criterion = Criterion::default().without_plots();
    if quick {
        criterion
            .sample_size(10)
            .nresamples(1_000)
            .warm_up_time(Duration::from_millis(10))
            .measurement_time(Duration::from_millis(50))
    } else {
        criterion
            .sample_size(30)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2))
    }
}

/// Where the subjects of one group live: their files under `dir`, the pg
/// ones beside `pg` (left out when no site is given).
struct Place<'a> {
    dir: PathBuf,
    pg: &'a PgSite,
}

impl Place<'_> {
    /// The subjects of `labels` that can run here.
    fn runnable<'l>(&self, labels: &[&'l str]) -> Vec<&'l str> {
        let pg = self.pg.is_given();
        labels
            .iter()
            .copied()
            .filter(|label| pg || !is_pg(label))
            .collect()
    }

    fn subject(&self, label: &str) -> Result<Box<dyn Subject>, String> {
        subject(&self.dir, self.pg, label)
    }
}

/// Runs the groups named in `groups` (all when empty), with their files
/// under `dir` and the pg subjects beside `pg`.
pub fn run(c: &mut Criterion, dir: &Path, pg: &PgSite, groups: &[String]) -> Result<(), String> {
    let wants = |group: &str| groups.is_empty() || groups.iter().any(|g| g == group);
    let place = |name: &str| Place {
        dir: dir.join(name),
        pg: &*pg,
    };
    if wants("lock") {
        lock(c, &place("lock"))?;
    }
    if wants("disk") {
        disk(c, &dir.join("disk"))?;
    }
    if wants("queue") {
        queue(c, &place("queue"))?;
    }
    if wants("drain") {
        drain(c, &place("drain"))?;
    }
    Ok(())
}

/// Fails the benchmark (criterion has no error path) with `what`.
fn must<T>(result: Result<T, String>) -> T {
    result.unwrap_or_else(|error| panic!("{error}"))
}

/// One criterion group over `labels`: each subject is made, set up once
/// with `prepare`, and benchmarked (criterion calls `bench` several times).
fn each_subject(
    c: &mut Criterion,
    place: &Place<'_>,
    name: &str,
    labels: &[&str],
    prepare: impl Fn(&dyn Subject) -> Result<(), String>,
    bench: impl FnMut(&mut criterion::Bencher<'_>, &dyn Subject),
) -> Result<(), String> {
    subjects_group(c, place, name, labels, prepare, bench)?.finish();
    Ok(())
}

/// As [`each_subject`], with the group left open for more benchmarks (a
/// floor's columns).
fn subjects_group<'c>(
    c: &'c mut Criterion,
    place: &Place<'_>,
    name: &str,
    labels: &[&str],
    prepare: impl Fn(&dyn Subject) -> Result<(), String>,
    mut bench: impl FnMut(&mut criterion::Bencher<'_>, &dyn Subject),
) -> Result<BenchmarkGroup<'c, WallTime>, String> {
    let mut group = c.benchmark_group(name);
    for label in place.runnable(labels) {
        let subject = place.subject(label)?;
        prepare(subject.as_ref()).map_err(|e| format!("{name} / {label}: {e}"))?;
        group.bench_function(label, |b| bench(b, subject.as_ref()));
    }
    Ok(group)
}

/// Adds the columns of the free-lock probe floors (see `check_floors`) to
/// `group`, their files under `dir`.
fn probe_floors(group: &mut BenchmarkGroup<'_, WallTime>, dir: &Path) -> Result<(), String> {
    let floor = CheckedProbe::create(dir, "bench")?;
    for (label, by_path) in PROBE_FLOORS {
        group.bench_function(label, |b| {
            b.iter(|| assert!(must(floor.probe(black_box(by_path)))));
        });
    }
    Ok(())
}

/// No set-up.
fn nothing(_: &dyn Subject) -> Result<(), String> {
    Ok(())
}

/// Locks table `bench` once, so that its lock file exists.
fn lock_once(subject: &dyn Subject) -> Result<(), String> {
    subject.acquire_release("bench")
}

fn lock(c: &mut Criterion, place: &Place<'_>) -> Result<(), String> {
    let name = "lock: acquire+release, lock file exists";
    each_subject(c, place, name, &LOCKERS, lock_once, |b, s| {
        b.iter(|| must(s.acquire_release(black_box("bench"))));
    })?;
    let counter = AtomicUsize::new(0);
    let fresh = || format!("t{}", counter.fetch_add(1, Ordering::Relaxed));
    let new_table = ["last", "fs", "fs free", "mem"];
    let name = "lock: acquire+release, new table";
    each_subject(c, place, name, &new_table, nothing, |b, s| {
        b.iter_batched(
            fresh,
            |t| must(s.acquire_release(&t)),
            BatchSize::SmallInput,
        );
    })?;
    let tried = ["last", "fs", "fs free", "mem"];
    let name = "lock: try_acquire+release";
    each_subject(c, place, name, &tried, lock_once, |b, s| {
        b.iter(|| must(s.try_acquire_release("bench").unwrap_or(Ok(()))));
    })?;
    // Where the lock file exists, the probe's checks floors go beside the
    // subjects.
    for (name, table, floors) in [
        ("lock: is_locked, lock file exists", "bench", true),
        ("lock: is_locked, lock file absent", "never_locked", false),
    ] {
        let mut group = subjects_group(
            c,
            place,
            name,
            &["last", "fs", "fs free", "mem"],
            lock_once,
            |b, s| {
                b.iter(|| assert!(!must(s.is_locked(table).unwrap_or(Ok(false)))));
            },
        )?;
        if floors {
            probe_floors(&mut group, &place.dir.join("floor-is-locked"))?;
        }
        group.finish();
    }
    let name = "lock: wait_for_unlock, lock free";
    let mut group = subjects_group(
        c,
        place,
        name,
        &["last", "fs", "fs free", "mem"],
        lock_once,
        |b, s| {
            b.iter(|| must(s.wait_free("bench").unwrap_or(Ok(()))));
        },
    )?;
    probe_floors(&mut group, &place.dir.join("floor-wait"))?;
    group.finish();
    let name = "lock: lock_holder, lock free";
    each_subject(
        c,
        place,
        name,
        &["fs", "fs free", "mem"],
        lock_once,
        |b, s| {
            b.iter(|| assert!(!must(s.has_holder("bench").unwrap_or(Ok(false)))));
        },
    )
}

/// The operation of a `queue_write` row: `queue_write 1 row, empty queue`,
/// `queue_write 100 rows, 99 pending`, ... (the paired group's rows carry
/// the same names, by which the targets find both).
pub(super) fn queue_write_operation(rows: usize, pending: usize) -> String {
    let plural = if rows == 1 { "" } else { "s" };
    match pending {
        0 => format!("queue_write {rows} row{plural}, empty queue"),
        _ => format!("queue_write {rows} row{plural}, {pending} pending"),
    }
}

fn queue(c: &mut Criterion, place: &Place<'_>) -> Result<(), String> {
    let filler = Payload::rows(1);
    for (rows, pending) in [(1, 0), (100, 0), (1, 99), (100, 99)] {
        let payload = Payload::rows(rows);
        let name = format!("queue: {}", queue_write_operation(rows, pending));
        let table = format!("rows{rows}_pending{pending}");
        let fill = |s: &dyn Subject| s.fill(&table, &filler, pending);
        each_subject(c, place, &name, &WRITERS, fill, |b, s| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (took, id) = must(s.queue_write_timed(&table, &payload));
                    total += took;
                    must(s.remove(&table, &id));
                }
                total
            });
            assert_eq!(must(s.count(&table)), pending, "the depth stays put");
        })?;
    }
    let name = "queue: get_next_pending, depth 100";
    let fill = |s: &dyn Subject| s.fill("depth100", &filler, 100);
    each_subject(c, place, name, &READERS, fill, |b, s| {
        b.iter(|| assert!(must(s.next_id("depth100")).is_some()));
    })?;
    let name = "queue: remove_from_queue, depth 100";
    let fill = |s: &dyn Subject| s.fill("remove100", &filler, 99);
    let mut group = subjects_group(c, place, name, &READERS, fill, |b, s| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (_, id) = must(s.queue_write_timed("remove100", &filler));
                let start = Instant::now();
                must(s.remove("remove100", &id));
                total += start.elapsed();
            }
            total
        });
    })?;
    // The checks floors (see `check_floors`): the same depth, entries of
    // the same bytes written untimed.
    let body = serde_json::to_vec(&filler.core).map_err(|e| e.to_string())?;
    let floor = CheckedUnlink::create(&place.dir.join("floor"), "remove100", body, 99)?;
    for (label, by_path) in UNLINKAT_FLOORS {
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let entry = must(floor.write_entry());
                    let start = Instant::now();
                    must(floor.remove(black_box(&entry), by_path));
                    total += start.elapsed();
                }
                total
            });
        });
    }
    group.finish();
    assert_eq!(must(floor.count()), 99, "the floor's depth stays put");
    let name = "queue: count_pending, depth 100";
    let fill = |s: &dyn Subject| s.fill("count100", &filler, 100);
    each_subject(c, place, name, &READERS, fill, |b, s| {
        b.iter(|| assert_eq!(must(s.count("count100")), 100));
    })
}

fn drain(c: &mut Criterion, place: &Place<'_>) -> Result<(), String> {
    let payload = Payload::rows(1);
    let mut group = c.benchmark_group("drain: drain 100 entries, total");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    for label in place.runnable(&READERS) {
        let s = place.subject(label)?;
        group.bench_function(label, |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    must(s.fill("drain", &payload, 100));
                    let start = Instant::now();
                    let mut popped = 0;
                    while must(s.pop("drain")) {
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
    Ok(())
}

/// What the disk costs alone: a 1-row entry's bytes written to a temporary
/// name and renamed, without and with the two flushes (file, directory)
/// of a durable entry: the floor of a durable file-per-entry queue. Run
/// just before the durable queue writes, for the same disk weather.
fn disk(c: &mut Criterion, dir: &Path) -> Result<(), String> {
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let bytes = serde_json::to_vec(&Payload::rows(1).core).map_err(|e| e.to_string())?;
    for (name, durable) in [
        ("disk: write 1-row entry + rename, no fsync", false),
        ("disk: write + fsync + rename + fsync dir", true),
    ] {
        let mut group = c.benchmark_group(name);
        group.bench_function("std::fs", |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let start = Instant::now();
                    must(write_entry(dir, &bytes, durable));
                    total += start.elapsed();
                    must(fs::remove_file(dir.join("entry")).map_err(|e| e.to_string()));
                }
                total
            });
        });
        group.finish();
    }
    Ok(())
}

/// Writes `bytes` to `dir/entry.tmp` and renames it to `dir/entry`, with
/// both fsyncs when `durable`.
fn write_entry(dir: &Path, bytes: &[u8], durable: bool) -> Result<(), String> {
    let temporary = dir.join("entry.tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .map_err(|e| format!("creating {}: {e}", temporary.display()))?;
    file.write_all(bytes).map_err(|e| format!("writing: {e}"))?;
    if durable {
        file.sync_data().map_err(|e| format!("fsync: {e}"))?;
    }
    drop(file);
    fs::rename(&temporary, dir.join("entry")).map_err(|e| format!("rename: {e}"))?;
    if durable {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("fsync of {}: {e}", dir.display()))?;
    }
    Ok(())
}
