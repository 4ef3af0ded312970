// SPDX-License-Identifier: Apache-2.0
//! A short `cargo xtask parity` run (16 random traces besides the coverage
//! trace), so that every `cargo test --workspace` proves that the old
//! module, fs, mem and pg differ only as PARITY.md lists. Without a
//! PostgreSQL server the pg column is skipped (the command says so); with
//! `REEDBASE_PG_REQUIRED=1` the command, and so this test, fails.

use std::process::Command;

/// The headings of the table's scenario groups, one per group.
const GROUP_HEADINGS: [&str; 4] = [
    "the old module's own tests (types; lock and queue as conformance cases)",
    "conformance suite",
    "random sequential traces, one row per class of step",
    "cross-compatibility (shared disk, separate processes)",
];

fn parity(args: &[&str]) -> (String, String, bool) {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .arg("parity")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xtask: {e}"));
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.success(),
    )
}

#[test]
fn short_parity_run_passes_and_lists_every_group() {
    let (stdout, stderr, passed) = parity(&["--cases", "16", "--seed", "0x5eed"]);
    if !passed {
        // What differed first: a log that keeps only the start and the end
        // of a long message still shows it.
        let differed = stdout
            .split_once("What differed:")
            .map_or("(no details printed)", |(_, rest)| rest);
        panic!(
            "`xtask parity --cases 16` failed; what differed:\n{differed}\n--- stderr ---\n{stderr}\n--- the whole table ---\n{stdout}"
        );
    }
    for heading in GROUP_HEADINGS {
        assert!(
            stdout.lines().any(|line| line.trim() == heading),
            "the parity table has no group {heading:?}:\n{stdout}"
        );
    }
    assert!(stdout.contains("Parity holds"), "no summary:\n{stdout}");
    let header = stdout
        .lines()
        .find(|line| line.starts_with("scenario"))
        .unwrap_or_else(|| panic!("no table header:\n{stdout}"));
    let columns: Vec<&str> = header.split('|').map(str::trim).collect();
    assert_eq!(columns, ["scenario", "last", "fs", "mem", "pg", "verdict"]);
    let pg_ran = stdout.contains("pg: the server at");
    assert_eq!(
        pg_ran,
        !stdout.contains("SKIPPED (no server)"),
        "the pg column runs whole or is skipped whole:\n{stdout}"
    );
}
