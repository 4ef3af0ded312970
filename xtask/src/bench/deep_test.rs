// SPDX-License-Identifier: Apache-2.0
//! The depths of a run, and the names the targets look the rows up by.

use super::{depths, op_drain, op_pop, thousands};
use crate::bench::Options;

fn options(quick: bool, deep: bool) -> Options {
    Options {
        quick,
        deep,
        only: Vec::new(),
        json: None,
        dir: None,
        no_release: false,
    }
}

#[test]
fn deep_adds_depth_100000_and_only_deep_does() {
    assert_eq!(depths(&options(false, false)), [100, 1_000, 10_000]);
    assert_eq!(depths(&options(false, true)), [100, 1_000, 10_000, 100_000]);
    assert_eq!(depths(&options(true, true)), [100, 1_000]);
}

#[test]
fn operations_name_the_depth_with_thousands_separators() {
    assert_eq!(thousands(100), "100");
    assert_eq!(thousands(100_000), "100,000");
    assert_eq!(op_pop(10_000), "one pop at depth 10,000");
    assert_eq!(op_drain(100_000), "drain 100,000 entries, total");
}
