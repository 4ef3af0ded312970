// SPDX-License-Identifier: Apache-2.0
//! Tests of what a process knows of claims: which claim goes before a
//! waiter, and which read is kept when two are recorded out of order.

use super::TurnsSeen;
use crate::lock::holder::host_name;
use crate::lock::turn_record::Claim;

const NOW: u64 = 1_767_225_600_000_000_000;

fn claim(pid: u32, since_ns: u64) -> Claim {
    Claim {
        pid,
        start_ticks: None,
        host: host_name().to_string(),
        id: 1,
        since_ns,
        until_ns: NOW + 10_000_000_000,
    }
}

/// The place of a waiter that began waiting at `since_ns`.
fn waiter(since_ns: u64) -> (u64, u32, u64) {
    (since_ns, 99, u64::MAX)
}

#[test]
fn nothing_known_goes_before_anyone() {
    let seen = TurnsSeen::default();
    assert!(!seen.any());
    assert_eq!(seen.ahead_of("t", waiter(NOW), NOW), None);
    let read = seen.begin_read();
    seen.record("t", read, Vec::new());
    assert!(
        !seen.any(),
        "an empty read of an unknown table changes nothing"
    );
}

#[test]
fn the_earliest_claim_before_the_waiter_goes_first() {
    let seen = TurnsSeen::default();
    let read = seen.begin_read();
    seen.record(
        "t",
        read,
        vec![
            (0, claim(2, NOW - 20)),
            (3, claim(3, NOW - 30)),
            (5, claim(5, NOW - 10)),
        ],
    );
    assert!(seen.any());
    assert_eq!(
        seen.ahead_of("t", waiter(NOW), NOW),
        Some((3, claim(3, NOW - 30)))
    );
    let earliest = claim(3, NOW - 30).place();
    assert_eq!(
        seen.ahead_of("t", earliest, NOW),
        None,
        "the earliest itself"
    );
    assert_eq!(
        seen.ahead_of("t", waiter(NOW - 25), NOW),
        Some((3, claim(3, NOW - 30)))
    );
    assert_eq!(seen.ahead_of("other", waiter(NOW), NOW), None, "per table");
}

#[test]
fn lapsed_claims_and_claims_of_other_hosts_go_before_nobody() {
    let seen = TurnsSeen::default();
    let lapsed = Claim {
        until_ns: NOW - 1,
        ..claim(2, NOW - 50)
    };
    let foreign = Claim {
        host: format!("{}-elsewhere", host_name()),
        ..claim(3, NOW - 40)
    };
    let read = seen.begin_read();
    seen.record("t", read, vec![(0, lapsed), (1, foreign)]);
    assert_eq!(seen.ahead_of("t", waiter(NOW), NOW), None);
}

#[test]
fn an_older_read_recorded_late_does_not_replace_a_newer_one() {
    let seen = TurnsSeen::default();
    let older = seen.begin_read();
    let newer = seen.begin_read();
    seen.record("t", newer, vec![(1, claim(2, NOW - 20))]);
    seen.record("t", older, Vec::new());
    assert_eq!(
        seen.ahead_of("t", waiter(NOW), NOW),
        Some((1, claim(2, NOW - 20)))
    );
    let newest = seen.begin_read();
    seen.record("t", newest, Vec::new());
    assert_eq!(seen.ahead_of("t", waiter(NOW), NOW), None);
    assert!(!seen.any());
}

#[test]
fn own_claims_are_known_at_once_and_forgotten_when_served() {
    let seen = TurnsSeen::default();
    let mine = claim(std::process::id(), NOW - 20);
    seen.add_own("t", 4, &mine);
    assert_eq!(
        seen.ahead_of("t", waiter(NOW), NOW),
        Some((4, mine.clone()))
    );
    assert_eq!(
        seen.ahead_of("t", mine.place(), NOW),
        None,
        "not ahead of itself"
    );
    // A read begun before the claim was written does not undo it.
    let stale = seen.begin_read() - 1;
    seen.record("t", stale, Vec::new());
    assert_eq!(
        seen.ahead_of("t", waiter(NOW), NOW),
        Some((4, mine.clone()))
    );
    seen.forget("t", mine.place());
    assert_eq!(seen.ahead_of("t", waiter(NOW), NOW), None);
}
