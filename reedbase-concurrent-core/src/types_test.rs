// SPDX-License-Identifier: Apache-2.0
//! Tests of `types.rs`: the row and write types and their JSON, which must
//! stay readable by (and read) the old module.

use serde::Deserialize;

use crate::{CsvRow, PendingWrite, WriteOperation, now_nanos};

/// The old module's `PendingWrite`, as `docs/old-module.md` describes it: the
/// same field names, but a `u64` timestamp.
#[derive(Debug, Deserialize, PartialEq)]
struct OldPendingWrite {
    rows: Vec<OldCsvRow>,
    timestamp: u64,
    operation: OldWriteOperation,
}

#[derive(Debug, Deserialize, PartialEq)]
struct OldCsvRow {
    key: String,
    values: Vec<String>,
}

#[derive(Debug, Deserialize, PartialEq)]
enum OldWriteOperation {
    Insert,
    Update,
    Delete,
}

/// JSON exactly as the old module's serde_json wrote it.
const OLD_JSON: &str =
    r#"{"rows":[{"key":"k","values":["a"]}],"timestamp":1732600000000000000,"operation":"Insert"}"#;

#[test]
fn csv_row_new_takes_key_and_values() {
    let row = CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
    assert_eq!(row.key, "user:1");
    assert_eq!(
        row.values,
        vec!["Alice".to_string(), "alice@example.com".to_string()]
    );

    let owned = CsvRow::new(String::from("k"), vec![String::from("v")]);
    assert_eq!(
        owned,
        CsvRow {
            key: "k".into(),
            values: vec!["v".into()]
        }
    );
}

#[test]
fn to_csv_joins_key_and_values_with_pipes() {
    let row = CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
    assert_eq!(row.to_csv(), "user:1|Alice|alice@example.com");
}

#[test]
fn to_csv_of_row_without_values_ends_in_pipe() {
    assert_eq!(CsvRow::new("key", vec![]).to_csv(), "key|");
}

#[test]
fn to_csv_escapes_nothing() {
    // As the old module: validation, not escaping, keeps tables intact.
    let row = CsvRow::new("k", vec!["a|b", "", "c"]);
    assert_eq!(row.to_csv(), "k|a|b||c");
}

#[test]
fn pending_write_new_stamps_current_time() {
    let before = now_nanos();
    let write = PendingWrite::new(WriteOperation::Update, vec![CsvRow::new("k", vec!["v"])]);
    let after = now_nanos();
    assert!(before <= write.timestamp && write.timestamp <= after);
    assert_eq!(write.operation, WriteOperation::Update);
    assert_eq!(write.rows, vec![CsvRow::new("k", vec!["v"])]);
}

#[test]
fn now_nanos_is_after_2024_and_fits_u64() {
    let now = now_nanos();
    assert!(now > 1_704_067_200_000_000_000, "now_nanos() = {now}");
    assert!(u64::try_from(now).is_ok());
}

#[test]
fn pending_write_survives_json_round_trip() {
    let write = PendingWrite {
        rows: vec![
            CsvRow::new("user:1", vec!["Alice", "alice@example.com"]),
            CsvRow::new("user:2", vec![]),
            CsvRow::new("grüße", vec!["世界", "\"quoted\"", "back\\slash"]),
        ],
        timestamp: 1_732_600_000_123_456_789,
        operation: WriteOperation::Delete,
    };
    let json = serde_json::to_string(&write).unwrap();
    let back: PendingWrite = serde_json::from_str(&json).unwrap();
    assert_eq!(back, write);
}

#[test]
fn old_module_json_reads_as_pending_write() {
    let write: PendingWrite = serde_json::from_str(OLD_JSON).unwrap();
    assert_eq!(
        write,
        PendingWrite {
            rows: vec![CsvRow::new("k", vec!["a"])],
            timestamp: 1_732_600_000_000_000_000,
            operation: WriteOperation::Insert,
        }
    );
}

#[test]
fn old_module_json_with_largest_u64_timestamp_reads_as_pending_write() {
    let json = r#"{"rows":[],"timestamp":18446744073709551615,"operation":"Delete"}"#;
    let write: PendingWrite = serde_json::from_str(json).unwrap();
    assert_eq!(write.timestamp, u128::from(u64::MAX));
    assert_eq!(write.operation, WriteOperation::Delete);
}

#[test]
fn pending_write_json_has_the_old_shape() {
    let write = PendingWrite {
        rows: vec![CsvRow::new("k", vec!["a"])],
        timestamp: 1_732_600_000_000_000_000,
        operation: WriteOperation::Insert,
    };
    assert_eq!(serde_json::to_string(&write).unwrap(), OLD_JSON);
}

#[test]
fn pending_write_json_reads_as_old_module_type_while_timestamp_fits_u64() {
    let write = PendingWrite {
        rows: vec![CsvRow::new("k", vec!["a", "b"]), CsvRow::new("e", vec![])],
        timestamp: u128::from(u64::MAX),
        operation: WriteOperation::Update,
    };
    let json = serde_json::to_string(&write).unwrap();
    assert_eq!(
        json,
        r#"{"rows":[{"key":"k","values":["a","b"]},{"key":"e","values":[]}],"timestamp":18446744073709551615,"operation":"Update"}"#
    );
    let old: OldPendingWrite = serde_json::from_str(&json).unwrap();
    assert_eq!(
        old,
        OldPendingWrite {
            rows: vec![
                OldCsvRow {
                    key: "k".into(),
                    values: vec!["a".into(), "b".into()]
                },
                OldCsvRow {
                    key: "e".into(),
                    values: vec![]
                },
            ],
            timestamp: u64::MAX,
            operation: OldWriteOperation::Update,
        }
    );
}

#[test]
fn pending_write_json_with_timestamp_above_u64_does_not_read_as_old_type() {
    let write = PendingWrite {
        rows: vec![CsvRow::new("k", vec!["a"])],
        timestamp: u128::from(u64::MAX) + 1,
        operation: WriteOperation::Insert,
    };
    let json = serde_json::to_string(&write).unwrap();
    assert!(
        json.contains(r#""timestamp":18446744073709551616"#),
        "{json}"
    );
    assert!(serde_json::from_str::<OldPendingWrite>(&json).is_err());
    // The new type still reads it.
    assert_eq!(serde_json::from_str::<PendingWrite>(&json).unwrap(), write);
}

#[test]
fn operations_serialise_as_plain_strings() {
    for (operation, text) in [
        (WriteOperation::Insert, r#""Insert""#),
        (WriteOperation::Update, r#""Update""#),
        (WriteOperation::Delete, r#""Delete""#),
    ] {
        assert_eq!(serde_json::to_string(&operation).unwrap(), text);
        assert_eq!(
            serde_json::from_str::<WriteOperation>(text).unwrap(),
            operation
        );
    }
    assert!(serde_json::from_str::<WriteOperation>(r#""insert""#).is_err());
}
