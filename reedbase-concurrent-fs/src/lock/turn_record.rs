// SPDX-License-Identifier: Apache-2.0
//! Claims on a table's next turn, as `write.lock` keeps them: after the
//! holder record, [`SLOTS`] slots of [`SLOT_LEN`] bytes, each blank or
//! holding the claim of one waiter.
//!
//! ```text
//! reedbase-lock-turn v1 pid=4242 start=123456 host=db-1 id=3 since_ns=1767225600000000000 until_ns=1767225610000000000 sum=5d3c0b3e0a8f1e22
//! ```
//!
//! A claim names its waiter as the holder record names a holder (pid, start
//! time in clock ticks or `-`, host), tells the claims of one process apart
//! (`id`), and says when the waiter began waiting (`since_ns`: its place in
//! line) and when the claim lapses (`until_ns`); both are nanoseconds since
//! the Unix epoch. `sum` is the FNV-1a hash of everything before ` sum=`, so
//! that a slot read while it is written is taken as blank, never as a mix of
//! two claims. Each slot is padded with spaces and ends with `\n`, so that
//! `cat write.lock` shows one line per slot; a slot before the last one
//! ever written may never have been written, and reads as zero bytes (no
//! claim).
//!
//! Slots are written with one `pwrite` each through the descriptor the
//! waiter's acquisition holds open, after checking that it is the table's
//! `write.lock` with one name; the old module never reads or truncates the
//! file, so the slots are harmless to it.

use std::fmt::Write as _;
use std::fs::File;
use std::io;
use std::mem::MaybeUninit;
use std::os::unix::fs::FileExt as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use std::os::fd::AsFd as _;

use reedbase_concurrent_core::{ReedError, ReedResult, validate_table_name};

use super::flock::existing_lock_file;
use super::held::LOCK_FILE;
use super::holder::{RECORD_LEN, checked_fields, fnv1a, is_certainly_gone};
use crate::tables_dir::{BaseDir, Level, TablePaths, tables_dir};

/// How many waiters can hold a claim on one table at a time.
pub(super) const SLOTS: usize = 8;

/// The size of a slot, in bytes.
pub(super) const SLOT_LEN: usize = 256;

/// The first token of every claim (format version 1).
const MAGIC: &str = "reedbase-lock-turn v1";

/// A slot without a claim.
pub(super) const BLANK: [u8; SLOT_LEN] = blank();

const fn blank() -> [u8; SLOT_LEN] {
    let mut slot = [b' '; SLOT_LEN];
    slot[SLOT_LEN - 1] = b'\n';
    slot
}

/// A waiter's claim on a turn at a table's lock.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Claim {
    pub(crate) pid: u32,
    pub(crate) start_ticks: Option<u64>,
    pub(crate) host: String,
    pub(crate) id: u64,
    pub(crate) since_ns: u64,
    pub(crate) until_ns: u64,
}

/// A waiter's place in line: when it began waiting, then its pid and claim
/// id to break ties. Lower is earlier.
pub(super) type Place = (u64, u32, u64);

impl Claim {
    /// The claim's place in line.
    pub(super) fn place(&self) -> Place {
        (self.since_ns, self.pid, self.id)
    }
}

/// The claims found in the slots of a lock file: (slot, claim), in slot
/// order. Blank, torn and foreign slots are left out.
pub(super) type Claims = Vec<(usize, Claim)>;

/// The offset of slot `slot` in the lock file.
fn offset(slot: usize) -> u64 {
    (RECORD_LEN + slot * SLOT_LEN) as u64
}

/// Reads every slot, starting one byte early (the last byte of the holder
/// record), so that the read returns at least one byte whenever a record
/// exists: a read that returns nothing is no `IN_ACCESS` event, and a
/// guard's release is announced by this very read (see `notify`).
///
/// # Errors
///
/// The `io::Error` of the read.
pub(super) fn read_claims(file: &File) -> io::Result<Claims> {
    // Every release reads here: the buffer is not zeroed first (2 KiB of
    // stores on each release), only what the read fills is looked at.
    let mut buffer = [MaybeUninit::<u8>::uninit(); 1 + SLOTS * SLOT_LEN];
    // A regular file's read returns less than asked only at its end (or
    // when interrupted, when the rest is treated as not there yet): one
    // read, not a second one that would find nothing.
    let (filled, _) = rustix::io::pread(file, &mut buffer, (RECORD_LEN - 1) as u64)?;
    let slots = filled.get(1..).unwrap_or_default();
    Ok(slots
        .chunks_exact(SLOT_LEN)
        .enumerate()
        // A blank slot starts with a space, one never written with a zero
        // byte: skip both without parsing.
        .filter(|(_, bytes)| bytes[0] != b' ' && bytes[0] != 0)
        .filter_map(|(slot, bytes)| parse_claim(bytes).map(|claim| (slot, claim)))
        .collect())
}

/// Reads slot `slot` alone.
///
/// # Errors
///
/// The `io::Error` of the read.
pub(super) fn read_slot(file: &File, slot: usize) -> io::Result<Option<Claim>> {
    let mut bytes = [0; SLOT_LEN];
    let mut filled = 0;
    while filled < SLOT_LEN {
        match file.read_at(&mut bytes[filled..], offset(slot) + filled as u64)? {
            0 => return Ok(None),
            read => filled += read,
        }
    }
    Ok(parse_claim(&bytes))
}

/// Writes `bytes` (an encoded claim or [`BLANK`]) into slot `slot`.
///
/// # Errors
///
/// The `io::Error` of the write.
pub(super) fn write_slot(file: &File, slot: usize, bytes: &[u8; SLOT_LEN]) -> io::Result<()> {
    file.write_all_at(bytes, offset(slot))
}

/// The slot of `claim`.
pub(super) fn encode_claim(claim: &Claim) -> [u8; SLOT_LEN] {
    let start = claim
        .start_ticks
        .map_or_else(|| "-".to_string(), |ticks| ticks.to_string());
    let mut line = String::with_capacity(SLOT_LEN);
    // Writing to a String cannot fail.
    let _ = write!(
        line,
        "{MAGIC} pid={} start={start} host={} id={} since_ns={} until_ns={}",
        claim.pid, claim.host, claim.id, claim.since_ns, claim.until_ns
    );
    let sum = fnv1a(line.as_bytes());
    let _ = write!(line, " sum={sum:016x}");
    let mut slot = BLANK;
    let bytes = line.as_bytes();
    // The longest possible line is under 240 bytes (a host name is at most
    // 64): nothing is cut.
    let len = bytes.len().min(SLOT_LEN - 1);
    slot[..len].copy_from_slice(&bytes[..len]);
    slot
}

/// Parses one slot; `None` for anything but one complete version-1 claim.
pub(super) fn parse_claim(bytes: &[u8]) -> Option<Claim> {
    let fields = checked_fields(bytes, MAGIC)?;
    let mut values: [Option<&str>; 6] = [None; 6];
    for field in fields.split(' ') {
        let (key, value) = field.split_once('=')?;
        let at = ["pid", "start", "host", "id", "since_ns", "until_ns"]
            .iter()
            .position(|known| *known == key)?;
        if values[at].replace(value).is_some() {
            return None;
        }
    }
    let [pid, start, host, id, since, until] = values;
    let start_ticks = match start? {
        "-" => None,
        ticks => Some(ticks.parse().ok()?),
    };
    Some(Claim {
        pid: pid?.parse().ok()?,
        start_ticks,
        host: host.filter(|host| !host.is_empty())?.to_string(),
        id: id?.parse().ok()?,
        since_ns: since?.parse().ok()?,
        until_ns: until?.parse().ok()?,
    })
}

/// A waiter that has claimed a turn at a table's lock: the next
/// acquisitions of that lock by this crate's processes on this host go to
/// it, in order of [`waiting_since`](Self::waiting_since) (see the
/// [module docs](super)). Listed by [`claimed_turns`](super::claimed_turns).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ClaimedTurn {
    /// The waiting process.
    pub pid: u32,
    /// The host it runs on.
    pub host: String,
    /// When it began waiting.
    pub waiting_since: SystemTime,
}

/// [`claimed_turns`](super::claimed_turns) on an open base directory.
pub(crate) fn claimed_turns(base: &BaseDir, table: &str) -> ReedResult<Vec<ClaimedTurn>> {
    validate_table_name(table)?;
    let found = match base.kept().take(table) {
        Some(held) => {
            let in_place = held.in_place(base, table, &held.paths.lock_file);
            let found = match in_place {
                Ok(true) => Some(read_at(&held.lock.file, &held.paths.lock_file)),
                Ok(false) => None,
                Err(error) => Some(Err(error)),
            };
            base.kept().put(held);
            found
        }
        None => None,
    };
    let found = match found {
        Some(found) => found?,
        None => {
            let paths = TablePaths::new(base.path(), table)?;
            let Some(dir) = base.open(&paths, Level::Table, "open_lock_file")? else {
                return Ok(Vec::new());
            };
            let lock =
                existing_lock_file(dir.as_fd(), LOCK_FILE, &paths.lock_file, tables_dir(&paths))?;
            match lock {
                Some(lock) => read_at(&lock.file, &paths.lock_file)?,
                None => return Ok(Vec::new()),
            }
        }
    };
    let now = now_ns();
    let mut claims: Vec<Claim> = found
        .into_iter()
        .map(|(_, claim)| claim)
        .filter(|claim| {
            claim.until_ns > now && !is_certainly_gone(claim.pid, claim.start_ticks, &claim.host)
        })
        .collect();
    claims.sort_by_key(Claim::place);
    Ok(claims
        .into_iter()
        .map(|claim| ClaimedTurn {
            pid: claim.pid,
            host: claim.host,
            waiting_since: UNIX_EPOCH + Duration::from_nanos(claim.since_ns),
        })
        .collect())
}

/// [`read_claims`], its error naming the lock file.
fn read_at(file: &File, path: &std::path::Path) -> ReedResult<Claims> {
    read_claims(file).map_err(|e| ReedError::io("read_lock_file", path, &e))
}

/// Sets both times of `file` to now: an `IN_ATTRIB` event for the watches
/// of its directory (setting one time alone is reported as a read or a
/// write), allowed to anyone who may write the file.
pub(super) fn touch(file: &std::fs::File) -> rustix::io::Result<()> {
    let now = rustix::fs::Timespec {
        tv_sec: 0,
        tv_nsec: rustix::fs::UTIME_NOW,
    };
    rustix::fs::futimens(
        file,
        &rustix::fs::Timestamps {
            last_access: now,
            last_modification: now,
        },
    )
}

/// A number no other claim of this process has.
pub(super) fn next_claim_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

/// Nanoseconds since the Unix epoch.
pub(super) fn now_ns() -> u64 {
    nanos(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default(),
    )
}

pub(super) fn nanos(duration: Duration) -> u64 {
    u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
#[path = "turn_record_test.rs"]
mod tests;
