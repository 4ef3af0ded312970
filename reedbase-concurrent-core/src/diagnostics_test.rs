// SPDX-License-Identifier: Apache-2.0

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::*;

#[test]
fn holder_names_what_is_known() {
    let at = UNIX_EPOCH + Duration::from_secs(86_400 * 20_000 + 3_661);
    let holder = LockHolder::new(Some(7), Some("db-2".into()), Some(at));
    assert_eq!(
        holder.to_string(),
        "pid 7 on db-2 since 2024-10-04 01:01:01 UTC"
    );
    let no_host = LockHolder::new(Some(7), None, None);
    assert_eq!(no_host.to_string(), "pid 7");
    let no_pid = LockHolder::new(None, Some("db-2".into()), None);
    assert_eq!(no_pid.to_string(), "an unknown process on db-2");
    assert!(!no_pid.is_unknown());
}

#[test]
fn holder_today_shows_time_only() {
    let now = SystemTime::now();
    let text = LockHolder::new(Some(1), None, Some(now)).to_string();
    assert!(text.ends_with(" UTC"), "{text}");
    assert!(!text.contains('-'), "today's date is left out: {text}");
}

#[test]
fn civil_dates_are_right() {
    assert_eq!(civil_from_days(0), (1970, 1, 1));
    assert_eq!(civil_from_days(59), (1970, 3, 1));
    assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    assert_eq!(civil_from_days(20_000), (2024, 10, 4));
}

#[test]
fn durations_read_well() {
    assert_eq!(human_duration(Duration::from_micros(850)), "850 us");
    assert_eq!(human_duration(Duration::from_micros(12_340)), "12.3 ms");
    assert_eq!(human_duration(Duration::from_millis(2_500)), "2.50 s");
}

#[test]
fn dead_letter_reason_carries_its_count() {
    let reason = MovedAside::dead_letter_reason(12, &"no space left on device");
    assert_eq!(
        reason,
        "dead letter: applying it failed 12 times; last error: no space left on device"
    );
    let moved = MovedAside::new("id", reason, "somewhere");
    assert_eq!(moved.attempts, Some(12));
    assert!(moved.is_dead_letter());
    let corrupt = MovedAside::new("id", "dead letter: applying it failed often", "x");
    assert_eq!(corrupt.attempts, None);
    assert!(!MovedAside::new("id", "JSON entry does not parse", "x").is_dead_letter());
}
