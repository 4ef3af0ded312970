// SPDX-License-Identifier: Apache-2.0
use reedbase_concurrent_core::{CsvRow, WriteOperation};

use super::*;

#[test]
fn decode_reads_the_file_queues_json() {
    // As the old module and the fs backend write an entry.
    let body = br#"{"rows":[{"key":"user:1","values":["Alice","alice@example.com"]}],"timestamp":1700000000000000000,"operation":"Insert"}"#;
    let write = decode("0b5c1e8f-9d0a-4c6e-8e7f-1a2b3c4d5e6f", body).unwrap();
    assert_eq!(write.operation, WriteOperation::Insert);
    assert_eq!(
        write.rows,
        vec![CsvRow::new("user:1", ["Alice", "alice@example.com"])]
    );
    assert_eq!(write.timestamp, 1_700_000_000_000_000_000);
}

#[test]
fn decode_names_what_is_wrong() {
    let good = br#"{"rows":[],"timestamp":1,"operation":"Delete"}"#;
    let reason = decode("../x", good).unwrap_err();
    assert!(reason.contains("not a queue id"), "{reason}");
    let reason = decode("id-1", b"{\"rows\":[").unwrap_err();
    assert!(reason.contains("does not parse"), "{reason}");
    let bad_row = br#"{"rows":[{"key":"a|b","values":[]}],"timestamp":1,"operation":"Insert"}"#;
    let reason = decode("id-2", bad_row).unwrap_err();
    assert!(reason.contains("would corrupt the table"), "{reason}");
}
