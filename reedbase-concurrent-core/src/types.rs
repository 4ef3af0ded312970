// SPDX-License-Identifier: Apache-2.0
//! The data that travels through a lock or a queue: rows, operations and
//! pending writes.
//!
//! The serde shapes are those of the old module (`rows`, `timestamp`,
//! `operation`; `key`, `values`; operations as the plain strings `"Insert"`,
//! `"Update"`, `"Delete"`), so JSON written by either reads as the other.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

/// One row of a pipe-delimited ReedBase table: a key and its values.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::CsvRow;
///
/// let row = CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
/// assert_eq!(row.to_csv(), "user:1|Alice|alice@example.com");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct CsvRow {
    /// The row key (first column).
    pub key: String,
    /// The remaining columns, in order.
    pub values: Vec<String>,
}

impl CsvRow {
    /// Builds a row from a key and its values.
    ///
    /// The key and the values may be of different string-like types (a
    /// `String` key with `&str` values, say), and the values any iterable:
    /// a `Vec`, an array, an iterator.
    ///
    /// ```
    /// use reedbase_concurrent_core::CsvRow;
    ///
    /// let row = CsvRow::new("k", vec!["a", "b"]);
    /// assert_eq!(row.key, "k");
    /// assert_eq!(row.values, vec!["a".to_string(), "b".to_string()]);
    /// let n = 7;
    /// let row = CsvRow::new(format!("user:{n}"), ["Alice", "alice@example.com"]);
    /// assert_eq!(row.to_csv(), "user:7|Alice|alice@example.com");
    /// let empty = CsvRow::new("k", Vec::<String>::new());
    /// assert!(empty.values.is_empty());
    /// ```
    pub fn new<K, I>(key: K, values: I) -> CsvRow
    where
        K: Into<String>,
        I: IntoIterator,
        I::Item: Into<String>,
    {
        CsvRow {
            key: key.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// Renders the row as `key|v1|v2|...`, exactly as the old module did.
    ///
    /// Nothing is escaped: a field containing `|`, `\n` or `\r` would corrupt
    /// the table, which is why writes are checked with
    /// [`validate_row`](crate::validate_row) before they are queued or
    /// applied. A row with no values renders as `key|`.
    ///
    /// ```
    /// use reedbase_concurrent_core::CsvRow;
    ///
    /// assert_eq!(CsvRow::new("k", Vec::<&str>::new()).to_csv(), "k|");
    /// ```
    pub fn to_csv(&self) -> String {
        format!("{}|{}", self.key, self.values.join("|"))
    }
}

/// What a pending write does to its table.
///
/// Serialised as the plain strings `"Insert"`, `"Update"` and `"Delete"`.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub enum WriteOperation {
    /// Adds rows.
    Insert,
    /// Replaces rows with the same keys.
    Update,
    /// Removes rows with the same keys.
    Delete,
}

/// A write waiting for (or carrying) a table's lock.
///
/// `timestamp` is nanoseconds since the Unix epoch. The old module stored it
/// as `u64`; this type uses `u128`, and JSON of either reads as the other
/// while the value fits in `u64` (it does until the year 2554).
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
///
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])]);
/// assert_eq!(write.rows.len(), 1);
/// assert!(write.timestamp > 0);
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Hash)]
pub struct PendingWrite {
    /// The rows, in the order they are to be applied.
    pub rows: Vec<CsvRow>,
    /// Creation time, nanoseconds since the Unix epoch.
    pub timestamp: u128,
    /// What to do with the rows.
    pub operation: WriteOperation,
}

impl PendingWrite {
    /// Builds a write stamped with the current time.
    pub fn new(operation: WriteOperation, rows: Vec<CsvRow>) -> PendingWrite {
        PendingWrite {
            rows,
            timestamp: now_nanos(),
            operation,
        }
    }
}

/// The current time as nanoseconds since the Unix epoch (0 if the clock is
/// set before the epoch).
pub fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

#[cfg(test)]
#[path = "types_test.rs"]
mod tests;
