// SPDX-License-Identifier: Apache-2.0
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use serde_json::json;

use super::{Column, Plan, interleave, measurements, paired_ratio};
use crate::bench::measure::{Measurement, Stats, Unit};

fn column(label: &'static str, round_means: &[f64]) -> Measurement {
    Measurement {
        group: super::GROUP,
        operation: "op".into(),
        backend: label.into(),
        unit: Unit::Nanos,
        stats: Stats::from_values(round_means.to_vec()),
        detail: Some(json!({ "round_means": round_means })),
    }
}

#[test]
fn the_ratio_is_taken_within_each_round_then_its_median() {
    // The machine slows down tenfold in round 2: the ratio of the medians
    // (12 vs 50, 4.2x) would measure that; the rounds' own ratios do not.
    let new = column("fs", &[10.0, 100.0, 12.0]);
    let peer = column("last", &[50.0, 110.0, 13.0]);
    let ratio = paired_ratio(&new, &peer).unwrap();
    assert!((ratio.median - 1.1).abs() < 1e-9, "{ratio:?}");
    assert!((ratio.p10 - 13.0 / 12.0).abs() < 1e-9, "{ratio:?}");
    assert!((ratio.p90 - 5.0).abs() < 1e-9, "{ratio:?}");
    assert_eq!(ratio.rounds, 3);
}

#[test]
fn no_ratio_without_matching_rounds() {
    let three = column("fs", &[1.0, 2.0, 3.0]);
    assert!(paired_ratio(&three, &column("last", &[1.0, 2.0])).is_none());
    assert!(paired_ratio(&column("fs", &[1.0, 0.0]), &column("last", &[1.0, 2.0])).is_none());
    let mut bare = column("last", &[1.0, 2.0, 3.0]);
    bare.detail = None;
    assert!(paired_ratio(&three, &bare).is_none());
}

#[test]
fn rounds_turn_the_columns_order_and_keep_each_columns_means() {
    let order = Rc::new(RefCell::new(Vec::new()));
    let made = |label: &'static str, nanos: u64| {
        let order = order.clone();
        Column {
            label,
            call: Box::new(move || {
                order.borrow_mut().push(label);
                Ok(Duration::from_nanos(nanos))
            }),
        }
    };
    let mut columns = [made("a", 100), made("b", 200), made("c", 300)];
    let plan = Plan {
        rounds: 3,
        burst: Duration::from_nanos(250),
    };
    let means = interleave(&mut columns, plan).unwrap();
    assert_eq!(means, vec![vec![100.0; 3], vec![200.0; 3], vec![300.0; 3]]);
    // Warm-up: a, b, c until 250 ns each (3, 2, 1 calls); then the rounds
    // a b c, b c a, c a b with those counts.
    let calls = |label, n| std::iter::repeat_n(label, n);
    let expected: Vec<&str> = [("a", 3), ("b", 2), ("c", 1)]
        .into_iter()
        .chain([("a", 3), ("b", 2), ("c", 1)])
        .chain([("b", 2), ("c", 1), ("a", 3)])
        .chain([("c", 1), ("a", 3), ("b", 2)])
        .flat_map(|(label, n)| calls(label, n))
        .collect();
    assert_eq!(*order.borrow(), expected);
    let found = measurements("op", &["a", "b", "c"], means);
    assert_eq!(found[1].backend, "b");
    assert_eq!(found[1].stats.median, 200.0);
    assert!(paired_ratio(&found[1], &found[0]).is_some_and(|r| r.median == 0.5));
}

#[test]
fn a_failing_call_names_its_column() {
    let mut columns = [Column {
        label: "broken",
        call: Box::new(|| Err("refused".to_string())),
    }];
    let plan = Plan {
        rounds: 1,
        burst: Duration::from_millis(1),
    };
    let error = interleave(&mut columns, plan).unwrap_err();
    assert_eq!(error, "broken: refused");
}
