// SPDX-License-Identifier: Apache-2.0
//! A quick `cargo xtask bench` run (debug build, few samples): every group
//! runs end to end, criterion's micro groups in their child and the
//! multi-process groups across child processes, and the JSON holds a
//! result for every operation and backend, and every target. The numbers
//! are not checked: a debug build's timings mean nothing. The pg rows are
//! expected when a PostgreSQL server answers (and must then be there);
//! without one the bench must say they were skipped. So are the calls
//! group's system calls (with a `strace` that can trace here) and
//! instructions (with `valgrind`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use reedbase_concurrent_pg::testing::TestServer;
use serde_json::Value;

const LOCKERS: &[&str] = &["last", "fs", "fs free", "mem"];
/// The lock rows that carry the probe's checks floors.
const PROBED: &[&str] = &[
    "last",
    "fs",
    "fs free",
    "floor: checked probe",
    "floor: checked probe, by path",
    "mem",
];
const WRITERS: &[&str] = &[
    "last",
    "fs relaxed json",
    "fs free",
    "fs relaxed postcard",
    "fs durable json",
    "fs durable postcard",
    "mem",
    "sqlite relaxed",
    "sqlite durable",
    "pg relaxed",
    "pg durable",
];
const READERS: &[&str] = &[
    "last",
    "fs relaxed json",
    "fs free",
    "fs relaxed postcard",
    "mem",
    "sqlite relaxed",
    "pg relaxed",
];
/// The removal row, with its checks floors.
const REMOVERS: &[&str] = &[
    "last",
    "fs relaxed json",
    "fs free",
    "floor: checked unlinkat",
    "floor: checked unlinkat, by path",
    "fs relaxed postcard",
    "mem",
    "sqlite relaxed",
    "pg relaxed",
];
/// The interleaved rows of the old API (group `paired`).
const PAIRED_LOCKERS: &[&str] = &["last", "fs", "fs free"];
const PAIRED_PROBED: &[&str] = &[
    "last",
    "fs",
    "fs free",
    "floor: checked probe",
    "floor: checked probe, by path",
];
const PAIRED_WRITERS: &[&str] = &["last", "fs relaxed json", "fs free"];
const PAIRED_REMOVERS: &[&str] = &[
    "last",
    "fs relaxed json",
    "fs free",
    "floor: checked unlinkat",
    "floor: checked unlinkat, by path",
];
const DEEP: &[&str] = &["fs relaxed json", "mem", "sqlite relaxed"];
const THROUGHPUT: &[&str] = &[
    "last",
    "fs durable",
    "fs relaxed",
    "floor: bare flock",
    "sqlite durable",
    "sqlite relaxed",
    "pg durable",
    "pg relaxed",
];
const GROUP_COMMIT: &[&str] = &[
    "last",
    "fs per-write",
    "fs batch",
    "fs grouped",
    "floor: durable enqueue",
    "floor: durable append",
    "fs per-write relaxed",
    "fs batch relaxed",
    "floor: timeout + enqueue",
    "sqlite per-write",
    "sqlite batch",
    "pg per-write",
    "pg batch",
    "pg floor: ordered enqueue",
];
/// The group-commit columns that apply writes (not the enqueue floors).
const GROUP_COMMIT_APPLYING: &[&str] = &[
    "last",
    "fs per-write",
    "fs batch",
    "fs grouped",
    "floor: durable append",
    "fs per-write relaxed",
    "fs batch relaxed",
    "sqlite per-write",
    "sqlite batch",
    "pg per-write",
    "pg batch",
];
const HANDOFF: &[&str] = &["last", "fs", "sqlite", "flock", "pg"];
/// The calls group's operations and subjects.
const CALLED: &[&str] = &[
    "acquire+release, lock file exists",
    "acquire+release, new table",
    "is_locked, lock file exists",
    "is_locked, lock file absent",
    "is_locked, only probed by this process",
    "wait_for_unlock, lock free",
    "queue_write 1 row, empty queue, relaxed",
    "get_next_pending, depth 100",
    "remove_from_queue, depth 100",
    "count_pending, depth 100",
];
const CALLERS: &[&str] = &["last", "fs", "fs free"];

/// Every (group, operation, backends) a quick run reports.
const EXPECTED: &[(&str, &str, &[&str])] = &[
    (
        "lock",
        "acquire+release, lock file exists",
        &[
            "last",
            "fs",
            "fs free",
            "mem",
            "sqlite relaxed",
            "pg durable",
            "pg relaxed",
        ],
    ),
    ("lock", "acquire+release, new table", LOCKERS),
    ("lock", "try_acquire+release", LOCKERS),
    ("lock", "is_locked, lock file exists", PROBED),
    ("lock", "is_locked, lock file absent", LOCKERS),
    ("lock", "wait_for_unlock, lock free", PROBED),
    ("lock", "lock_holder, lock free", &["fs", "fs free", "mem"]),
    ("queue", "queue_write 1 row, empty queue", WRITERS),
    ("queue", "queue_write 100 rows, empty queue", WRITERS),
    ("queue", "queue_write 1 row, 99 pending", WRITERS),
    ("queue", "queue_write 100 rows, 99 pending", WRITERS),
    ("queue", "get_next_pending, depth 100", READERS),
    ("queue", "remove_from_queue, depth 100", REMOVERS),
    ("queue", "count_pending, depth 100", READERS),
    ("drain", "drain 100 entries, total", READERS),
    (
        "paired",
        "acquire+release, lock file exists",
        PAIRED_LOCKERS,
    ),
    (
        "paired",
        "acquire+release, new table",
        &["last", "fs", "fs free", "floor: checked new table"],
    ),
    ("paired", "is_locked, lock file exists", PAIRED_PROBED),
    ("paired", "is_locked, lock file absent", PAIRED_LOCKERS),
    ("paired", "wait_for_unlock, lock free", PAIRED_PROBED),
    ("paired", "queue_write 1 row, empty queue", PAIRED_WRITERS),
    (
        "paired",
        "queue_write 100 rows, empty queue",
        PAIRED_WRITERS,
    ),
    ("paired", "queue_write 1 row, 99 pending", PAIRED_WRITERS),
    ("paired", "queue_write 100 rows, 99 pending", PAIRED_WRITERS),
    ("paired", "get_next_pending, depth 100", PAIRED_WRITERS),
    ("paired", "remove_from_queue, depth 100", PAIRED_REMOVERS),
    ("paired", "count_pending, depth 100", PAIRED_WRITERS),
    ("paired", "drain 100 entries, total", &["last", "fs free"]),
    ("disk", "write 1-row entry + rename, no fsync", &["std::fs"]),
    ("disk", "write + fsync + rename + fsync dir", &["std::fs"]),
    (
        "handoff",
        "hand-off latency, waiter already waiting",
        HANDOFF,
    ),
    ("handoff", "waiter CPU while the lock is held", HANDOFF),
    ("deep", "one pop at depth 100", DEEP),
    ("deep", "queue_write at depth 100", DEEP),
    ("deep", "one pop at depth 1,000", DEEP),
    ("deep", "queue_write at depth 1,000", DEEP),
    ("deep", "drain 1,000 entries, total", DEEP),
    ("throughput", "writes/s acknowledged", THROUGHPUT),
    ("throughput", "writes/s applied in the run", THROUGHPUT),
    ("throughput", "writes queued (lock timed out)", THROUGHPUT),
    (
        "throughput",
        "writes refused (queue full or busy)",
        THROUGHPUT,
    ),
    ("throughput", "writes failed (torn entry read)", THROUGHPUT),
    ("group-commit", "writes/s acknowledged", GROUP_COMMIT),
    (
        "group-commit",
        "writes/s applied in the run",
        GROUP_COMMIT_APPLYING,
    ),
    (
        "group-commit",
        "p99 latency of an acknowledged write",
        GROUP_COMMIT,
    ),
];

#[test]
fn quick_bench_reports_every_operation_of_every_backend() {
    let server = TestServer::find("quick_bench_reports_every_operation_of_every_backend, pg rows");
    let pg = server.is_some();
    // The pg floor's tables on the server (the bench drops its own).
    let floor_tables = || -> Option<i64> {
        let mut client = server.as_ref()?.client().ok()?;
        let row = client
            .query_one(
                "SELECT count(*) FROM pg_tables WHERE schemaname = 'public' \
                 AND tablename LIKE 'floor\\_%'",
                &[],
            )
            .ok()?;
        Some(row.get(0))
    };
    let floor_tables_before = floor_tables();
    // The backends expected in a row: the pg ones only with a server.
    let expected = |backends: &[&'static str]| -> Vec<&'static str> {
        let runs = |backend: &&str| pg || !backend.starts_with("pg");
        backends.iter().copied().filter(runs).collect()
    };
    let strace = works("strace", &["-f", "-o", "/dev/null", "true"]);
    let valgrind = works("valgrind", &["--version"]);
    // The calls group's rows, each (group, operation, subjects), for the
    // tools that work here.
    let mut called: Vec<(&str, String, &[&str])> = Vec::new();
    for (works, counter) in [(strace, "system calls"), (valgrind, "instructions")] {
        if works {
            for operation in CALLED {
                called.push(("calls", format!("{counter}: {operation}"), CALLERS));
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let files = dir.path().join("files");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "--quick", "--no-release", "--json"])
        .arg(&json_path)
        .arg("--dir")
        .arg(&files)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    assert_eq!(
        floor_tables(),
        floor_tables_before,
        "the pg floor's table is dropped after its run"
    );
    for heading in [
        "Locking",
        "hand-off",
        "The disk alone",
        "columns interleaved",
        "The queue",
        "Draining",
        "Deep queues",
        "Four processes",
        "Group commit",
        "Targets",
        "floor: durable enqueue",
    ] {
        assert!(
            stdout.contains(heading),
            "no {heading:?} table in:\n{stdout}"
        );
    }
    assert!(
        stdout.contains("vs sqlite"),
        "no ratio against SQLite:\n{stdout}"
    );
    assert_eq!(
        stdout.contains("SKIPPED: the pg rows"),
        !pg,
        "the pg rows run with a server and are said to be skipped without one:\n{stdout}"
    );

    assert_eq!(
        stdout.contains("| operation | last | fs | fs free |"),
        strace || valgrind,
        "the calls table is there when a counting tool works:\n{stdout}"
    );
    for (works, what) in [
        (strace, "SKIPPED: the system calls per operation"),
        (valgrind, "SKIPPED: the instructions per operation"),
    ] {
        assert_eq!(
            stdout.contains(what),
            !works,
            "{what:?} is said exactly when its tool does not work:\n{stdout}"
        );
    }

    let json: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json["quick"], Value::Bool(true));
    assert_eq!(json["failures"].as_array().map(Vec::len), Some(0));
    // The run's files went under `--dir`, and the JSON names the file
    // system that holds it.
    assert_eq!(json["machine"]["bench_dir"], files.display().to_string());
    let mount_point = json["machine"]["file_system"]["mount_point"]
        .as_str()
        .expect("the file system of the run's files");
    assert!(
        files.canonicalize().unwrap().starts_with(mount_point),
        "{mount_point} does not hold {}",
        files.display()
    );
    let measurements = json["measurements"].as_array().expect("measurements");
    let rows = EXPECTED
        .iter()
        .map(|&(group, operation, backends)| (group, operation.to_string(), backends))
        .chain(called);
    let mut expected_count = 0;
    for (group, operation, backends) in rows {
        for backend in expected(backends) {
            expected_count += 1;
            let m = measurements
                .iter()
                .find(|m| {
                    m["group"] == group && m["operation"] == *operation && m["backend"] == backend
                })
                .unwrap_or_else(|| panic!("no result for {group} / {operation} / {backend}"));
            assert!(
                m["samples"].as_u64().is_some_and(|n| n > 0),
                "no samples in {m}"
            );
            assert!(
                m["median"].as_f64().is_some_and(f64::is_finite),
                "no median in {m}"
            );
        }
    }
    assert_eq!(
        measurements.len(),
        expected_count,
        "unexpected extra results"
    );
    let targets = json["targets"].as_array().expect("targets");
    assert!(targets.len() >= 20, "a row per performance goal");
    let measured = targets.iter().filter(|t| !t["met"].is_null()).count();
    assert!(measured >= 15, "most targets have numbers: {targets:?}");
    assert!(
        targets.iter().all(|t| t["stopped_by_floor"].is_boolean()),
        "every target says whether a floor stops it: {targets:?}"
    );
    // The old module's 110% rule is read in the interleaved rounds, every
    // row of it.
    let ruled: Vec<&Value> = targets
        .iter()
        .filter(|t| t["target"].as_str().is_some_and(|t| t.contains("110%")))
        .collect();
    assert_eq!(ruled.len(), 25, "every row of the 110% rule: {ruled:?}");
    for target in ruled {
        assert!(
            target["measured"]
                .as_str()
                .is_some_and(|m| m.contains(" paired (rounds ")),
            "read in the interleaved rounds: {target}"
        );
    }
    // The load groups' targets are read against their floors.
    for (what, floor) in [
        (
            "group commit: 8 processes, durable apply, durable queue",
            "floor: durable enqueue",
        ),
        (
            "group commit, durable queue: distance to the durable-enqueue floor",
            "floor: durable enqueue",
        ),
        (
            "group commit, per write: distance to the durable-append floor",
            "floor: durable append",
        ),
        (
            "group commit: 8 processes, durable apply, relaxed queue",
            "floor: timeout + enqueue",
        ),
        (
            "group commit, relaxed queue: distance to the timeout + enqueue floor",
            "floor: timeout + enqueue",
        ),
        (
            "8 processes, durable apply, vs SQLite",
            "floor: durable enqueue",
        ),
        ("4 processes, durable, vs SQLite", "floor: bare flock"),
        // The old-API rows that the fs crate's checks bound.
        (
            "acquire+release, new table (fs)",
            "floor: checked new table",
        ),
        (
            "acquire+release, new table (fs free)",
            "floor: checked new table",
        ),
        ("is_locked, lock file exists (fs)", "floor: checked probe"),
        (
            "is_locked, lock file exists (fs free)",
            "floor: checked probe, by path",
        ),
        ("wait_for_unlock, lock free (fs)", "floor: checked probe"),
        (
            "wait_for_unlock, lock free (fs free)",
            "floor: checked probe, by path",
        ),
        (
            "remove_from_queue, depth 100, relaxed (fs relaxed json)",
            "floor: checked unlinkat",
        ),
        (
            "remove_from_queue, depth 100, relaxed (fs free)",
            "floor: checked unlinkat, by path",
        ),
    ] {
        let target = targets
            .iter()
            .find(|t| t["what"] == what)
            .unwrap_or_else(|| panic!("no target {what:?}"));
        assert!(!target["met"].is_null(), "{what:?} has numbers: {target}");
        assert!(
            target["measured"]
                .as_str()
                .is_some_and(|m| m.contains(floor)),
            "{what:?} names {floor:?}: {target}"
        );
    }
}

/// Whether `command` with `args` runs and succeeds here.
fn works(command: &str, args: &[&str]) -> bool {
    Command::new(command)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

#[test]
fn bench_rejects_an_unknown_group() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "--no-release", "--only", "nonsense"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid value 'nonsense'"));
}

#[test]
fn every_command_has_generated_help() {
    for (command, flag) in [
        ("test", None),
        ("parity", Some("--repeat-last")),
        ("bench", Some("--deep")),
        ("stress", Some("--chaos")),
    ] {
        let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
            .args([command, "--help"])
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(output.status.success(), "{command} --help failed");
        assert!(
            stdout.contains(&format!("Usage: cargo xtask {command}")),
            "{stdout}"
        );
        if let Some(flag) = flag {
            assert!(
                stdout.contains(flag),
                "{command} --help lacks {flag}:\n{stdout}"
            );
        }
    }
}
