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
    /// Builds a row from a key and its values, with the old module's
    /// signature: a `Vec` of the key's own type (so `vec![]` needs no type
    /// annotation), or an array or slice of any string-like type.
    ///
    /// For values of another type than the key's in a `Vec`, or from an
    /// iterator, use [`with_values`](Self::with_values).
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
    /// let empty = CsvRow::new("k", vec![]);
    /// assert!(empty.values.is_empty());
    /// ```
    pub fn new<K, V>(key: K, values: V) -> CsvRow
    where
        K: Into<String>,
        V: RowValues<K>,
    {
        CsvRow {
            key: key.into(),
            values: values.into_values(),
        }
    }

    /// Builds a row from a key and any iterable of string-like values.
    ///
    /// ```
    /// use reedbase_concurrent_core::CsvRow;
    ///
    /// let row = CsvRow::with_values("user:9", (1..=3).map(|n| n.to_string()));
    /// assert_eq!(row.to_csv(), "user:9|1|2|3");
    /// let row = CsvRow::with_values("user:8", vec![String::from("Bob")]);
    /// assert_eq!(row.values, ["Bob"]);
    /// ```
    pub fn with_values<K, I>(key: K, values: I) -> CsvRow
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
    /// assert_eq!(CsvRow::new("k", vec![]).to_csv(), "k|");
    /// ```
    pub fn to_csv(&self) -> String {
        format!("{}|{}", self.key, self.values.join("|"))
    }
}

/// The values [`CsvRow::new`] accepts for a key of type `K`: a `Vec<K>`
/// (the old module's signature, which lets `vec![]` infer its type from the
/// key), or an array or slice of any string-like type.
pub trait RowValues<K> {
    /// The values as owned strings.
    fn into_values(self) -> Vec<String>;
}

impl<K: Into<String>> RowValues<K> for Vec<K> {
    fn into_values(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<K, T: Into<String>, const N: usize> RowValues<K> for [T; N] {
    fn into_values(self) -> Vec<String> {
        self.into_iter().map(Into::into).collect()
    }
}

impl<K, T: Into<String> + Clone> RowValues<K> for &[T] {
    fn into_values(self) -> Vec<String> {
        self.iter().cloned().map(Into::into).collect()
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
