// SPDX-License-Identifier: Apache-2.0
//! Input checks made once, here, and called by every backend before any file
//! or state is touched.
//!
//! # Table names
//!
//! A table name becomes a directory under `<base>/tables/`, so it must name
//! exactly one directory there and nothing else. [`validate_table_name`]
//! rejects, in this order:
//!
//! 1. the empty string ([`NameRule::Empty`]);
//! 2. more than [`MAX_NAME_BYTES`] bytes ([`NameRule::TooLong`]);
//! 3. `.` and `..` ([`NameRule::DotOrDotDot`]);
//! 4. a leading `.` (hidden files, and room for the layer's own files)
//!    ([`NameRule::LeadingDot`]);
//! 5. a NUL byte ([`NameRule::Nul`]);
//! 6. `/` or `\` anywhere, which also rules out absolute Unix paths and
//!    UNC paths ([`NameRule::PathSeparator`]);
//! 7. `:`, a drive prefix (`C:x`) or alternate data stream on Windows
//!    ([`NameRule::DriveOrStream`]);
//! 8. any other control character ([`NameRule::ControlCharacter`]).
//!
//! # Queue ids
//!
//! [`validate_queue_id`] applies the same rules, then allows only ASCII
//! letters, digits, `-` and `_` ([`NameRule::InvalidCharacter`]). Old-module
//! ids (hyphenated UUIDs) and every id a backend of this workspace produces
//! pass.
//!
//! # Rows
//!
//! [`validate_row`] rejects rows that would corrupt a pipe-delimited table:
//! an empty key, or `|`, `\n` or `\r` in the key or any value.

use std::fmt;

use crate::error::{ReedError, ReedResult};
use crate::types::{CsvRow, PendingWrite};

/// The longest table name or queue id accepted, in bytes.
pub const MAX_NAME_BYTES: usize = 128;

/// The rule a table name or queue id broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NameRule {
    /// It is empty.
    Empty,
    /// It is longer than [`MAX_NAME_BYTES`].
    TooLong,
    /// It is `.` or `..`.
    DotOrDotDot,
    /// It starts with `.`.
    LeadingDot,
    /// It contains a NUL byte.
    Nul,
    /// It contains `/` or `\`, or is an absolute path.
    PathSeparator,
    /// It contains `:`.
    DriveOrStream,
    /// It contains a control character.
    ControlCharacter,
    /// It contains a character outside `[A-Za-z0-9_-]` (queue ids only).
    InvalidCharacter,
}

impl fmt::Display for NameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            NameRule::Empty => "must not be empty",
            NameRule::TooLong => "must be at most 128 bytes long",
            NameRule::DotOrDotDot => "must not be '.' or '..'",
            NameRule::LeadingDot => "must not start with '.'",
            NameRule::Nul => "must not contain a NUL byte",
            NameRule::PathSeparator => "must not contain '/' or '\\' (or be an absolute path)",
            NameRule::DriveOrStream => "must not contain ':'",
            NameRule::ControlCharacter => "must not contain control characters",
            NameRule::InvalidCharacter => "may contain only ASCII letters, digits, '-' and '_'",
        };
        f.write_str(text)
    }
}

/// Which field of a row broke a [`RowRule`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowField {
    /// The key.
    Key,
    /// The value at this index (0-based) in `values`.
    Value(usize),
}

impl fmt::Display for RowField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowField::Key => f.write_str("key"),
            RowField::Value(index) => write!(f, "value {index}"),
        }
    }
}

/// What is wrong with a row field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RowRule {
    /// The key is empty.
    EmptyKey,
    /// The field contains `|`, the column delimiter.
    ContainsDelimiter,
    /// The field contains `\n` or `\r`, the row delimiter.
    ContainsLineBreak,
}

impl fmt::Display for RowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RowRule::EmptyKey => "must not be empty",
            RowRule::ContainsDelimiter => "must not contain '|'",
            RowRule::ContainsLineBreak => "must not contain a line break ('\\n' or '\\r')",
        };
        f.write_str(text)
    }
}

/// Checks a table name against the rules in the [module docs](self).
///
/// # Errors
///
/// [`ReedError::InvalidTableName`] naming the input and the first rule it
/// broke.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{validate_table_name, NameRule, ReedError};
///
/// assert!(validate_table_name("users").is_ok());
/// let err = validate_table_name("../x").unwrap_err();
/// assert!(matches!(err, ReedError::InvalidTableName { rule: NameRule::LeadingDot, .. }));
/// ```
pub fn validate_table_name(name: &str) -> ReedResult<()> {
    check_path_component(name).map_err(|rule| ReedError::InvalidTableName {
        name: name.to_string(),
        rule,
    })
}

/// Checks a queue id against the rules in the [module docs](self).
///
/// # Errors
///
/// [`ReedError::InvalidQueueId`] naming the input and the first rule it broke.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{validate_queue_id, NameRule, ReedError};
///
/// assert!(validate_queue_id("6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11").is_ok());
/// let err = validate_queue_id("../../x").unwrap_err();
/// assert!(matches!(err, ReedError::InvalidQueueId { .. }));
/// ```
pub fn validate_queue_id(id: &str) -> ReedResult<()> {
    let checked = check_path_component(id).and_then(|()| {
        if id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            Ok(())
        } else {
            Err(NameRule::InvalidCharacter)
        }
    });
    checked.map_err(|rule| ReedError::InvalidQueueId {
        id: id.to_string(),
        rule,
    })
}

fn check_path_component(name: &str) -> Result<(), NameRule> {
    if name.is_empty() {
        return Err(NameRule::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameRule::TooLong);
    }
    if name == "." || name == ".." {
        return Err(NameRule::DotOrDotDot);
    }
    if name.starts_with('.') {
        return Err(NameRule::LeadingDot);
    }
    if name.contains('\0') {
        return Err(NameRule::Nul);
    }
    if name.contains(['/', '\\']) {
        return Err(NameRule::PathSeparator);
    }
    if name.contains(':') {
        return Err(NameRule::DriveOrStream);
    }
    if name.chars().any(char::is_control) {
        return Err(NameRule::ControlCharacter);
    }
    Ok(())
}

/// Checks that a row can be written to a pipe-delimited table without
/// corrupting it.
///
/// # Errors
///
/// [`ReedError::InvalidRow`] naming the row key, the field and the rule: an
/// empty key, or `|`, `\n` or `\r` in the key or a value.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{validate_row, CsvRow, ReedError, RowField};
///
/// assert!(validate_row(&CsvRow::new("user:1", vec!["Alice"])).is_ok());
/// let err = validate_row(&CsvRow::new("user:1", vec!["Al|ice"])).unwrap_err();
/// assert!(matches!(err, ReedError::InvalidRow { field: RowField::Value(0), .. }));
/// ```
pub fn validate_row(row: &CsvRow) -> ReedResult<()> {
    let fail = |field, rule| ReedError::InvalidRow {
        key: row.key.clone(),
        field,
        rule,
    };
    if row.key.is_empty() {
        return Err(fail(RowField::Key, RowRule::EmptyKey));
    }
    if let Some(rule) = field_rule(&row.key) {
        return Err(fail(RowField::Key, rule));
    }
    for (index, value) in row.values.iter().enumerate() {
        if let Some(rule) = field_rule(value) {
            return Err(fail(RowField::Value(index), rule));
        }
    }
    Ok(())
}

/// Checks every row of a write with [`validate_row`].
///
/// # Errors
///
/// The first row's [`ReedError::InvalidRow`].
pub fn validate_write(write: &PendingWrite) -> ReedResult<()> {
    write.rows.iter().try_for_each(validate_row)
}

/// One pass over the field's bytes (all three characters are ASCII, so a
/// byte match cannot fall inside a multi-byte character); a delimiter is
/// reported in preference to a line break.
fn field_rule(field: &str) -> Option<RowRule> {
    let mut rule = None;
    for byte in field.bytes() {
        match byte {
            b'|' => return Some(RowRule::ContainsDelimiter),
            b'\n' | b'\r' => rule = Some(RowRule::ContainsLineBreak),
            _ => {}
        }
    }
    rule
}
