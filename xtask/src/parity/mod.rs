// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask parity` (being written).

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`parity` is not written yet".to_string())
}
