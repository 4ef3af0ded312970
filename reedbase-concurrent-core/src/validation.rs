// SPDX-License-Identifier: Apache-2.0
//! Input checks made once, here, and called by every backend before any file
//! or state is touched.
//!
//! # Table names
//!
//! A table name becomes a directory under `<base>/tables/`, so it must name
//! exactly one directory there and nothing else, and it must read the same
//! to an operator as to the program. [`validate_table_name`] rejects, in
//! this order:
//!
//! 1. the empty string ([`NameRule::Empty`]);
//! 2. more than [`MAX_NAME_BYTES`] bytes ([`NameRule::TooLong`]);
//! 3. `.` and `..`, which name the tables directory or its parent
//!    ([`NameRule::DotOrDotDot`]);
//! 4. `/` or `\` anywhere: `../x` or `/abs` would leave the base directory
//!    ([`NameRule::PathSeparator`]);
//! 5. a leading `.` (hidden files, and room for the layer's own files)
//!    ([`NameRule::LeadingDot`]);
//! 6. a NUL byte ([`NameRule::Nul`]);
//! 7. `:`, a drive prefix (`C:x`) or alternate data stream on Windows
//!    ([`NameRule::DriveOrStream`]);
//! 8. any other control character ([`NameRule::ControlCharacter`]);
//! 9. an invisible or layout-changing character: Unicode format characters
//!    (category Cf, such as U+200B zero width space, U+202E right-to-left
//!    override, U+2066..U+2069 bidirectional isolates, U+FEFF), line and
//!    paragraph separators (U+2028, U+2029), variation selectors, the
//!    combining grapheme joiner and the Hangul fillers, any of which makes a
//!    name look like another one ([`NameRule::InvisibleCharacter`]);
//! 10. white space at the start or the end ([`NameRule::SurroundingWhitespace`]).
//!
//! Look-alike names that pass these rules stay valid: `users` in Latin and
//! `users` with a Cyrillic `е` (U+0435) are two different tables, as are
//! `Users` and `users` (on a case-sensitive file system). The layer cannot
//! tell which one an operator meant; name tables in ASCII where several
//! people type them.
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
//! [`validate_row`] rejects rows that would corrupt a pipe-delimited table or
//! that its reader could not give back byte for byte: an empty key, `|` in
//! the key or a value, a line break (`\n`, `\r`), or any other control
//! character (NUL, escape, DEL, the C1 controls such as U+0085). A tab is
//! allowed.

use crate::error::{ReedError, ReedResult};
pub use crate::rules::{MAX_NAME_BYTES, NameRule, RowField, RowRule};
use crate::types::{CsvRow, PendingWrite};

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
/// assert!(matches!(err, ReedError::InvalidTableName { rule: NameRule::PathSeparator, .. }));
/// assert!(err.to_string().contains("would leave the base directory"));
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
    // The short way, for the names nearly every call brings: ASCII letters,
    // digits, `-` and `_` break none of the rules below (no dot, separator,
    // NUL, colon, control, invisible or space character can be among them).
    if (1..=MAX_NAME_BYTES).contains(&name.len()) && name.bytes().all(is_plain_byte) {
        return Ok(());
    }
    check_every_rule(name)
}

/// [`check_path_component`] without its short way.
fn check_every_rule(name: &str) -> Result<(), NameRule> {
    if name.is_empty() {
        return Err(NameRule::Empty);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(NameRule::TooLong);
    }
    if name == "." || name == ".." {
        return Err(NameRule::DotOrDotDot);
    }
    if name.contains(['/', '\\']) {
        return Err(NameRule::PathSeparator);
    }
    if name.starts_with('.') {
        return Err(NameRule::LeadingDot);
    }
    if name.contains('\0') {
        return Err(NameRule::Nul);
    }
    if name.contains(':') {
        return Err(NameRule::DriveOrStream);
    }
    if name.chars().any(char::is_control) {
        return Err(NameRule::ControlCharacter);
    }
    if name.chars().any(is_invisible) {
        return Err(NameRule::InvisibleCharacter);
    }
    if name.starts_with(char::is_whitespace) || name.ends_with(char::is_whitespace) {
        return Err(NameRule::SurroundingWhitespace);
    }
    Ok(())
}

/// An ASCII letter, digit, `-` or `_`.
fn is_plain_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_'
}

/// Characters that are invisible or change the layout of the text around
/// them: Unicode's format characters (general category Cf, Unicode 15.1),
/// the line and paragraph separators, the combining grapheme joiner,
/// variation selectors and the Hangul fillers.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{0600}'..='\u{0605}'
            | '\u{061C}'
            | '\u{06DD}'
            | '\u{070F}'
            | '\u{0890}'..='\u{0891}'
            | '\u{08E2}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{110BD}'
            | '\u{110CD}'
            | '\u{13430}'..='\u{1343F}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0001}'
            | '\u{E0020}'..='\u{E007F}'
            | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Checks that a row can be written to a pipe-delimited table without
/// corrupting it.
///
/// # Errors
///
/// [`ReedError::InvalidRow`] naming the row key, the field and the rule: an
/// empty key, or `|`, a line break or another control character (see the
/// [module docs](self)) in the key or a value.
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

/// One pass over the field's bytes. Every character looked for is ASCII
/// except the C1 controls (U+0080..U+009F, encoded as `0xC2 0x80..0x9F`), so
/// a byte match cannot fall inside another multi-byte character. A
/// delimiter is reported in preference to a line break, and a line break in
/// preference to another control character, wherever they stand.
fn field_rule(field: &str) -> Option<RowRule> {
    let bytes = field.as_bytes();
    if !has_byte_to_look_at(bytes) {
        return None;
    }
    let mut rule = None;
    for (index, &byte) in bytes.iter().enumerate() {
        match byte {
            b'|' => return Some(RowRule::ContainsDelimiter),
            b'\n' | b'\r' => rule = Some(RowRule::ContainsLineBreak),
            b'\t' => {}
            0x00..=0x1F | 0x7F => {
                rule = rule.or(Some(RowRule::ContainsControlCharacter));
            }
            0xC2 if matches!(bytes.get(index + 1), Some(0x80..=0x9F)) => {
                rule = rule.or(Some(RowRule::ContainsControlCharacter));
            }
            _ => {}
        }
    }
    rule
}

/// False when every byte is printable ASCII other than `|` (0x20..=0x7E
/// without 0x7C): then [`field_rule`] finds nothing. Eight bytes at a time,
/// so that a plain field costs a fraction of the byte-by-byte match; a
/// field with a tab, a control character, `|` or any non-ASCII byte is
/// looked at byte by byte.
fn has_byte_to_look_at(bytes: &[u8]) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    // The high bit of a byte of the result is set where the byte of `word`
    // is below `n` (for `n` at most 0x80 and bytes below 0x80).
    let below = |word: u64, n: u64| word.wrapping_sub(ONES * n) & !word & HIGHS;
    let flagged = |word: u64| {
        let bar = word ^ (ONES * u64::from(b'|'));
        // Bytes of 0x7F and above (DEL and every non-ASCII byte): adding
        // 0x01 to 0x7F sets the high bit; a byte at or above 0x80 has it.
        let high = (word | (word & !HIGHS).wrapping_add(ONES)) & HIGHS;
        below(word & !HIGHS, 0x20) | below(bar & !HIGHS, 0x01) | high
    };
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        if flagged(u64::from_le_bytes(word)) != 0 {
            return true;
        }
    }
    chunks
        .remainder()
        .iter()
        .any(|&b| b < 0x20 || b == b'|' || b >= 0x7F)
}

#[cfg(test)]
#[path = "validation_test.rs"]
mod tests;
