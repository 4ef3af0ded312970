// SPDX-License-Identifier: Apache-2.0
//! A short `cargo xtask stress --kill` run, so that every CI run proves that
//! no acknowledged write is lost while writer processes are SIGKILLed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn short_stress_run_with_kills_finds_no_violation() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "stress",
            "--processes",
            "3",
            "--seconds",
            "4",
            "--kill",
            "--dir",
        ])
        .arg(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stress failed:\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("stress: PASS"), "no verdict in:\n{stdout}");
    let kills = stdout
        .lines()
        .find_map(|line| line.strip_prefix("children SIGKILLed"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("kill count in the report");
    assert!(
        kills > 0,
        "the run killed nobody, so it proved nothing:\n{stdout}"
    );
    let acked = stdout
        .lines()
        .find_map(|line| line.strip_prefix("writes acknowledged"))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse::<usize>().ok())
        .expect("ack count in the report");
    assert!(acked > 0, "no write was acknowledged:\n{stdout}");
}
