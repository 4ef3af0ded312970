// SPDX-License-Identifier: Apache-2.0
//! Short `cargo xtask stress` runs, so that every CI run proves that no
//! acknowledged write is lost while writer processes are SIGKILLed, with
//! per-write, with batch apply and through `submit_grouped`, on the fs backend and on the pg backend
//! (writers over TCP to the server; skipped without one, a failure with
//! `REEDBASE_PG_REQUIRED=1`); and a short `--chaos` run (lock files
//! deleted and renamed, junk and links in the queue, a full tmpfs when run
//! as root), which must pass as well.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use reedbase_concurrent_pg::testing::TestServer;

/// Runs stress with `extra` arguments; its stdout and whether it passed.
fn stress(extra: &[&str]) -> (String, bool) {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args(["stress", "--processes", "3", "--dir"])
        .arg(dir.path())
        .args(extra)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains("stress: "),
        "no verdict:\n{stdout}\n{stderr}"
    );
    (stdout, output.status.success())
}

/// The number in the report's row `name`.
fn row(stdout: &str, name: &str) -> usize {
    stdout
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no {name:?} in:\n{stdout}"))
}

fn passes_with_kills(extra: &[&str]) {
    let (stdout, passed) = stress(&[&["--seconds", "4", "--kill"], extra].concat());
    assert!(
        passed && stdout.contains("stress: PASS"),
        "stress failed:\n{stdout}"
    );
    let backend = if extra.contains(&"pg") { "pg" } else { "fs" };
    let named = stdout
        .lines()
        .find_map(|line| line.strip_prefix("backend"))
        .map(str::trim);
    assert_eq!(named, Some(backend), "{stdout}");
    assert!(
        row(&stdout, "children SIGKILLed") > 0,
        "nobody was killed:\n{stdout}"
    );
    assert!(
        row(&stdout, "writes acknowledged") > 0,
        "nothing acknowledged:\n{stdout}"
    );
    assert_eq!(row(&stdout, "lost"), 0);
    assert_eq!(row(&stdout, "lock overlaps"), 0);
    assert_eq!(row(&stdout, "out-of-order rows"), 0);
}

#[test]
fn short_stress_run_with_kills_finds_no_violation() {
    passes_with_kills(&[]);
}

#[test]
fn short_batch_stress_run_with_kills_finds_no_violation() {
    passes_with_kills(&["--batch"]);
}

#[test]
fn short_grouped_stress_run_with_kills_finds_no_violation() {
    passes_with_kills(&["--grouped"]);
}

#[test]
fn short_pg_stress_run_with_kills_finds_no_violation() {
    if TestServer::find("short_pg_stress_run_with_kills_finds_no_violation").is_some() {
        passes_with_kills(&["--backend", "pg"]);
    }
}

#[test]
fn short_pg_batch_stress_run_with_kills_finds_no_violation() {
    if TestServer::find("short_pg_batch_stress_run_with_kills_finds_no_violation").is_some() {
        passes_with_kills(&["--backend", "pg", "--batch"]);
    }
}

#[test]
fn short_chaos_run_attacks_and_passes() {
    let (stdout, passed) = stress(&["--seconds", "3", "--kill", "--chaos"]);
    let actions = stdout
        .lines()
        .find_map(|line| line.strip_prefix("chaos actions: "))
        .unwrap_or_else(|| panic!("no chaos actions in:\n{stdout}"));
    assert!(
        actions.contains("write.lock"),
        "no lock file was attacked: {actions}"
    );
    for name in [
        "lost",
        "duplicates beyond replays",
        "lock overlaps",
        "writes outside the base",
    ] {
        assert_eq!(row(&stdout, name), 0, "{name}:\n{stdout}");
    }
    assert!(passed, "chaos stress failed:\n{stdout}");
}
