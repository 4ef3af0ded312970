// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask stress` (being written).

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`stress` is not written yet".to_string())
}

/// Entry point of the child processes this task spawns (`cargo xtask __stress-child ...`).
pub fn child(_args: &[String]) -> Result<(), String> {
    Err("`stress` has no child roles yet".to_string())
}
