// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask parity` (being written).

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`parity` is not written yet".to_string())
}

/// Entry point of the child processes this task spawns (`cargo xtask __parity-child ...`).
pub fn child(_args: &[String]) -> Result<(), String> {
    Err("`parity` has no child roles yet".to_string())
}
