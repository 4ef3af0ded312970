// SPDX-License-Identifier: Apache-2.0
//! Tests of the claim slots: the line format, reading the slots of files of
//! every length, and writing one slot or all of them.

use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt as _;

use super::{
    BLANK, Claim, SLOT_LEN, SLOTS, encode_claim, parse_claim, read_claims, read_slot, write_slot,
};
use crate::lock::holder::RECORD_LEN;

fn claim(pid: u32, id: u64) -> Claim {
    Claim {
        pid,
        start_ticks: Some(123_456),
        host: "db-1".to_string(),
        id,
        since_ns: 1_767_225_600_000_000_000 + u64::from(pid),
        until_ns: 1_767_225_610_000_000_000,
    }
}

/// A lock file holding a record of `record` bytes, and nothing after.
fn lock_file(record: usize) -> (tempfile::TempDir, File) {
    let dir = tempfile::tempdir().unwrap();
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(dir.path().join("write.lock"))
        .unwrap();
    file.write_all_at(&vec![b'r'; record], 0).unwrap();
    (dir, file)
}

#[test]
fn a_claim_survives_encoding_and_parsing() {
    let claim = claim(4242, 7);
    let slot = encode_claim(&claim);
    assert_eq!(slot.len(), SLOT_LEN);
    assert_eq!(slot[SLOT_LEN - 1], b'\n');
    let line = std::str::from_utf8(&slot).unwrap();
    assert!(line.starts_with("reedbase-lock-turn v1 pid=4242 start=123456 host=db-1 id=7 "));
    assert_eq!(parse_claim(&slot), Some(claim));
}

#[test]
fn an_unknown_start_time_is_a_dash() {
    let claim = Claim {
        start_ticks: None,
        ..claim(1, 1)
    };
    let slot = encode_claim(&claim);
    assert!(std::str::from_utf8(&slot).unwrap().contains(" start=- "));
    assert_eq!(parse_claim(&slot), Some(claim));
}

#[test]
fn blank_torn_and_foreign_slots_hold_no_claim() {
    assert_eq!(parse_claim(&BLANK), None);
    assert_eq!(parse_claim(&[0; SLOT_LEN]), None);
    let mut torn = encode_claim(&claim(4242, 7));
    // Another pid, as a read during a write of another claim could see.
    torn[26] = b'3';
    assert_eq!(parse_claim(&torn), None, "the sum no longer matches");
    let mut foreign = BLANK;
    foreign[..10].copy_from_slice(b"something ");
    assert_eq!(parse_claim(&foreign), None);
}

#[test]
fn a_file_without_slots_has_no_claims() {
    for length in [0, 1, RECORD_LEN - 1, RECORD_LEN, RECORD_LEN + SLOT_LEN - 1] {
        let (_dir, file) = lock_file(length);
        assert_eq!(read_claims(&file).unwrap(), [], "length {length}");
        assert_eq!(read_slot(&file, 0).unwrap(), None);
    }
}

#[test]
fn written_slots_are_read_back_in_slot_order_and_unwritten_ones_hold_nothing() {
    let (_dir, file) = lock_file(RECORD_LEN);
    write_slot(&file, 5, &encode_claim(&claim(5, 1))).unwrap();
    let length = file.metadata().unwrap().len();
    assert_eq!(length, (RECORD_LEN + 6 * SLOT_LEN) as u64);
    assert_eq!(read_claims(&file).unwrap(), [(5, claim(5, 1))]);
    assert_eq!(
        read_slot(&file, 2).unwrap(),
        None,
        "never written: zero bytes"
    );
    write_slot(&file, 2, &encode_claim(&claim(2, 9))).unwrap();
    assert_eq!(
        read_claims(&file).unwrap(),
        [(2, claim(2, 9)), (5, claim(5, 1))]
    );
    assert_eq!(read_slot(&file, 5).unwrap(), Some(claim(5, 1)));
    write_slot(&file, 5, &BLANK).unwrap();
    assert_eq!(read_claims(&file).unwrap(), [(2, claim(2, 9))]);
    assert_eq!(read_slot(&file, 5).unwrap(), None);
    write_slot(&file, SLOTS - 1, &encode_claim(&claim(7, 3))).unwrap();
    assert_eq!(
        read_claims(&file).unwrap(),
        [(2, claim(2, 9)), (SLOTS - 1, claim(7, 3))]
    );
}

#[test]
fn the_record_is_left_alone() {
    let (_dir, file) = lock_file(RECORD_LEN);
    write_slot(&file, 0, &encode_claim(&claim(1, 1))).unwrap();
    write_slot(&file, SLOTS - 1, &encode_claim(&claim(2, 2))).unwrap();
    let mut record = vec![0; RECORD_LEN];
    file.read_exact_at(&mut record, 0).unwrap();
    assert!(record.iter().all(|&byte| byte == b'r'));
}
