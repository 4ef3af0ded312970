// SPDX-License-Identifier: Apache-2.0
//! Tests of the holder record's format.

use std::process;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{
    CLEARED_RECORD, RECORD_LEN, encode_line, fnv1a, host_name, own_record, own_start_ticks,
    parse_record, prefix, record_of,
};

#[test]
fn own_record_round_trips() {
    let now = SystemTime::now();
    let record = own_record(std::process::id(), now);
    assert_eq!(record.len(), RECORD_LEN);
    assert_eq!(record[RECORD_LEN - 1], b'\n');
    let parsed = parse_record(&record).unwrap();
    assert_eq!(parsed.pid, process::id());
    assert_eq!(parsed.host, host_name());
    assert_eq!(parsed.start_ticks, own_start_ticks());
    assert_eq!(parsed.acquired_at, now);
}

#[test]
fn any_record_round_trips_including_an_unknown_start() {
    let at = UNIX_EPOCH + Duration::new(1_767_225_600, 123_456_789);
    let parsed = parse_record(&record_of(4242, None, "db-1", at)).unwrap();
    assert_eq!((parsed.pid, parsed.start_ticks), (4242, None));
    assert_eq!((parsed.host.as_str(), parsed.acquired_at), ("db-1", at));
    let parsed = parse_record(&record_of(7, Some(99), "h", at)).unwrap();
    assert_eq!(parsed.start_ticks, Some(99));
}

#[test]
fn the_record_is_its_line_and_the_hash_of_the_line() {
    for (secs, nanos) in [
        (0, 0),
        (1_767_225_600, 123_456_789),
        (4_102_444_800, 999_999_999),
    ] {
        let at = UNIX_EPOCH + Duration::new(secs, nanos);
        let body = format!(
            "{}{}",
            prefix(4242, Some(99), "db-1"),
            at.duration_since(UNIX_EPOCH).unwrap().as_nanos()
        );
        let line = format!("{body} sum={:016x}", fnv1a(body.as_bytes()));
        assert_eq!(
            record_of(4242, Some(99), "db-1", at),
            encode_line(&line),
            "{line}"
        );
    }
}

#[test]
fn the_record_is_one_readable_line() {
    let record = own_record(std::process::id(), SystemTime::now());
    let text = std::str::from_utf8(&record).unwrap();
    assert!(text.starts_with("reedbase-lock-holder v1 pid="));
    assert_eq!(text.lines().count(), 1);
    assert!(text.trim_end().contains(" sum="));
}

#[test]
fn empty_cleared_and_foreign_contents_are_no_record() {
    assert_eq!(parse_record(b""), None);
    assert_eq!(parse_record(&CLEARED_RECORD), None);
    assert_eq!(parse_record(&[0; RECORD_LEN]), None);
    assert_eq!(parse_record(b"hello\n"), None);
    assert_eq!(parse_record(&[0xff, 0xfe, b'\n']), None);
}

#[test]
fn a_torn_or_altered_record_is_no_record() {
    let at = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    let record = record_of(4242, Some(5), "db-1", at);
    let text = std::str::from_utf8(&record).unwrap().trim_end().to_string();
    // A read that saw only the first part of a new record over a blank one.
    for cut in [30, 60, text.len() - 3] {
        assert_eq!(
            parse_record(&encode_line(&text[..cut])),
            None,
            "cut at {cut}"
        );
    }
    // Two holders' records mixed: the hash no longer matches.
    let mixed = text.replace("pid=4242", "pid=4243");
    assert_eq!(parse_record(&encode_line(&mixed)), None);
    let unsummed = text.rsplit_once(" sum=").unwrap().0;
    assert_eq!(parse_record(&encode_line(unsummed)), None);
}

#[test]
fn the_documented_example_parses() {
    let line = "reedbase-lock-holder v1 pid=4242 start=123456 host=db-1 \
                acquired_ns=1767225600000000000 sum=118c513d6cdca4bc";
    let at = UNIX_EPOCH + Duration::from_secs(1_767_225_600);
    assert_eq!(
        encode_line(line),
        record_of(4242, Some(123_456), "db-1", at)
    );
    let parsed = parse_record(&encode_line(line)).unwrap();
    assert_eq!((parsed.pid, parsed.host.as_str()), (4242, "db-1"));
}
