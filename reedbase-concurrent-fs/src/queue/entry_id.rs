// SPDX-License-Identifier: Apache-2.0
//! Queue entry ids and the file names built from them.
//!
//! Two kinds of id live in a queue directory:
//! - *sequenced* ids, written by this crate: a 20-digit zero-padded sequence
//!   number, `-`, and a UUID v4 in simple (32 lower-case hex digits) form,
//!   e.g. `00000000000000000042-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f`. The
//!   sequence gives the order; the UUID makes the id unique for the life of
//!   the queue even when the sequence starts again in an emptied queue.
//! - *legacy* ids: anything else, in practice the old module's hyphenated
//!   UUIDs, which carry no order.
//!
//! Files: `<id>.pending` for an entry (the only extension the old module
//! reads), `.incoming-<id>.tmp` for an entry being written (a name the old
//! module ignores), `<id>.reason` beside an entry moved aside, and
//! `.queue.lock` for the producers' lock.

use std::ffi::OsStr;
use std::path::Path;

use uuid::Uuid;

/// The extension of a queue entry file, as the old module reads it.
pub(crate) const PENDING_EXTENSION: &str = "pending";
const PENDING_SUFFIX: &str = ".pending";

/// The producers' lock file inside the queue directory.
pub(crate) const QUEUE_LOCK_FILE: &str = ".queue.lock";

const TEMPORARY_PREFIX: &str = ".incoming-";
const TEMPORARY_SUFFIX: &str = ".tmp";
const SEQUENCE_DIGITS: usize = 20;
const UUID_DIGITS: usize = 32;
const SEQUENCED_ID_LEN: usize = SEQUENCE_DIGITS + 1 + UUID_DIGITS;

/// The largest sequence number that fits in [`SEQUENCE_DIGITS`] digits.
pub(crate) const MAX_SEQUENCE: u128 = 99_999_999_999_999_999_999;

/// A new sequenced id for `sequence` (at most [`MAX_SEQUENCE`]).
pub(crate) fn sequenced_id(sequence: u128) -> String {
    format!(
        "{sequence:0width$}-{}",
        Uuid::new_v4().simple(),
        width = SEQUENCE_DIGITS
    )
}

/// The sequence number of a sequenced id, or `None` for any other id.
pub(crate) fn parse_sequence(id: &str) -> Option<u128> {
    let bytes = id.as_bytes();
    if bytes.len() != SEQUENCED_ID_LEN || bytes[SEQUENCE_DIGITS] != b'-' {
        return None;
    }
    let (digits, rest) = bytes.split_at(SEQUENCE_DIGITS);
    if !rest[1..]
        .iter()
        .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    {
        return None;
    }
    digits.iter().try_fold(0u128, |sequence, digit| {
        digit
            .is_ascii_digit()
            .then(|| sequence * 10 + u128::from(digit - b'0'))
    })
}

/// The stem of a queue entry file name (`<stem>.pending`), judged the way
/// the old module judges it (by [`Path::extension`]), or `None` for any
/// other file.
pub(crate) fn pending_stem(file_name: &OsStr) -> Option<&OsStr> {
    // The same rule as `Path::extension`, without parsing path components:
    // the part after the last `.`, unless that `.` starts the name.
    if let Some(name) = file_name.to_str() {
        return name
            .strip_suffix(PENDING_SUFFIX)
            .filter(|stem| !stem.is_empty())
            .map(OsStr::new);
    }
    let path = Path::new(file_name);
    if path.extension() == Some(OsStr::new(PENDING_EXTENSION)) {
        path.file_stem()
    } else {
        None
    }
}

/// `<id>.pending`
pub(crate) fn pending_file_name(id: &str) -> String {
    format!("{id}.{PENDING_EXTENSION}")
}

/// `<id>.reason`, the note written beside an entry moved aside.
pub(crate) fn reason_file_name(stem: &OsStr) -> std::ffi::OsString {
    let mut name = stem.to_os_string();
    name.push(".reason");
    name
}

/// `<id>.attempts`, the count of failed applies kept beside a pending entry.
pub(crate) fn attempts_file_name(id: &str) -> String {
    format!("{id}.attempts")
}

/// True for an id without a sequence number (the old module's).
pub(crate) fn is_legacy_id(id: &str) -> bool {
    parse_sequence(id).is_none()
}

/// `.incoming-<id>.tmp`, the name an entry is written under before it is
/// renamed into place.
pub(crate) fn temporary_file_name(id: &str) -> String {
    format!("{TEMPORARY_PREFIX}{id}{TEMPORARY_SUFFIX}")
}

/// True for a name made by [`temporary_file_name`].
pub(crate) fn is_temporary(file_name: &OsStr) -> bool {
    file_name
        .to_str()
        .is_some_and(|name| name.starts_with(TEMPORARY_PREFIX) && name.ends_with(TEMPORARY_SUFFIX))
}
