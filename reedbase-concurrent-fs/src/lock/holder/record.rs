// SPDX-License-Identifier: Apache-2.0
//! The holder record: a fixed-size line of text at offset 0 of the lock
//! file, written after acquiring and blanked before releasing.
//!
//! ```text
//! reedbase-lock-holder v1 pid=4242 start=123456 host=db-1 acquired_ns=1767225600000000000 sum=118c513d6cdca4bc
//! ```
//!
//! `sum` is the FNV-1a hash of everything before ` sum=`, so a record read
//! while another holder overwrites it (reads and writes of a page are not
//! atomic with each other) is seen as unreadable, never as a mix of two
//! holders. The line is padded with spaces to [`RECORD_LEN`] bytes, the last being
//! `\n`, so that `cat write.lock` shows it and every write overwrites the
//! whole previous one in place. `start` is the holder's start time in clock
//! ticks since boot (`-` when unknown), used to tell a live holder from a
//! dead one whose pid was reused. A released lock leaves [`CLEARED_RECORD`]
//! (spaces and a newline); a lock file written by the old module is empty.

use std::fmt::Write as _;
use std::process;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::identity;

/// The size of a record, in bytes.
pub(super) const RECORD_LEN: usize = 256;

/// What a released lock leaves at offset 0.
pub(super) const CLEARED_RECORD: [u8; RECORD_LEN] = cleared();

/// The first token of every record (format version 1).
const MAGIC: &str = "reedbase-lock-holder v1";

const fn cleared() -> [u8; RECORD_LEN] {
    let mut record = [b' '; RECORD_LEN];
    record[RECORD_LEN - 1] = b'\n';
    record
}

/// The contents of a parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct HolderRecord {
    pub(super) pid: u32,
    pub(super) start_ticks: Option<u64>,
    pub(super) host: String,
    pub(super) acquired_at: SystemTime,
}

/// The record of this process acquiring at `now`.
///
/// Everything but the time is formatted once per process, so the acquire
/// path only formats one number and hashes one short line.
pub(super) fn own_record(now: SystemTime) -> [u8; RECORD_LEN] {
    static PREFIX: OnceLock<(u32, String)> = OnceLock::new();
    let pid = process::id();
    let (cached_pid, cached) = PREFIX.get_or_init(|| (pid, own_prefix(pid)));
    if *cached_pid == pid {
        encode(cached, now)
    } else {
        encode(&own_prefix(pid), now)
    }
}

/// The record of any holder; [`own_record`] is this with this process's
/// identity. Tests write records of other (dead, foreign) holders with it.
#[cfg(test)]
pub(super) fn record_of(
    pid: u32,
    start_ticks: Option<u64>,
    host: &str,
    at: SystemTime,
) -> [u8; RECORD_LEN] {
    encode(&prefix(pid, start_ticks, host), at)
}

fn own_prefix(pid: u32) -> String {
    prefix(pid, identity::own_start_ticks(), identity::host_name())
}

/// Everything of a record but the acquisition time and the hash.
fn prefix(pid: u32, start_ticks: Option<u64>, host: &str) -> String {
    let start = start_ticks.map_or_else(|| "-".to_string(), |ticks| ticks.to_string());
    format!("{MAGIC} pid={pid} start={start} host={host} acquired_ns=")
}

fn encode(prefix: &str, at: SystemTime) -> [u8; RECORD_LEN] {
    let nanos = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    let mut line = String::with_capacity(RECORD_LEN);
    line.push_str(prefix);
    // Writing to a String cannot fail.
    let _ = write!(line, "{nanos}");
    let sum = fnv1a(line.as_bytes());
    let _ = write!(line, " sum={sum:016x}");
    encode_line(&line)
}

/// Pads `line` with spaces to a record; a line too long is cut (it never is:
/// the longest possible line is under 240 bytes).
fn encode_line(line: &str) -> [u8; RECORD_LEN] {
    let mut record = CLEARED_RECORD;
    let bytes = line.as_bytes();
    let len = bytes.len().min(RECORD_LEN - 1);
    record[..len].copy_from_slice(&bytes[..len]);
    record
}

/// 64-bit FNV-1a: enough to catch a torn read, not meant against forgery.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, &byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// Parses the bytes at offset 0 of a lock file.
///
/// Returns `None` for anything that is not one complete version-1 record: an
/// empty file (old module), a cleared record, a torn or foreign line.
pub(super) fn parse_record(bytes: &[u8]) -> Option<HolderRecord> {
    let text = std::str::from_utf8(bytes).ok()?;
    let line = text.lines().next()?.trim_end();
    let (body, sum) = line.rsplit_once(" sum=")?;
    if u64::from_str_radix(sum, 16).ok()? != fnv1a(body.as_bytes()) {
        return None;
    }
    let fields = body.strip_prefix(MAGIC)?.strip_prefix(' ')?;
    let (mut pid, mut start, mut host, mut acquired) = (None, None, None, None);
    for field in fields.split(' ') {
        let (key, value) = field.split_once('=')?;
        let slot = match key {
            "pid" => &mut pid,
            "start" => &mut start,
            "host" => &mut host,
            "acquired_ns" => &mut acquired,
            _ => return None,
        };
        if slot.replace(value).is_some() {
            return None;
        }
    }
    let host = host.filter(|host| !host.is_empty())?;
    let start_ticks = match start? {
        "-" => None,
        ticks => Some(ticks.parse().ok()?),
    };
    let nanos: u128 = acquired?.parse().ok()?;
    let secs = u64::try_from(nanos / 1_000_000_000).ok()?;
    let subsec = u32::try_from(nanos % 1_000_000_000).ok()?;
    let acquired_at = UNIX_EPOCH.checked_add(Duration::new(secs, subsec))?;
    Some(HolderRecord {
        pid: pid?.parse().ok()?,
        start_ticks,
        host: host.to_string(),
        acquired_at,
    })
}

#[cfg(test)]
#[path = "record_test.rs"]
mod tests;
