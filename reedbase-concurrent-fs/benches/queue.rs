// SPDX-License-Identifier: Apache-2.0
//! Being written.
fn main() {}
