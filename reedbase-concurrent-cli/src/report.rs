// SPDX-License-Identifier: Apache-2.0
//! What each command reports, gathered read-only from any backend that
//! implements core's [`InspectBackend`]; printed as JSON as it is (serde)
//! or as text by [`render`](crate::render).

use std::time::{SystemTime, UNIX_EPOCH};

use reedbase_concurrent_core::{
    InspectBackend, LockHolder, MovedAside, QueuedEntry, ReedResult, TableSummary,
};
use serde::Serialize;

/// Who holds a lock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HolderReport {
    /// The holder's process id, if known.
    pub pid: Option<u32>,
    /// The holder's host, if known.
    pub host: Option<String>,
    /// When it took the lock, seconds since the Unix epoch, if known.
    pub since_unix: Option<f64>,
    /// Whether its process is alive, if that can be told.
    pub alive: Option<bool>,
    /// The same in words.
    pub text: String,
}

/// A table's lock.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockReport {
    /// The table.
    pub table: String,
    /// Whether some process holds it.
    pub held: bool,
    /// Who, when held.
    pub holder: Option<HolderReport>,
}

/// One moved-aside entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MovedReport {
    /// The table.
    pub table: String,
    /// The entry's queue id.
    pub id: String,
    /// True for a dead letter (its apply kept failing).
    pub dead_letter: bool,
    /// Failed applies before it was moved aside, where known.
    pub attempts: Option<u32>,
    /// Why it was moved aside.
    pub reason: String,
    /// Where it lies.
    pub location: String,
}

/// One line of `status`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TableStatus {
    /// The table.
    pub table: String,
    /// Its lock.
    pub lock: LockReport,
    /// Pending entries.
    pub pending: usize,
    /// Pending entries a reader would move aside (unreadable now).
    pub unreadable: usize,
    /// Pending entries whose apply has failed at least once.
    pub failing: usize,
    /// Age of the oldest pending entry, in seconds.
    pub oldest_age_secs: Option<f64>,
    /// Entries moved aside.
    pub moved_aside: Vec<MovedReport>,
}

/// One pending entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryReport {
    /// Its place in the queue, from 1.
    pub position: usize,
    /// Its queue id.
    pub id: String,
    /// When it was queued, seconds since the Unix epoch, if known.
    pub queued_unix: Option<f64>,
    /// How long ago, in seconds.
    pub age_secs: Option<f64>,
    /// Its stored size in bytes.
    pub bytes: u64,
    /// Failed applies so far.
    pub attempts: u32,
    /// `Insert`, `Update` or `Delete`; `None` when unreadable.
    pub operation: Option<String>,
    /// The write's own timestamp (nanoseconds since the epoch).
    pub timestamp_ns: Option<u128>,
    /// The rows as the table would get them (`key|v1|v2`).
    pub rows: Vec<String>,
    /// Why a reader would move it aside, when unreadable.
    pub error: Option<String>,
}

/// The status of every table, or of none when there are none.
pub fn status(store: &impl InspectBackend) -> ReedResult<Vec<TableStatus>> {
    let summaries = store.table_summaries()?;
    let now = SystemTime::now();
    Ok(summaries
        .into_iter()
        .map(|summary| table_status(store, summary, now))
        .collect())
}

fn table_status(
    store: &impl InspectBackend,
    summary: TableSummary,
    now: SystemTime,
) -> TableStatus {
    let table = summary.table;
    TableStatus {
        lock: lock_report(store, &table, summary.holder),
        pending: summary.pending,
        unreadable: summary.unreadable,
        failing: summary.failing,
        oldest_age_secs: summary.oldest_queued_at.map(|at| age_secs(now, at)),
        moved_aside: summary
            .moved_aside
            .into_iter()
            .map(|moved| moved_report(&table, moved))
            .collect(),
        table,
    }
}

/// The table's lock.
pub fn lock(store: &impl InspectBackend, table: &str) -> ReedResult<LockReport> {
    Ok(lock_report(store, table, store.lock_holder(table)?))
}

fn lock_report(store: &impl InspectBackend, table: &str, holder: Option<LockHolder>) -> LockReport {
    LockReport {
        table: table.to_string(),
        held: holder.is_some(),
        holder: holder.map(|holder| holder_report(store, &holder)),
    }
}

/// The holder in words and fields.
pub fn holder_report(store: &impl InspectBackend, holder: &LockHolder) -> HolderReport {
    let alive = store.holder_alive(holder);
    let text = match (holder.is_unknown(), alive) {
        (true, _) => "an unknown holder (no readable record: an old-module process, or a \
                      process that inherited the lock from one that is gone)"
            .to_string(),
        (false, Some(true)) => format!("{holder}, alive"),
        (false, Some(false)) => {
            format!("{holder}, not alive (the lock is held by another process)")
        }
        (false, None) => format!("{holder}, alive or not cannot be told from here"),
    };
    HolderReport {
        pid: holder.pid,
        host: holder.host.clone(),
        since_unix: holder.acquired_at.map(unix_secs),
        alive,
        text,
    }
}

/// The table's moved-aside entries.
pub fn moved(store: &impl InspectBackend, table: &str) -> ReedResult<Vec<MovedReport>> {
    Ok(store
        .moved_aside(table)?
        .into_iter()
        .map(|moved| moved_report(table, moved))
        .collect())
}

fn moved_report(table: &str, moved: MovedAside) -> MovedReport {
    MovedReport {
        table: table.to_string(),
        dead_letter: moved.is_dead_letter(),
        attempts: moved.attempts,
        id: moved.id,
        reason: moved.reason,
        location: moved.location,
    }
}

/// The table's pending entries in FIFO order.
pub fn entries(store: &impl InspectBackend, table: &str) -> ReedResult<Vec<EntryReport>> {
    let now = SystemTime::now();
    Ok(store
        .queued_entries(table)?
        .into_iter()
        .enumerate()
        .map(|(index, entry)| entry_report(index + 1, entry, now))
        .collect())
}

/// One pending entry, with its place in the queue.
pub fn entry(store: &impl InspectBackend, table: &str, id: &str) -> ReedResult<EntryReport> {
    let entry = store.queued_entry(table, id)?;
    let position = store
        .queued_entries(table)?
        .iter()
        .position(|queued| queued.id == id)
        .map_or(0, |index| index + 1);
    Ok(entry_report(position, entry, SystemTime::now()))
}

fn entry_report(position: usize, entry: QueuedEntry, now: SystemTime) -> EntryReport {
    let (operation, timestamp_ns, rows, error) = match entry.write {
        Ok(write) => (
            Some(format!("{:?}", write.operation)),
            Some(write.timestamp),
            write.rows.iter().map(|row| row.to_csv()).collect(),
            None,
        ),
        Err(reason) => (None, None, Vec::new(), Some(reason)),
    };
    EntryReport {
        position,
        id: entry.id,
        queued_unix: entry.queued_at.map(unix_secs),
        age_secs: entry.queued_at.map(|at| age_secs(now, at)),
        bytes: entry.bytes,
        attempts: entry.attempts,
        operation,
        timestamp_ns,
        rows,
        error,
    }
}

fn unix_secs(at: SystemTime) -> f64 {
    at.duration_since(UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64())
}

/// Seconds from `at` to `now`, 0 for a time in the future (clock skew).
fn age_secs(now: SystemTime, at: SystemTime) -> f64 {
    now.duration_since(at).map_or(0.0, |age| age.as_secs_f64())
}

#[cfg(test)]
#[path = "report_test.rs"]
mod tests;
