// SPDX-License-Identifier: Apache-2.0
//! The one list of bad table names, bad queue ids and unknown queue ids,
//! shared by the cases and the operation model.
//!
//! Each bad name carries the rule it breaks, written out here by hand (not
//! computed with [`validate_table_name`](reedbase_concurrent_core::validate_table_name)), so
//! that what checks the validation shares no code with it.

use std::sync::LazyLock;

use reedbase_concurrent_core::validation::NameRule;

/// A table name or queue id that every backend must refuse.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadName {
    /// The name as given to the backend.
    pub name: String,
    /// The first rule it breaks, which the error must name.
    pub rule: NameRule,
    /// What it is, for messages.
    pub what: &'static str,
}

impl BadName {
    fn new(name: impl Into<String>, rule: NameRule, what: &'static str) -> Self {
        BadName {
            name: name.into(),
            rule,
            what,
        }
    }

    /// True for an absolute path, which a backend that validates nothing
    /// (the old module) would use as it is, outside any test directory.
    pub fn is_absolute(&self) -> bool {
        self.name.starts_with('/')
    }
}

static BAD_TABLE_NAMES: LazyLock<Vec<BadName>> = LazyLock::new(|| {
    use NameRule::*;
    vec![
        BadName::new("../x", PathSeparator, "parent-relative path"),
        BadName::new("../../escape", PathSeparator, "two levels up"),
        BadName::new("/abs", PathSeparator, "absolute path"),
        BadName::new("", Empty, "empty"),
        BadName::new(".", DotOrDotDot, "current directory"),
        BadName::new("..", DotOrDotDot, "parent directory"),
        BadName::new(".hidden", LeadingDot, "leading dot"),
        BadName::new("a/b", PathSeparator, "slash"),
        BadName::new("a\\b", PathSeparator, "backslash"),
        BadName::new("a\0b", Nul, "NUL byte"),
        BadName::new("a\u{7}b", ControlCharacter, "control character"),
        BadName::new("a\nb", ControlCharacter, "line break"),
        BadName::new("tab\tname", ControlCharacter, "tab"),
        BadName::new("C:x", DriveOrStream, "drive prefix"),
        BadName::new("x:y", DriveOrStream, "stream separator"),
        BadName::new("zero\u{200B}width", InvisibleCharacter, "zero width space"),
        BadName::new(" users", SurroundingWhitespace, "leading space"),
        BadName::new("t".repeat(129), TooLong, "129 bytes"),
    ]
});

static BAD_QUEUE_IDS: LazyLock<Vec<BadName>> = LazyLock::new(|| {
    use NameRule::*;
    vec![
        BadName::new("../../x", PathSeparator, "parent-relative path"),
        BadName::new("a/b", PathSeparator, "slash"),
        BadName::new("a\\b", PathSeparator, "backslash"),
        BadName::new("", Empty, "empty"),
        BadName::new("x.pending", InvalidCharacter, "file name with extension"),
        BadName::new("x.y", InvalidCharacter, "dot"),
        BadName::new(".", DotOrDotDot, "current directory"),
        BadName::new("..", DotOrDotDot, "parent directory"),
        BadName::new(".hidden", LeadingDot, "leading dot"),
        BadName::new("/abs", PathSeparator, "absolute path"),
        BadName::new("a\0b", Nul, "NUL byte"),
        BadName::new("x:y", DriveOrStream, "colon"),
        BadName::new("id with space", InvalidCharacter, "space"),
        BadName::new("i".repeat(129), TooLong, "129 bytes"),
    ]
});

/// Table names every backend method refuses with
/// [`ReedError::InvalidTableName`](reedbase_concurrent_core::ReedError::InvalidTableName)
/// naming [`BadName::rule`], before it touches anything.
///
/// None climbs more than two levels above `<base>/tables`, so that a
/// backend that validates nothing (the old module) stays inside a base
/// directory nested two levels deep in a temporary directory; the one
/// absolute name is [`BadName::is_absolute`].
pub fn bad_table_names() -> &'static [BadName] {
    &BAD_TABLE_NAMES
}

/// Queue ids every backend method refuses with
/// [`ReedError::InvalidQueueId`](reedbase_concurrent_core::ReedError::InvalidQueueId) naming
/// [`BadName::rule`], before it touches anything (the table name is checked
/// first). As with [`bad_table_names`], none climbs more than two levels
/// above a queue directory, and one is absolute.
pub fn bad_queue_ids() -> &'static [BadName] {
    &BAD_QUEUE_IDS
}

/// Well-formed queue ids that no backend hands out: an old-module UUID, ids
/// shaped like the fs and mem backends' own, and a plain word.
pub const UNKNOWN_IDS: [&str; 5] = [
    "00000000-0000-4000-8000-000000000000",
    "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11",
    "00000000000000000000-00000000000000000000000000000000",
    "mem-99999999999999999999",
    "never_issued",
];
