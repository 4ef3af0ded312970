// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask bench` (being written).

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`bench` is not written yet".to_string())
}
