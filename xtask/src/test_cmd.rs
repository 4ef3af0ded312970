// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask test`: the workspace's tests, then the loom models of the
//! in-memory backend (which need `--cfg loom` and so a build of their own,
//! kept in `target/loom` so that it does not evict the normal build).

use std::process::Command;

use crate::workspace::{cargo, target_dir, workspace_root};

/// The loom model test targets of `reedbase-concurrent-mem`.
const LOOM_TESTS: &[&str] = &["loom_lock", "loom_queue"];

/// Runs every test; `Err` names the step that failed.
pub fn run() -> Result<(), String> {
    run_cargo(
        "workspace tests",
        Command::new(cargo()).args(["test", "--workspace", "--all-features"]),
    )?;
    let mut loom = Command::new(cargo());
    loom.args(["test", "--release", "-p", "reedbase-concurrent-mem"]);
    for test in LOOM_TESTS {
        loom.args(["--test", test]);
    }
    loom.env("RUSTFLAGS", "--cfg loom")
        .env("CARGO_TARGET_DIR", target_dir()?.join("loom"));
    run_cargo(
        "loom models of the mem backend (release, --cfg loom)",
        &mut loom,
    )?;
    println!("xtask test: all passed");
    Ok(())
}

fn run_cargo(what: &str, command: &mut Command) -> Result<(), String> {
    println!("== {what}");
    let status = command
        .current_dir(workspace_root())
        .status()
        .map_err(|error| format!("could not start cargo for {what}: {error}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}
