// SPDX-License-Identifier: Apache-2.0
//! The rules an input can break ([`NameRule`], [`RowRule`], with the
//! [`RowField`] that broke it), as the validation reports them and the
//! errors carry them. Where each rule is checked:
//! [`validation`](crate::validation).

use std::fmt;

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
    /// It contains `/` or `\`, so it would name a path elsewhere (`../x`
    /// leaves the base directory, `/abs` is absolute).
    PathSeparator,
    /// It contains `:`.
    DriveOrStream,
    /// It contains a control character.
    ControlCharacter,
    /// It contains an invisible or layout-changing character (zero width,
    /// bidirectional override, ...) that makes it look like another name.
    InvisibleCharacter,
    /// It starts or ends with white space.
    SurroundingWhitespace,
    /// It contains a character outside `[A-Za-z0-9_-]` (queue ids only).
    InvalidCharacter,
}

impl fmt::Display for NameRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            NameRule::Empty => "must not be empty",
            NameRule::TooLong => "must be at most 128 bytes long",
            NameRule::DotOrDotDot => {
                "must not be '.' or '..': it would name the tables directory or leave the base directory"
            }
            NameRule::LeadingDot => {
                "must not start with '.' (such names are reserved for the layer's own files)"
            }
            NameRule::Nul => "must not contain a NUL byte",
            NameRule::PathSeparator => {
                "must not contain '/' or '\\': it would leave the base directory or name a path inside another table"
            }
            NameRule::DriveOrStream => "must not contain ':'",
            NameRule::ControlCharacter => "must not contain control characters",
            NameRule::InvisibleCharacter => {
                "must not contain invisible or layout-changing characters (such as U+200B or U+202E), which make it look like another name"
            }
            NameRule::SurroundingWhitespace => "must not start or end with white space",
            NameRule::InvalidCharacter => "may contain only ASCII letters, digits, '-' and '_'",
        };
        f.write_str(text)
    }
}

/// Which field of a row broke a [`RowRule`].
///
/// Displayed with positions counted from 1, as a person counts columns:
/// `key (column 1)`, `value 1 (column 2)`, ...
///
/// ```
/// use reedbase_concurrent_core::RowField;
///
/// assert_eq!(RowField::Key.to_string(), "key (column 1)");
/// assert_eq!(RowField::Value(0).to_string(), "value 1 (column 2)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowField {
    /// The key.
    Key,
    /// The value at this index (0-based) in `values`.
    Value(usize),
}

impl RowField {
    /// The field's column in the table, counted from 1 (the key is column 1).
    pub fn column(&self) -> usize {
        match self {
            RowField::Key => 1,
            RowField::Value(index) => index + 2,
        }
    }
}

impl fmt::Display for RowField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RowField::Key => f.write_str("key (column 1)"),
            RowField::Value(index) => write!(f, "value {} (column {})", index + 1, index + 2),
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
    /// The field contains another control character (NUL, escape, DEL, a C1
    /// control) that the table's reader could not give back unchanged.
    ContainsControlCharacter,
}

impl fmt::Display for RowRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = match self {
            RowRule::EmptyKey => "must not be empty",
            RowRule::ContainsDelimiter => "must not contain '|'",
            RowRule::ContainsLineBreak => "must not contain a line break ('\\n' or '\\r')",
            RowRule::ContainsControlCharacter => {
                "must not contain control characters other than tab (NUL, escape, DEL, C1 controls)"
            }
        };
        f.write_str(text)
    }
}
