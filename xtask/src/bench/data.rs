// SPDX-License-Identifier: Apache-2.0
//! The writes the benchmarks queue and apply, in the new (core) and the old
//! (reedbase-last) types, with the same content.
//!
//! A row is about 125 bytes of JSON: a 1-row write is 185 B and a 100-row
//! write 12.4 KB, close to the sizes measured for the old module in
//! LAST-BEHAVIOUR.md (182 B and 13.8 KB).

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation, now_nanos};
use reedbase_last::concurrent as last;

/// The key and values of row `index` of a write.
fn row_fields(index: usize) -> (String, Vec<String>) {
    (
        format!("user:{index:06}"),
        vec![
            format!("Alice Example {index}"),
            format!("alice.example.{index}@example.com"),
            "London".to_string(),
            "2024-05-01T12:00:00Z".to_string(),
            "active".to_string(),
        ],
    )
}

/// A write of `rows` rows in the new type.
pub fn core_write(rows: usize) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        (0..rows)
            .map(|index| {
                let (key, values) = row_fields(index);
                CsvRow::new(key, values)
            })
            .collect(),
    )
}

/// The same write in the old module's type (`u64` timestamp).
pub fn last_write(rows: usize) -> last::PendingWrite {
    last::PendingWrite {
        rows: (0..rows)
            .map(|index| {
                let (key, values) = row_fields(index);
                last::CsvRow::new(key, values)
            })
            .collect(),
        timestamp: u64::try_from(now_nanos()).unwrap_or(u64::MAX),
        operation: last::WriteOperation::Insert,
    }
}

/// The size in bytes of a write of `rows` rows as JSON (the old module's
/// format), for the tables' notes.
pub fn json_size(rows: usize) -> usize {
    serde_json::to_vec(&core_write(rows)).map_or(0, |bytes| bytes.len())
}
