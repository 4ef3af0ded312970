// SPDX-License-Identifier: Apache-2.0
//! The type tests the old module shipped, rewritten.
//!
//! Rewrites, not copies: the shipped test files are not in this workspace.
//! Each test here has the scenario and name of one the old module shipped
//! (`docs/old-module.md` lists them); its assertions were written here from
//! the behaviour that page states, so they may check more or less than the
//! shipped test did.

use crate::concurrent::types::{CsvRow, PendingWrite, WriteOperation};

#[test]
fn test_csv_row_new() {
    let row = CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
    assert_eq!(row.key, "user:1");
    assert_eq!(
        row.values,
        vec!["Alice".to_string(), "alice@example.com".to_string()]
    );
}

#[test]
fn test_csv_row_to_csv() {
    let row = CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
    assert_eq!(row.to_csv(), "user:1|Alice|alice@example.com");
}

#[test]
fn test_pending_write_serialisation() {
    let write = PendingWrite {
        rows: vec![CsvRow::new("user:1", vec!["Alice", "alice@example.com"])],
        timestamp: 1_234_567_890,
        operation: WriteOperation::Insert,
    };
    let json = serde_json::to_string(&write).expect("serialise");
    let back: PendingWrite = serde_json::from_str(&json).expect("deserialise");
    assert_eq!(back, write);
}
