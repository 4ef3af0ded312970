// SPDX-License-Identifier: Apache-2.0
//! The old module's data types: rows, operations and pending writes.
//!
//! Serialised by serde_json with the derived field names (`rows`,
//! `timestamp`, `operation`; `key`, `values`) and operations as the plain
//! strings `"Insert"`, `"Update"`, `"Delete"`.

use serde::{Deserialize, Serialize};

/// One row of a pipe-delimited table: a key and its values.
///
/// # Examples
///
/// ```
/// use reedbase_last::concurrent::CsvRow;
///
/// let row = CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
/// assert_eq!(row.to_csv(), "user:1|Alice|alice@example.com");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct CsvRow {
    /// The row key (first column).
    pub key: String,
    /// The remaining columns, in order.
    pub values: Vec<String>,
}

impl CsvRow {
    /// Builds a row from a key and its values.
    ///
    /// ```
    /// use reedbase_last::concurrent::CsvRow;
    ///
    /// let row = CsvRow::new("k", vec!["a", "b"]);
    /// assert_eq!(row.values, vec!["a".to_string(), "b".to_string()]);
    /// ```
    pub fn new<S: Into<String>>(key: S, values: Vec<S>) -> CsvRow {
        CsvRow {
            key: key.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }

    /// Renders the row as `key|v1|v2|...`.
    ///
    /// Nothing is escaped (a `|` or a line break in a field corrupts the
    /// table); a row with no values renders as `key|`.
    ///
    /// ```
    /// use reedbase_last::concurrent::CsvRow;
    ///
    /// assert_eq!(CsvRow::new("k", Vec::<&str>::new()).to_csv(), "k|");
    /// ```
    pub fn to_csv(&self) -> String {
        format!("{}|{}", self.key, self.values.join("|"))
    }
}

/// What a pending write does to its table.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub enum WriteOperation {
    /// Adds rows.
    Insert,
    /// Replaces rows with the same keys.
    Update,
    /// Removes rows with the same keys.
    Delete,
}

/// A write waiting in a table's queue.
///
/// # Examples
///
/// ```
/// use reedbase_last::concurrent::{CsvRow, PendingWrite, WriteOperation};
///
/// let write = PendingWrite {
///     rows: vec![CsvRow::new("k", vec!["v"])],
///     timestamp: 1,
///     operation: WriteOperation::Insert,
/// };
/// assert_eq!(write.rows[0].to_csv(), "k|v");
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct PendingWrite {
    /// The rows, in the order they are to be applied.
    pub rows: Vec<CsvRow>,
    /// Creation time, nanoseconds since the Unix epoch, as `u64`.
    pub timestamp: u64,
    /// What to do with the rows.
    pub operation: WriteOperation,
}

#[cfg(test)]
#[path = "types_test.rs"]
mod tests;
