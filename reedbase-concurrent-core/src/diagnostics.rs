// SPDX-License-Identifier: Apache-2.0
//! What a backend can tell an operator: who holds a table's lock
//! ([`LockHolder`]) and which queue entries were moved aside ([`MovedAside`]).
//!
//! Both are snapshots for diagnostics (the operators' tool, a log line, a
//! [`ReedError::LockTimeout`](crate::ReedError::LockTimeout) message); they
//! may be stale by the time they are read and must never be used to decide
//! whether to write.

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::types::PendingWrite;

/// Who holds a table's lock, as far as the backend can tell.
///
/// Every field is `None` when the lock is held by a holder that left no
/// readable record (an old-module process, or a holder in the instant
/// between taking the lock and recording itself).
///
/// # Examples
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use reedbase_concurrent_core::LockHolder;
///
/// let holder = LockHolder::new(Some(4242), Some("db-1".into()), Some(UNIX_EPOCH + Duration::from_secs(43_201)));
/// assert_eq!(holder.to_string(), "pid 4242 on db-1 since 12:00:01 UTC");
/// assert!(LockHolder::unknown().is_unknown());
/// assert_eq!(LockHolder::unknown().to_string(), "an unknown holder");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct LockHolder {
    /// The holder's process id.
    pub pid: Option<u32>,
    /// The holder's host name.
    pub host: Option<String>,
    /// When the holder acquired the lock, by its own clock.
    pub acquired_at: Option<SystemTime>,
}

impl LockHolder {
    /// A holder with the given (possibly unknown) fields.
    pub fn new(pid: Option<u32>, host: Option<String>, acquired_at: Option<SystemTime>) -> Self {
        LockHolder {
            pid,
            host,
            acquired_at,
        }
    }

    /// A holder about which nothing is known.
    pub fn unknown() -> Self {
        LockHolder::new(None, None, None)
    }

    /// True when nothing is known about the holder.
    pub fn is_unknown(&self) -> bool {
        self.pid.is_none() && self.host.is_none() && self.acquired_at.is_none()
    }
}

impl fmt::Display for LockHolder {
    /// `pid 4242 on db-1 since 12:00:01 UTC`, leaving out what is unknown;
    /// `an unknown holder` when nothing is known.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_unknown() {
            return f.write_str("an unknown holder");
        }
        let mut parts: Vec<String> = Vec::with_capacity(3);
        match self.pid {
            Some(pid) => parts.push(format!("pid {pid}")),
            None => parts.push("an unknown process".to_string()),
        }
        if let Some(host) = &self.host {
            parts.push(format!("on {host}"));
        }
        if let Some(at) = self.acquired_at {
            parts.push(format!("since {}", clock_time(at)));
        }
        f.write_str(&parts.join(" "))
    }
}

/// `HH:MM:SS UTC` of a point in time, with the date when it is not today.
fn clock_time(at: SystemTime) -> String {
    let secs = at.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs();
    let today = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs()
        / 86_400;
    let (day, in_day) = (secs / 86_400, secs % 86_400);
    let time = format!(
        "{:02}:{:02}:{:02} UTC",
        in_day / 3600,
        in_day % 3600 / 60,
        in_day % 60
    );
    if day == today || day == 0 {
        time
    } else {
        let (year, month, date) = civil_from_days(day);
        format!("{year:04}-{month:02}-{date:02} {time}")
    }
}

/// The proleptic Gregorian date of a day count since 1970-01-01.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Howard Hinnant's algorithm, for days on or after the epoch.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let date = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, date)
}

/// A queue entry that a backend moved out of the queue so that the queue
/// could go on: unreadable, undecodable or invalid, or a dead letter whose
/// apply kept failing. Nothing is deleted; an operator inspects it and
/// re-queues or discards it.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::MovedAside;
///
/// let moved = MovedAside::new("0042-abc", "JSON entry does not parse", "/data/tables/t/queue/corrupt/0042-abc.pending");
/// assert_eq!(moved.id, "0042-abc");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct MovedAside {
    /// The entry's queue id.
    pub id: String,
    /// Why it was moved aside.
    pub reason: String,
    /// Where it lies now, in the backend's terms (a path for the file-system
    /// backend, a table and row for a database backend).
    pub location: String,
    /// For a dead letter, how many times applying it failed before it was
    /// moved aside; `None` for an entry moved aside for another reason.
    pub attempts: Option<u32>,
}

impl MovedAside {
    /// A moved-aside entry; a reason written by
    /// [`dead_letter_reason`](MovedAside::dead_letter_reason) gives its
    /// count to [`attempts`](MovedAside::attempts), so every backend reports
    /// it whatever it stores.
    ///
    /// ```
    /// use reedbase_concurrent_core::MovedAside;
    ///
    /// let reason = MovedAside::dead_letter_reason(3, &"table file is read-only");
    /// assert_eq!(MovedAside::new("0042-abc", reason, "/q/corrupt").attempts, Some(3));
    /// assert_eq!(MovedAside::new("0042-abc", "JSON entry does not parse", "/q/corrupt").attempts, None);
    /// ```
    pub fn new(
        id: impl Into<String>,
        reason: impl Into<String>,
        location: impl Into<String>,
    ) -> Self {
        let reason = reason.into();
        MovedAside {
            id: id.into(),
            attempts: dead_letter_attempts(&reason),
            reason,
            location: location.into(),
        }
    }

    /// The reason the coordinator gives a dead letter: the number of failed
    /// applies and the last error.
    ///
    /// ```
    /// use reedbase_concurrent_core::MovedAside;
    ///
    /// assert_eq!(
    ///     MovedAside::dead_letter_reason(1, &"disk full"),
    ///     "dead letter: applying it failed 1 time; last error: disk full"
    /// );
    /// ```
    pub fn dead_letter_reason(attempts: u32, last_error: &dyn fmt::Display) -> String {
        let times = if attempts == 1 { "time" } else { "times" };
        format!("{DEAD_LETTER_PREFIX}{attempts} {times}; last error: {last_error}")
    }

    /// True for an entry moved aside as a dead letter (its apply kept
    /// failing), as opposed to one that could not be read.
    pub fn is_dead_letter(&self) -> bool {
        self.reason.starts_with(DEAD_LETTER_PREFIX)
    }
}

/// The start of every dead letter's reason.
const DEAD_LETTER_PREFIX: &str = "dead letter: applying it failed ";

/// The count in a reason written by [`MovedAside::dead_letter_reason`].
fn dead_letter_attempts(reason: &str) -> Option<u32> {
    let rest = reason.strip_prefix(DEAD_LETTER_PREFIX)?;
    let digits = rest.split(' ').next()?;
    digits.parse().ok()
}

/// One pending entry of a queue as an operator sees it: read without moving
/// it, judged as a reader would judge it. Backends' inspection functions
/// (`reedbase_concurrent_fs::inspect`, `PgBackend::queued_entries`) return
/// it.
///
/// ```
/// use reedbase_concurrent_core::QueuedEntry;
///
/// let entry = QueuedEntry::new("0042-abc", Err("JSON entry does not parse".to_string()), None, 9, 0);
/// assert!(entry.write.is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct QueuedEntry {
    /// The entry's queue id.
    pub id: String,
    /// The write, or why a reader would move the entry aside.
    pub write: Result<PendingWrite, String>,
    /// When the entry entered the queue, as the backend recorded it (the
    /// entry file's modification time, the row's insertion time); `None`
    /// when unknown.
    pub queued_at: Option<SystemTime>,
    /// The size of the stored entry in bytes.
    pub bytes: u64,
    /// How many times applying it has failed (0 when never).
    pub attempts: u32,
}

impl QueuedEntry {
    /// An entry as a backend's inspection found it.
    pub fn new(
        id: impl Into<String>,
        write: Result<PendingWrite, String>,
        queued_at: Option<SystemTime>,
        bytes: u64,
        attempts: u32,
    ) -> Self {
        QueuedEntry {
            id: id.into(),
            write,
            queued_at,
            bytes,
            attempts,
        }
    }
}

/// Formats a duration for people: `850 us`, `12.3 ms`, `2.50 s`.
pub(crate) fn human_duration(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 1_000 {
        format!("{micros} us")
    } else if micros < 1_000_000 {
        format!("{:.1} ms", duration.as_secs_f64() * 1_000.0)
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

#[cfg(test)]
#[path = "diagnostics_test.rs"]
mod tests;
