// SPDX-License-Identifier: Apache-2.0
//! The holder record: who holds a table's lock, written into `write.lock`.
//!
//! A holder writes its record at offset 0 of the lock file right after
//! acquiring, one `pwrite`, and leaves it there when it releases. The
//! record is written only through the descriptor the lock was taken on,
//! which the table lock has checked to be a regular file with one name in
//! the table's directory, so it never lands in a file elsewhere. The
//! `flock` is the truth, the record only a label on it: a reader asks the
//! lock first and believes a record only under a held lock, and only if the
//! process it names holds that lock now (see `holding`) or, where that
//! cannot be told, may still be alive.
//!
//! Nothing on the acquire path needs more of this file than
//! [`write_own_record`].
//!
//! # The record
//!
//! ```text
//! reedbase-lock-holder v1 pid=4242 start=123456 host=db-1 acquired_ns=1767225600000000000 sum=118c513d6cdca4bc
//! ```
//!
//! `sum` is the FNV-1a hash of everything before ` sum=`, so a record read
//! while another holder overwrites it (reads and writes of a page are not
//! atomic with each other) is seen as unreadable, never as a mix of two
//! holders. The line is padded with spaces to [`RECORD_LEN`] bytes, the
//! last being `\n`, so that `cat write.lock` shows it and every write
//! overwrites the whole previous one in place. `start` is the holder's start
//! time in clock ticks since boot (`-` when unknown), used to tell a live
//! holder from a dead one whose pid was reused. [`CLEARED_RECORD`] (spaces
//! and a newline) is no one's; a lock file written by the old module is
//! empty.
//!
//! # Who this process is
//!
//! The pid, the host name (from `/proc/sys/kernel/hostname` or
//! `/etc/hostname`) and the start time (field 22 of `/proc/<pid>/stat`) are
//! read once per process, best effort: where `/proc` is missing, the start
//! time is unknown and liveness cannot be checked.

use std::fs::{self, File};
use std::os::unix::fs::FileExt as _;
use std::process;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reedbase_concurrent_core::LockHolder;

use crate::no_follow::facts_of;

/// Writes this process's record into a lock file it has just locked.
///
/// Best effort: the lock is held whether or not the record could be
/// written, and a holder without a record is reported with unknown fields.
pub(crate) fn write_own_record(file: &File, pid: u32) {
    let _ = file.write_all_at(&own_record(pid, SystemTime::now()), 0);
}

/// Who the record in `file` names, for a lock known to be held: every field
/// unknown when the record is missing, blank, torn or foreign, names a
/// process of this host that is certainly gone ([`is_certainly_gone`]), or
/// one that does not hold the lock now (a holder's record stays behind when
/// it releases).
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
    let key = facts_of(file).map(|facts| (facts.dev, facts.ino))?;
    let holder = match parse_record(&buffer[..filled]) {
        Some(found)
            if !is_certainly_gone(found.pid, found.start_ticks, &found.host)
                && (found.host != host_name()
                    || super::holding::holds(found.pid, key) != Some(false)) =>
        {
            LockHolder::new(Some(found.pid), Some(found.host), Some(found.acquired_at))
        }
        _ => LockHolder::unknown(),
    };
    Ok(holder)
}

/// The size of a record, in bytes.
pub(super) const RECORD_LEN: usize = 256;

/// What a released lock leaves at offset 0.
const CLEARED_RECORD: [u8; RECORD_LEN] = cleared();

/// The first token of every record (format version 1).
const MAGIC: &str = "reedbase-lock-holder v1";

const fn cleared() -> [u8; RECORD_LEN] {
    let mut record = [b' '; RECORD_LEN];
    record[RECORD_LEN - 1] = b'\n';
    record
}

/// The contents of a parsed record.
#[derive(Debug, Clone, PartialEq, Eq)]
struct HolderRecord {
    pid: u32,
    start_ticks: Option<u64>,
    host: String,
    acquired_at: SystemTime,
}

/// The record of this process (`pid`, as read by the caller) acquiring at
/// `now`.
///
/// Everything but the time is formatted and hashed once per process, so
/// the acquire path only writes one number into a copy of the prefix and
/// carries the hash on over its digits: no allocation, no formatting
/// machinery.
fn own_record(pid: u32, now: SystemTime) -> [u8; RECORD_LEN] {
    let (cached_pid, prefix, hash) = cached_prefix(pid);
    if *cached_pid == pid {
        encode_after(prefix, *hash, now)
    } else {
        encode(&own_prefix(pid), now)
    }
}

/// The prefix of this process's records and its FNV-1a state, made on
/// first use, with the pid it was made for.
fn cached_prefix(pid: u32) -> &'static (u32, String, u64) {
    static PREFIX: OnceLock<(u32, String, u64)> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let prefix = own_prefix(pid);
        let hash = fnv1a(prefix.as_bytes());
        (pid, prefix, hash)
    })
}

/// Reads who this process is (`/proc` and the host name, a few system
/// calls) now, if not done yet: a waiter calls it before it starts waiting,
/// so that its first record costs nothing between the release and the
/// acquisition.
pub(crate) fn prepare() {
    let _ = cached_prefix(process::id());
}

/// The record of any holder; [`own_record`] is this with this process's
/// identity. Tests write records of other (dead, foreign) holders with it.
#[cfg(test)]
fn record_of(pid: u32, start_ticks: Option<u64>, host: &str, at: SystemTime) -> [u8; RECORD_LEN] {
    encode(&prefix(pid, start_ticks, host), at)
}

fn own_prefix(pid: u32) -> String {
    prefix(pid, own_start_ticks(), host_name())
}

/// Everything of a record but the acquisition time and the hash.
fn prefix(pid: u32, start_ticks: Option<u64>, host: &str) -> String {
    let start = start_ticks.map_or_else(|| "-".to_string(), |ticks| ticks.to_string());
    format!("{MAGIC} pid={pid} start={start} host={host} acquired_ns=")
}

fn encode(prefix: &str, at: SystemTime) -> [u8; RECORD_LEN] {
    encode_after(prefix, fnv1a(prefix.as_bytes()), at)
}

/// [`encode`], given the FNV-1a state after `prefix`: the record is
/// `prefix`, the nanoseconds of `at`, ` sum=` and the hash of all before it
/// in 16 hex digits, padded with spaces to `RECORD_LEN` bytes.
fn encode_after(prefix: &str, prefix_hash: u64, at: SystemTime) -> [u8; RECORD_LEN] {
    let nanos = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_nanos();
    // Digits of the time, last first; in u64 while it fits (until the year
    // 2554), whose division by ten is a multiplication, where u128's is a
    // call.
    let mut digits = [0; 39];
    let mut count = 0;
    match u64::try_from(nanos) {
        Ok(mut rest) => loop {
            // A digit is below 10: the cast keeps it whole.
            digits[count] = b'0' + (rest % 10) as u8;
            count += 1;
            rest /= 10;
            if rest == 0 {
                break;
            }
        },
        Err(_) => {
            let mut rest = nanos;
            loop {
                digits[count] = b'0' + (rest % 10) as u8;
                count += 1;
                rest /= 10;
                if rest == 0 {
                    break;
                }
            }
        }
    }
    let mut record = CLEARED_RECORD;
    let prefix = &prefix.as_bytes()[..prefix.len().min(PREFIX_ROOM)];
    record[..prefix.len()].copy_from_slice(prefix);
    let mut len = prefix.len();
    let mut hash = prefix_hash;
    for &digit in digits[..count].iter().rev() {
        hash = fnv1a_step(hash, digit);
        record[len] = digit;
        len += 1;
    }
    record[len..len + 5].copy_from_slice(b" sum=");
    len += 5;
    let hex = b"0123456789abcdef";
    for (at, shift) in (0..16).rev().enumerate() {
        // A nibble is below 16: the cast keeps it whole.
        record[len + at] = hex[((hash >> (shift * 4)) & 0xf) as usize];
    }
    record
}

/// The most of a prefix a record holds: what is left before the final
/// `\n` after the longest time (39 digits), ` sum=` and 16 hex digits. The
/// longest possible prefix is under 170 bytes (a host name is at most 64):
/// nothing is cut.
const PREFIX_ROOM: usize = RECORD_LEN - 1 - 39 - 5 - 16;

/// Pads `line` with spaces to a record; a line too long is cut (it never is:
/// the longest possible line is under 240 bytes). Tests write records of
/// any line with it.
#[cfg(test)]
fn encode_line(line: &str) -> [u8; RECORD_LEN] {
    let mut record = CLEARED_RECORD;
    let bytes = line.as_bytes();
    let len = bytes.len().min(RECORD_LEN - 1);
    record[..len].copy_from_slice(&bytes[..len]);
    record
}

/// 64-bit FNV-1a: enough to catch a torn read, not meant against forgery.
pub(super) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes
        .iter()
        .fold(0xcbf2_9ce4_8422_2325, |hash, &byte| fnv1a_step(hash, byte))
}

/// One byte of [`fnv1a`].
fn fnv1a_step(hash: u64, byte: u8) -> u64 {
    (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
}

/// The fields of the first line of `bytes` after `magic`, if the line ends
/// with the FNV-1a sum of what precedes ` sum=` (a line read while it was
/// written, or a foreign one, is `None`). Shared by the holder record and
/// the claims of turns.
pub(super) fn checked_fields<'a>(bytes: &'a [u8], magic: &str) -> Option<&'a str> {
    let text = std::str::from_utf8(bytes).ok()?;
    let line = text.lines().next()?.trim_end();
    let (body, sum) = line.rsplit_once(" sum=")?;
    if u64::from_str_radix(sum, 16).ok()? != fnv1a(body.as_bytes()) {
        return None;
    }
    body.strip_prefix(magic)?.strip_prefix(' ')
}

/// Parses the bytes at offset 0 of a lock file.
///
/// Returns `None` for anything that is not one complete version-1 record: an
/// empty file (old module), a cleared record, a torn or foreign line.
fn parse_record(bytes: &[u8]) -> Option<HolderRecord> {
    let fields = checked_fields(bytes, MAGIC)?;
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

/// The longest host name recorded, in bytes (Linux's `HOST_NAME_MAX`).
const MAX_HOST_BYTES: usize = 64;

/// The host name recorded when none can be read.
const UNKNOWN_HOST: &str = "unknown";

/// This machine's host name, read once per process.
///
/// Read from `/proc/sys/kernel/hostname`, else `/etc/hostname`, else
/// [`UNKNOWN_HOST`]; cut to [`MAX_HOST_BYTES`], with every byte outside
/// `[A-Za-z0-9._-]` replaced by `_` so that it fits the holder record.
pub(super) fn host_name() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|path| fs::read_to_string(path).ok())
            .map(|text| sanitise_host(text.trim()))
            .find(|host| !host.is_empty())
            .unwrap_or_else(|| UNKNOWN_HOST.to_string())
    })
}

/// Makes `raw` safe for the holder record (see [`host_name`]).
fn sanitise_host(raw: &str) -> String {
    raw.bytes()
        .take(MAX_HOST_BYTES)
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
                char::from(b)
            } else {
                '_'
            }
        })
        .collect()
}

/// This process's start time in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), with the pid it belongs to; `None` without `/proc`.
///
/// Cached, and read again if the pid changed (a forked child).
pub(super) fn own_start_ticks() -> Option<u64> {
    static START: OnceLock<(u32, Option<u64>)> = OnceLock::new();
    let pid = process::id();
    let (cached_pid, ticks) = *START.get_or_init(|| (pid, start_ticks(pid)));
    if cached_pid == pid {
        ticks
    } else {
        start_ticks(pid)
    }
}

/// The start time of process `pid` in clock ticks since boot, or `None` if
/// it does not exist or `/proc` cannot tell.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_ticks(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line. The second field (the command
/// name, in parentheses) may itself hold spaces and parentheses, so fields
/// are counted after the last `)`.
fn parse_start_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // after_name starts with field 3 (the state), so field 22 is index 19.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// True when the process a holder record names is certainly gone: the
/// record was written on this host, `/proc` works here, and either no
/// process has that pid or the one that has it started at another time (the
/// pid was reused).
///
/// False whenever it cannot be told (another host, no `/proc`): a record is
/// then taken at its word.
pub(super) fn is_certainly_gone(pid: u32, recorded_start: Option<u64>, host: &str) -> bool {
    if host != host_name() || own_start_ticks().is_none() {
        return false;
    }
    match (start_ticks(pid), recorded_start) {
        (None, _) => true,
        (Some(now), Some(then)) => now != then,
        (Some(_), None) => false,
    }
}

#[cfg(test)]
#[path = "holder_test.rs"]
mod tests;

#[cfg(test)]
#[path = "holder_record_test.rs"]
mod record_tests;

#[cfg(test)]
#[path = "holder_identity_test.rs"]
mod identity_tests;
