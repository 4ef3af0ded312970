// SPDX-License-Identifier: Apache-2.0
//! Unit tests of [`Rng`]: the range, the fixed sequence of a seed, and the
//! zero seed.

use super::Rng;

#[test]
fn below_stays_in_its_range() {
    let mut rng = Rng::with_seed(42);
    for _ in 0..1000 {
        let n = rng.below(20, 120);
        assert!((20..120).contains(&n), "{n} is outside 20..120");
    }
}

#[test]
fn a_seed_gives_the_xorshift64_sequence() {
    let mut expected = 7_u64;
    let mut rng = Rng::with_seed(7);
    for _ in 0..10 {
        expected ^= expected << 13;
        expected ^= expected >> 7;
        expected ^= expected << 17;
        assert_eq!(rng.below(0, u64::MAX), expected % u64::MAX);
    }
}

#[test]
fn seed_zero_is_taken_as_one() {
    let mut zero = Rng::with_seed(0);
    let mut one = Rng::with_seed(1);
    let drawn: Vec<u64> = (0..5).map(|_| zero.below(0, 1000)).collect();
    let expected: Vec<u64> = (0..5).map(|_| one.below(0, 1000)).collect();
    assert_eq!(drawn, expected);
    assert!(
        drawn.iter().any(|&n| n != 0),
        "a zero state would only give 0"
    );
}
