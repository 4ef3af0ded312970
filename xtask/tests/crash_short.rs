// SPDX-License-Identifier: Apache-2.0
//! A short `cargo xtask crash`, so that every CI run cuts the power at
//! every durability boundary of a small workload (2 writers x 2 writes, in
//! the four scenarios) and fails calls with EIO and ENOSPC, and checks every
//! promise after the start-up recipe. It needs root and /dev/fuse: without
//! them it prints SKIPPED, and fails when `REEDBASE_ROOT_REQUIRED=1`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

#[test]
fn power_cuts_at_every_boundary_and_io_errors_keep_every_promise() {
    let output = Command::new(env!("CARGO_BIN_EXE_xtask"))
        .args([
            "crash",
            "--writers",
            "2",
            "--writes",
            "2",
            "--random",
            "3",
            "--io-runs",
            "2",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stderr.contains("cannot mount") {
        assert_ne!(
            std::env::var("REEDBASE_ROOT_REQUIRED").as_deref(),
            Ok("1"),
            "REEDBASE_ROOT_REQUIRED=1 but the crash test cannot mount its file system: {stderr}"
        );
        println!("SKIPPED power_cuts_at_every_boundary: {}", stderr.trim());
        return;
    }
    assert!(
        output.status.success() && stdout.contains("crash: PASS"),
        "crash failed:\n{stdout}\n{stderr}"
    );
    let boundaries: Vec<u64> = stdout
        .lines()
        .filter_map(|line| {
            line.split_once(" durability boundaries")?
                .0
                .rsplit(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(boundaries.len(), 4, "four scenarios:\n{stdout}");
    assert!(boundaries.iter().all(|&count| count > 5), "{boundaries:?}");
    for fault in [
        "fsync fails",
        "write fails",
        "rename fails",
        "unlink fails",
        "mkdir fails",
    ] {
        assert!(stdout.contains(fault), "no {fault} run:\n{stdout}");
    }
}
