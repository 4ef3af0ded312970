// SPDX-License-Identifier: Apache-2.0
//! Tests of journal.rs: the format, torn tails, corruption, compaction.

use super::*;

fn record(start: u64, end: u64, token: Option<u64>, ids: &[&str]) -> Record {
    Record {
        start,
        end,
        token,
        ids: ids.iter().map(|id| id.to_string()).collect(),
    }
}

/// A journal with `count` records of one id and 10 bytes each, tokens 1..
fn journal_of(count: u64) -> Journal {
    let mut journal = Journal::new(Header {
        committed: 0,
        token: None,
        generation: 1,
    });
    for n in 0..count {
        journal.push(record(
            n * 10,
            n * 10 + 10,
            Some(n + 1),
            &[&format!("id-{n}")],
        ));
    }
    journal
}

#[test]
fn render_then_parse_gives_the_same_journal() {
    let mut journal = Journal::new(Header {
        committed: 7,
        token: Some(3),
        generation: 42,
    });
    journal.push(record(7, 20, Some(4), &["a", "b-2"]));
    journal.push(record(20, 20, None, &[]));
    let text = journal.render();
    let parsed = Journal::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed, journal);
    assert_eq!(parsed.valid_len, text.len() as u64);
    assert_eq!(parsed.committed(), 20);
    assert_eq!(parsed.highest_token(), Some(4));
    assert!(text.starts_with("reedbase-table-journal 1 7 3 42 "));
}

#[test]
fn a_last_line_without_its_line_break_is_a_torn_tail() {
    let journal = journal_of(2);
    let mut text = journal.render();
    let torn = record(20, 30, None, &["x"]).render();
    text.push_str(&torn[..torn.len() - 1]);
    let parsed = Journal::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed.records, journal.records);
    assert_eq!(parsed.torn_len, torn.len() as u64 - 1);
    assert_eq!(parsed.valid_len, journal.render().len() as u64);
    assert_eq!(parsed.committed(), 20);
}

#[test]
fn a_last_line_with_a_wrong_checksum_is_a_torn_tail() {
    let journal = journal_of(2);
    let mut text = journal.render();
    text.push_str(
        &record(20, 30, None, &["x"])
            .render()
            .replace(" 30 ", " 31 "),
    );
    let parsed = Journal::parse(text.as_bytes()).unwrap();
    assert_eq!(parsed.records.len(), 2);
    assert!(parsed.torn_len > 0);
    // Zeros, as a power cut can leave them past the end of the data.
    let mut zeros = journal.render().into_bytes();
    zeros.extend([0u8; 64]);
    assert_eq!(Journal::parse(&zeros).unwrap().torn_len, 64);
}

#[test]
fn a_damaged_line_before_the_last_is_corruption() {
    let text = journal_of(3).render();
    let damaged = text.replacen("id-1", "id-X", 1);
    let error = Journal::parse(damaged.as_bytes()).unwrap_err();
    assert!(error.contains("line 3"), "{error}");
}

#[test]
fn records_that_are_not_contiguous_are_corruption() {
    let mut journal = journal_of(1);
    journal.records.push(record(15, 20, None, &[]));
    let error = Journal::parse(journal.render().as_bytes()).unwrap_err();
    assert!(error.contains("byte 10 was due"), "{error}");
    let mut backwards = journal_of(1);
    backwards.records.push(record(10, 5, None, &[]));
    assert!(Journal::parse(backwards.render().as_bytes()).is_err());
}

#[test]
fn a_missing_or_foreign_header_is_corruption() {
    assert!(Journal::parse(b"").unwrap_err().contains("empty"));
    let no_break = Header {
        committed: 0,
        token: None,
        generation: 0,
    }
    .render();
    let no_break = no_break.trim_end();
    assert!(
        Journal::parse(no_break.as_bytes())
            .unwrap_err()
            .contains("torn")
    );
    assert!(Journal::parse(b"user:1|Alice\n").is_err());
    let future = "reedbase-table-journal 2 0 - 0".to_string();
    let future = format!("{future} {:016x}\n", checksum(future.as_bytes()));
    assert!(
        Journal::parse(future.as_bytes())
            .unwrap_err()
            .contains("version")
    );
}

#[test]
fn the_checksum_sees_a_single_changed_byte() {
    let line = record(0, 10, Some(1), &["abc"]).render();
    let body = line.trim_end();
    assert!(unseal(body.as_bytes()).is_some());
    let changed = body.replacen("abc", "abd", 1);
    assert!(unseal(changed.as_bytes()).is_none());
}

#[test]
fn the_highest_token_includes_the_header() {
    let mut journal = Journal::new(Header {
        committed: 0,
        token: Some(9),
        generation: 0,
    });
    journal.push(record(0, 1, Some(4), &[]));
    assert_eq!(journal.highest_token(), Some(9));
    assert_eq!(journal_of(0).highest_token(), None);
}

#[test]
fn compaction_keeps_the_newest_records_up_to_the_bound() {
    let journal = journal_of(20);
    assert!(!journal.needs_compaction(10));
    assert!(journal.needs_compaction(9));
    let compacted = journal.compacted(4);
    let ids: Vec<&str> = compacted
        .records
        .iter()
        .map(|r| r.ids[0].as_str())
        .collect();
    assert_eq!(ids, ["id-16", "id-17", "id-18", "id-19"]);
    assert_eq!(compacted.header.committed, 160);
    assert_eq!(compacted.header.token, Some(16));
    assert_eq!(compacted.committed(), journal.committed());
    assert_eq!(compacted.highest_token(), journal.highest_token());
    assert_eq!(compacted.header.generation, journal.header.generation + 1);
    let reparsed = Journal::parse(compacted.render().as_bytes()).unwrap();
    assert_eq!(reparsed, compacted);
}

#[test]
fn compaction_counts_records_without_ids_and_keeps_the_last_whole() {
    let mut journal = journal_of(1);
    for n in 1..30 {
        journal.push(record(n * 10, n * 10 + 10, None, &[]));
    }
    // Direct writes only: bounded by the record count.
    assert_eq!(journal.compacted(5).records.len(), 5);
    // One batch larger than the bound is kept whole.
    let big: Vec<String> = (0..50).map(|n| format!("b{n}")).collect();
    let big: Vec<&str> = big.iter().map(String::as_str).collect();
    journal.push(record(300, 400, None, &big));
    let compacted = journal.compacted(5);
    assert_eq!(compacted.records.len(), 1);
    assert_eq!(compacted.remembered_count(), 50);
}

#[test]
fn appended_records_continue_a_journal_read_before() {
    let full = journal_of(5);
    let text = full.render();
    let mut earlier = Journal::parse(&text.as_bytes()[..journal_of(2).render().len()]).unwrap();
    let mut appended = text.as_bytes()[earlier.valid_len as usize..].to_vec();
    appended.extend_from_slice(b"r 50 6");
    earlier.parse_appended(&appended).unwrap();
    assert_eq!(earlier.records, full.records);
    assert_eq!(earlier.valid_len, full.valid_len);
    assert_eq!(earlier.torn_len, 6);
    // Bytes that do not continue it are refused.
    let mut other = journal_of(2);
    let gap = record(30, 40, None, &["x"]).render();
    let error = other
        .parse_appended(format!("{gap}{gap}").as_bytes())
        .unwrap_err();
    assert!(error.contains("line 4"), "{error}");
}
