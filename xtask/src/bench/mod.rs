// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask bench` (being written).

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`bench` is not written yet".to_string())
}

/// Entry point of the child processes this task spawns (`cargo xtask __bench-child ...`).
pub fn child(_args: &[String]) -> Result<(), String> {
    Err("`bench` has no child roles yet".to_string())
}
