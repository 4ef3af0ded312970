// SPDX-License-Identifier: Apache-2.0
//! A quick `cargo xtask bench` run (debug build, a tenth of the samples):
//! every group runs end to end, across child processes, and the JSON holds
//! a result for every operation and backend. The numbers are not checked:
//! a debug build's timings mean nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;

/// Every (group, operation, backends) the bench reports.
const EXPECTED: &[(&str, &str, &[&str])] = &[
    (
        "lock",
        "acquire+release, lock file exists",
        &["last", "fs", "mem"],
    ),
    ("lock", "acquire+release, new table", &["last", "fs", "mem"]),
    (
        "lock",
        "is_locked, lock file exists",
        &["last", "fs", "mem"],
    ),
    (
        "lock",
        "is_locked, lock file absent",
        &["last", "fs", "mem"],
    ),
    (
        "handoff",
        "hand-off latency, waiter already waiting",
        &["last", "fs"],
    ),
    (
        "handoff",
        "waiter CPU while the lock is held",
        &["last", "fs"],
    ),
    ("disk", "write 1-row entry + rename, no fsync", &["std::fs"]),
    ("disk", "write + fsync + rename + fsync dir", &["std::fs"]),
    ("queue", "queue_write 1 row, empty queue", QUEUE),
    ("queue", "queue_write 100 rows, empty queue", QUEUE),
    ("queue", "queue_write 1 row, 99 pending", QUEUE),
    ("queue", "queue_write 100 rows, 99 pending", QUEUE),
    ("drain", "drain 100 entries, total", DRAIN),
    ("drain", "one pop (get + remove), any depth", DRAIN),
    ("drain", "one pop at depth 100", DRAIN),
    ("drain", "one pop at depth 10", DRAIN),
    (
        "throughput",
        "4 processes: writes/s acknowledged",
        THROUGHPUT,
    ),
    (
        "throughput",
        "4 processes: writes/s applied in the run",
        THROUGHPUT,
    ),
    (
        "throughput",
        "4 processes: writes queued (lock timed out)",
        THROUGHPUT,
    ),
    (
        "throughput",
        "4 processes: writes refused, queue full",
        THROUGHPUT,
    ),
    (
        "throughput",
        "4 processes: writes failed, torn entry read",
        THROUGHPUT,
    ),
];
const QUEUE: &[&str] = &[
    "last",
    "fs relaxed json",
    "fs relaxed postcard",
    "fs durable json",
    "fs durable postcard",
    "mem",
];
const DRAIN: &[&str] = &["last", "fs relaxed json", "fs relaxed postcard", "mem"];
const THROUGHPUT: &[&str] = &["last", "fs durable", "fs relaxed"];

#[test]
fn quick_bench_reports_every_operation_of_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let json_path = dir.path().join("bench.json");
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "--quick", "--no-release", "--json"])
        .arg(&json_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "bench failed:\n{stdout}\n{stderr}");
    for heading in [
        "Locking",
        "hand-off",
        "queue_write",
        "Draining",
        "Four processes",
        "Targets",
    ] {
        assert!(
            stdout.contains(heading),
            "no {heading:?} table in:\n{stdout}"
        );
    }

    let json: Value = serde_json::from_str(&std::fs::read_to_string(&json_path).unwrap()).unwrap();
    assert_eq!(json["quick"], Value::Bool(true));
    assert_eq!(json["failures"].as_array().map(Vec::len), Some(0));
    let measurements = json["measurements"]
        .as_array()
        .expect("a measurements array");
    for (group, operation, backends) in EXPECTED {
        for backend in *backends {
            let found = measurements.iter().find(|m| {
                m["group"] == *group && m["operation"] == *operation && m["backend"] == *backend
            });
            let m =
                found.unwrap_or_else(|| panic!("no result for {group} / {operation} / {backend}"));
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
    let expected_count: usize = EXPECTED.iter().map(|(_, _, b)| b.len()).sum();
    assert_eq!(
        measurements.len(),
        expected_count,
        "unexpected extra results"
    );
    assert!(
        json["targets"].as_array().is_some_and(|t| !t.is_empty()),
        "no target checks"
    );
}

#[test]
fn bench_rejects_an_unknown_group() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["bench", "--no-release", "--only", "nonsense"])
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown group"));
}
