// SPDX-License-Identifier: Apache-2.0
use std::time::Duration;

use super::PrepareTime;

#[test]
fn the_first_measurement_is_the_estimate_and_later_ones_move_it_a_quarter() {
    let time = PrepareTime::default();
    assert_eq!(time.get(), Duration::ZERO);
    time.record(Duration::from_micros(800));
    assert_eq!(time.get(), Duration::from_micros(800));
    time.record(Duration::from_micros(400));
    assert_eq!(time.get(), Duration::from_micros(700));
    for _ in 0..40 {
        time.record(Duration::from_micros(100));
    }
    let settled = time.get();
    assert!(
        settled >= Duration::from_micros(100) && settled < Duration::from_micros(101),
        "{settled:?}"
    );
}

#[test]
fn a_clone_starts_from_the_estimate_and_goes_its_own_way() {
    let time = PrepareTime::default();
    time.record(Duration::from_millis(2));
    let clone = time.clone();
    clone.record(Duration::from_millis(6));
    assert_eq!(time.get(), Duration::from_millis(2));
    assert_eq!(clone.get(), Duration::from_millis(3));
}

#[test]
fn a_huge_measurement_saturates_instead_of_wrapping() {
    let time = PrepareTime::default();
    time.record(Duration::MAX);
    assert_eq!(time.get(), Duration::from_nanos(u64::MAX));
    time.record(Duration::ZERO);
    assert!(time.get() > Duration::from_secs(1));
}
