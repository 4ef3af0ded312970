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
//! A producer numbers entries from 0, one above the highest pending, so a
//! sequence only grows while the queue never empties: the first of the 20
//! digits is always 0 (reaching 10^19 would take that many writes without
//! the queue ever emptying, over 300,000 years at a million writes a
//! second). A sequenced id whose first digit is not 0 is beyond what a
//! producer writes ([`is_beyond_producers`]): a crafted or damaged name,
//! moved aside rather than numbered after.
//!
//! Files: `<id>.pending` for an entry (the only extension the old module
//! reads), `.incoming-<uuid>.tmp` for an entry being written (a name the
//! old module ignores; the id is chosen only when it is renamed), `<id>.attempts` for the count of failed applies of an
//! entry (written through `.<id>.attempts.tmp`; the empty directory
//! `.attempts-kept` marks a queue that may hold such counts), in `corrupt/` the entry
//! moved aside with `<id>.reason` beside it (`<id>.copy-2.pending` and so on
//! for later copies of the same id), and `.queue.lock`, the producers' lock
//! where the file system cannot lock a directory.

use std::ffi::{CStr, OsStr, OsString};
use std::os::unix::ffi::OsStrExt as _;

use uuid::Uuid;

/// The extension of a queue entry file, as the old module reads it.
const PENDING_SUFFIX: &str = ".pending";

/// The producers' lock file inside the queue directory.
pub(crate) const QUEUE_LOCK_FILE: &str = ".queue.lock";

/// The suffix of an entry's count of failed applies.
const ATTEMPTS_SUFFIX: &str = ".attempts";
const TEMPORARY_PREFIX: &str = ".incoming-";
const COPY_MARK: &str = ".copy-";
const TEMPORARY_SUFFIX: &str = ".tmp";
const SEQUENCE_DIGITS: usize = 20;
const UUID_DIGITS: usize = 32;
const SEQUENCED_ID_LEN: usize = SEQUENCE_DIGITS + 1 + UUID_DIGITS;

/// The largest sequence number a producer writes: 10^19 - 1, the first of
/// the [`SEQUENCE_DIGITS`] digits 0.
pub(crate) const MAX_WRITTEN_SEQUENCE: u128 = 9_999_999_999_999_999_999;

/// True for a sequence number no producer of this crate writes.
pub(crate) fn is_beyond_producers(sequence: u128) -> bool {
    sequence > MAX_WRITTEN_SEQUENCE
}

/// A new sequenced id for `sequence` (of at most [`SEQUENCE_DIGITS`] digits).
#[cfg(test)]
pub(crate) fn sequenced_id(sequence: u128) -> String {
    sequenced_id_with(sequence, &new_unique())
}

/// The sequenced id of `sequence` with `unique` (from [`new_unique`]).
pub(crate) fn sequenced_id_with(sequence: u128, unique: &str) -> String {
    // Digit by digit rather than through `format!`'s padding, which wrote
    // the zeros one `char` at a time and was a fifth of a write's
    // user-space instructions. Digits beyond twenty (no producer numbers
    // that far, see the module docs) are kept, as the format would.
    let mut digits = [b'0'; 40];
    let mut left = sequence;
    let mut at = digits.len();
    while left > 0 {
        at -= 1;
        digits[at] = b'0' + (left % 10) as u8;
        left /= 10;
    }
    let start = at.min(digits.len() - SEQUENCE_DIGITS);
    let mut id = String::with_capacity(digits.len() - start + 1 + unique.len());
    id.extend(digits[start..].iter().map(|&digit| char::from(digit)));
    id.push('-');
    id.push_str(unique);
    id
}

/// A fresh random 32-hex-digit name part, used for a temporary's name and
/// then for the id of the entry it becomes (one draw of randomness per
/// write).
pub(crate) fn new_unique() -> String {
    Uuid::new_v4().simple().to_string()
}

/// The sequence number of a sequenced id, or `None` for any other id.
pub(crate) fn parse_sequence(id: &str) -> Option<u128> {
    parse_sequence_bytes(id.as_bytes())
}

/// [`parse_sequence`] of a name's bytes (a sequenced id is ASCII, so no
/// check that they are UTF-8 is needed first).
pub(crate) fn parse_sequence_bytes(bytes: &[u8]) -> Option<u128> {
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
    // The first digit apart: the other nineteen fit a `u64`, whose
    // arithmetic is cheaper than `u128`'s (this runs for every name a
    // listing or the watch sees).
    let (first, others) = digits.split_first()?;
    let value = |digit: &u8| digit.is_ascii_digit().then(|| u64::from(digit - b'0'));
    let low = others
        .iter()
        .try_fold(0u64, |sequence, digit| Some(sequence * 10 + value(digit)?))?;
    Some(u128::from(value(first)?) * 10u128.pow(19) + u128::from(low))
}

/// The stem of a queue entry file name (`<stem>.pending`), judged the way
/// the old module judges it (by [`Path::extension`](std::path::Path::extension)), or `None` for any
/// other file.
pub(crate) fn pending_stem(file_name: &OsStr) -> Option<&OsStr> {
    // The same rule as `Path::extension` for a name without a separator
    // (every name a directory lists), on the bytes, without parsing path
    // components or checking UTF-8: the part after the last `.`, unless
    // that `.` starts the name.
    file_name
        .as_bytes()
        .strip_suffix(PENDING_SUFFIX.as_bytes())
        .filter(|stem| !stem.is_empty())
        .map(OsStr::from_bytes)
}

/// `<id>.pending`
pub(crate) fn pending_file_name(id: &str) -> String {
    joined(&[id, PENDING_SUFFIX])
}

/// The longest `<id>.pending` of a valid id, with the NUL a system call
/// needs.
const PENDING_NAME_CAPACITY: usize =
    reedbase_concurrent_core::MAX_NAME_BYTES + PENDING_SUFFIX.len() + 1;

/// `<id>.pending`, built on the stack with its NUL: a removal by id names
/// its entry to `unlinkat` without allocating the name, and without the
/// copy that ends a `&str` with a NUL for the call.
pub(crate) struct PendingName {
    bytes: [u8; PENDING_NAME_CAPACITY],
    /// Bytes of the name, without its NUL.
    len: usize,
}

impl PendingName {
    /// The name of `id`'s entry; `None` for an id longer than a valid one.
    pub(crate) fn new(id: &str) -> Option<PendingName> {
        let len = id.len() + PENDING_SUFFIX.len();
        if len >= PENDING_NAME_CAPACITY {
            return None;
        }
        let mut bytes = [0; PENDING_NAME_CAPACITY];
        bytes[..id.len()].copy_from_slice(id.as_bytes());
        bytes[id.len()..len].copy_from_slice(PENDING_SUFFIX.as_bytes());
        Some(PendingName { bytes, len })
    }

    /// The name.
    pub(crate) fn as_os_str(&self) -> &OsStr {
        OsStr::from_bytes(&self.bytes[..self.len])
    }

    /// The name with its NUL; empty (a name no file has) for an id that
    /// holds a NUL byte, which no valid id does.
    pub(crate) fn as_c_str(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.bytes[..=self.len]).unwrap_or_default()
    }
}

/// The parts one after the other, in one allocation: these names are
/// built on every queue call, where `format!` cost more than the rest of
/// the user-space work of a removal.
fn joined(parts: &[&str]) -> String {
    let mut name = String::with_capacity(parts.iter().map(|part| part.len()).sum());
    parts.iter().for_each(|part| name.push_str(part));
    name
}

/// The stem of the `copy`-th entry moved aside under `stem` in `corrupt/`:
/// `stem` itself for the first, `<stem>.copy-<n>` for later ones.
pub(crate) fn moved_stem(stem: &OsStr, copy: u32) -> OsString {
    let mut moved = stem.to_os_string();
    if copy > 1 {
        moved.push(format!("{COPY_MARK}{copy}"));
    }
    moved
}

/// The id of a stem in `corrupt/`: without its `.copy-<n>` mark, if any.
pub(crate) fn id_of_moved_stem(stem: &str) -> &str {
    match stem.rsplit_once(COPY_MARK) {
        Some((id, copy)) if !copy.is_empty() && copy.bytes().all(|b| b.is_ascii_digit()) => id,
        _ => stem,
    }
}

/// `<stem>.pending` and `<stem>.reason`, an entry moved aside and the note
/// beside it.
pub(crate) fn moved_file_names(stem: &OsStr) -> (OsString, OsString) {
    let with = |extension: &str| {
        let mut name = stem.to_os_string();
        name.push(extension);
        name
    };
    (with(PENDING_SUFFIX), with(".reason"))
}

/// The bytes of [`check_queue_id`]'s short way: ASCII letters, digits, `-`
/// and `_`, looked up rather than compared (every queue call checks an id).
static PLAIN_ID_BYTE: [bool; 256] = {
    let mut plain = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        plain[byte] = b.is_ascii_alphanumeric() || b == b'-' || b == b'_';
        byte += 1;
    }
    plain
};

/// [`validate_queue_id`](reedbase_concurrent_core::validate_queue_id), with
/// a short way for the ids producers write: a name of 1 to
/// [`MAX_NAME_BYTES`](reedbase_concurrent_core::MAX_NAME_BYTES) ASCII
/// letters, digits, `-` and `_` passes every rule of that check (no dot,
/// separator, control, invisible or space character can be in it), so only
/// other names are given to it, for its verdict and its error.
///
/// # Errors
///
/// As `validate_queue_id`.
pub(crate) fn check_queue_id(id: &str) -> reedbase_concurrent_core::ReedResult<()> {
    let plain = (1..=reedbase_concurrent_core::MAX_NAME_BYTES).contains(&id.len())
        && id.bytes().all(|b| PLAIN_ID_BYTE[usize::from(b)]);
    if plain {
        return Ok(());
    }
    reedbase_concurrent_core::validate_queue_id(id)
}

/// `<id>.attempts`, the count of failed applies kept beside a pending entry.
pub(crate) fn attempts_file_name(id: &str) -> String {
    joined(&[id, ATTEMPTS_SUFFIX])
}

/// True for a name that may be an entry's count of failed applies: any
/// name ending in `.attempts` (a count may be kept for any id, so the rule
/// is no stricter than [`attempts_file_name`]).
pub(crate) fn is_attempts_file(file_name: &OsStr) -> bool {
    file_name
        .as_encoded_bytes()
        .ends_with(ATTEMPTS_SUFFIX.as_bytes())
}

/// `.<id>.attempts.tmp`, where a new count is written before it is renamed.
pub(crate) fn attempts_temporary_name(id: &str) -> String {
    format!(".{id}.attempts.tmp")
}

/// `.incoming-<unique>.tmp`, the name an entry is written under before it
/// is numbered and renamed into place (`unique` is a fresh UUID).
pub(crate) fn temporary_file_name(unique: &str) -> String {
    joined(&[TEMPORARY_PREFIX, unique, TEMPORARY_SUFFIX])
}

/// True for a name made by [`temporary_file_name`].
pub(crate) fn is_temporary(file_name: &OsStr) -> bool {
    let bytes = file_name.as_bytes();
    bytes.starts_with(TEMPORARY_PREFIX.as_bytes())
        && bytes.ends_with(TEMPORARY_SUFFIX.as_bytes())
        && file_name.to_str().is_some()
}

#[cfg(test)]
#[path = "entry_id_test.rs"]
mod tests;
