// SPDX-License-Identifier: Apache-2.0
//! The holder record: who holds a table's lock, written into `write.lock`.
//!
//! A holder writes its [`record`] at offset 0 of the lock file right after
//! acquiring and blanks it right before releasing, one `pwrite` each. The
//! record is written only through the descriptor the lock was taken on,
//! which the table lock has checked to be a regular file with one name in
//! the table's directory, so it never lands in a file elsewhere. The
//! `flock` is the truth, the record only a label on it: a reader asks the
//! lock first and believes a record only under a held lock, and only if the
//! process it names may still be alive ([`identity`]).
//!
//! Nothing on the acquire path needs more of this module than
//! [`write_own_record`] and [`clear_record`].

mod identity;
mod record;

use std::fs::File;
use std::os::unix::fs::FileExt as _;
use std::time::SystemTime;

use reedbase_concurrent_core::LockHolder;

use record::{CLEARED_RECORD, RECORD_LEN};

/// Writes this process's record into a lock file it has just locked.
///
/// Best effort: the lock is held whether or not the record could be
/// written, and a holder without a record is reported with unknown fields.
pub(crate) fn write_own_record(file: &File) {
    let _ = file.write_all_at(&record::own_record(SystemTime::now()), 0);
}

/// Blanks the record of a lock file about to be released (best effort).
pub(crate) fn clear_record(file: &File) {
    let _ = file.write_all_at(&CLEARED_RECORD, 0);
}

/// Who the record in `file` names, for a lock known to be held: every field
/// unknown when the record is missing, blank, torn or foreign, or names a
/// process of this host that is certainly gone (see [`identity`]).
///
/// # Errors
///
/// The `io::Error` of reading the file.
pub(crate) fn holder_in(file: &File) -> std::io::Result<LockHolder> {
    let mut buffer = [0; RECORD_LEN];
    let mut filled = 0;
    while filled < RECORD_LEN {
        match file.read_at(&mut buffer[filled..], filled as u64)? {
            0 => break,
            read => filled += read,
        }
    }
    let holder = match record::parse_record(&buffer[..filled]) {
        Some(found) if !identity::is_certainly_gone(found.pid, found.start_ticks, &found.host) => {
            LockHolder::new(Some(found.pid), Some(found.host), Some(found.acquired_at))
        }
        _ => LockHolder::unknown(),
    };
    Ok(holder)
}

#[cfg(test)]
#[path = "holder_test.rs"]
mod tests;
