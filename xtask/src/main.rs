// SPDX-License-Identifier: Apache-2.0
//! Developer tasks (being written).
fn main() {}
