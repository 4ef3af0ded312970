// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask stress` (being written).

pub fn run(_args: &[String]) -> Result<(), String> {
    Err("`stress` is not written yet".to_string())
}
