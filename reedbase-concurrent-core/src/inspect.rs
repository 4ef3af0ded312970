// SPDX-License-Identifier: Apache-2.0
//! Inspection for operators: what a backend can tell about its tables
//! without taking a lock or changing anything ([`InspectBackend`]), and the
//! one repair it offers, putting a moved-aside entry back
//! ([`RestoreBackend`]).
//!
//! Contract: every method of [`InspectBackend`] is read-only (no lock
//! taken, no entry moved, nothing created or registered) and returns a
//! snapshot that may be stale by the time it is read; none of it may be
//! used to decide whether to write. A place that is not there (a base
//! directory that does not exist, a namespace nobody ever used) is an
//! error, never an empty list: a monitoring script must not read a typo as
//! "all drained". Entries a reader would move aside are reported with the
//! reason, not moved.

use std::time::SystemTime;

use crate::backend::Backend;
use crate::diagnostics::{LockHolder, MovedAside, QueuedEntry};
use crate::error::ReedResult;
use crate::types::PendingWrite;

/// One table at a glance: its lock, its queue and what was moved aside.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TableSummary {
    /// The table.
    pub table: String,
    /// Who holds its lock; `None` when it is free.
    pub holder: Option<LockHolder>,
    /// Pending entries.
    pub pending: usize,
    /// Pending entries a reader would move aside (unreadable now).
    pub unreadable: usize,
    /// Pending entries whose apply has failed at least once.
    pub failing: usize,
    /// When the oldest pending entry was queued, where the backend knows.
    pub oldest_queued_at: Option<SystemTime>,
    /// Entries moved aside.
    pub moved_aside: Vec<MovedAside>,
}

impl TableSummary {
    /// The summary of `table` from its holder, its pending entries (in any
    /// order) and its moved-aside entries.
    ///
    /// ```
    /// use reedbase_concurrent_core::{QueuedEntry, TableSummary};
    ///
    /// let entries = [QueuedEntry::new("0042-abc", Err("JSON entry does not parse".to_string()), None, 9, 2)];
    /// let summary = TableSummary::new("users", None, &entries, Vec::new());
    /// assert_eq!((summary.pending, summary.unreadable, summary.failing), (1, 1, 1));
    /// ```
    pub fn new(
        table: impl Into<String>,
        holder: Option<LockHolder>,
        entries: &[QueuedEntry],
        moved_aside: Vec<MovedAside>,
    ) -> Self {
        TableSummary {
            table: table.into(),
            holder,
            pending: entries.len(),
            unreadable: entries.iter().filter(|entry| entry.write.is_err()).count(),
            failing: entries.iter().filter(|entry| entry.attempts > 0).count(),
            oldest_queued_at: entries.iter().filter_map(|entry| entry.queued_at).min(),
            moved_aside,
        }
    }
}

/// What an operator reads about a backend's tables: the tables, each one's
/// lock holder and queue, one entry, the entries moved aside.
///
/// A backend implements the required methods; the lock holder, waiting
/// for a lock and the moved-aside entries come from [`LockBackend`] and
/// [`QueueBackend`], the summaries are provided. Every method is read-only
/// (no lock taken, no entry moved, nothing created) and returns a snapshot
/// that may be stale when it is read; a place that is not there is an
/// error, never an empty list.
///
/// [`LockBackend`]: crate::LockBackend
/// [`QueueBackend`]: crate::QueueBackend
///
/// # Examples
///
/// A check that works on every backend: tables whose queue is not empty
/// while nobody holds their lock, so nobody drains them.
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, InspectBackend, PendingWrite, QueueBackend, ReedResult, WriteOperation};
/// use reedbase_concurrent_mem::MemBackend;
///
/// fn undrained(backend: &impl InspectBackend) -> ReedResult<Vec<String>> {
///     Ok(backend
///         .table_summaries()?
///         .into_iter()
///         .filter(|table| table.pending > 0 && table.holder.is_none())
///         .map(|table| table.table)
///         .collect())
/// }
///
/// let backend = MemBackend::new();
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("user:1", ["Alice"])]);
/// let id = backend.queue_write("users", &write)?;
/// assert_eq!(undrained(&backend)?, ["users"]);
/// assert_eq!(backend.queued_entry("users", &id)?.write, Ok(write));
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
pub trait InspectBackend: Backend {
    /// Where the tables live, in words for messages: `base directory
    /// /srv/reedbase`, `PostgreSQL namespace 'prod' on db-1:5432/reedbase`.
    fn location(&self) -> String;

    /// Every table, sorted by name (byte order). A place that exists and
    /// holds no table yet gives an empty list.
    ///
    /// # Errors
    ///
    /// An error naming the place when it is not there (a base directory
    /// that does not exist or is not a directory, a namespace in which no
    /// table was ever locked or queued to), and the backend's I/O or
    /// server errors.
    fn tables(&self) -> ReedResult<Vec<String>>;

    /// The pending entries of `table_name` in delivery order (oldest
    /// first), each with its write or the reason a reader would move it
    /// aside; none for a table without a queue.
    ///
    /// # Errors
    ///
    /// [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName)
    /// before anything is read; the backend's I/O or server errors.
    fn queued_entries(&self, table_name: &str) -> ReedResult<Vec<QueuedEntry>>;

    /// One pending entry, judged as [`queued_entries`](Self::queued_entries)
    /// judges it.
    ///
    /// # Errors
    ///
    /// [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName)
    /// and [`ReedError::InvalidQueueId`](crate::ReedError::InvalidQueueId)
    /// before anything is read;
    /// [`ReedError::QueueEntryNotFound`](crate::ReedError::QueueEntryNotFound)
    /// when it is not pending; the backend's I/O or server errors.
    fn queued_entry(&self, table_name: &str, queue_id: &str) -> ReedResult<QueuedEntry>;

    /// Whether the holder's process is alive: `Some(true)` or
    /// `Some(false)` where the backend can tell, `None` where it cannot (a
    /// holder on another host, a holder that left no record).
    fn holder_alive(&self, holder: &LockHolder) -> Option<bool>;

    /// True when `queue_id` has a form this backend gives its entries, so
    /// that a tool can tell a mistyped id from one that is no longer
    /// pending. The default accepts the sequenced ids of the file and
    /// PostgreSQL backends (`00000000000000000042-` and 32 lower-case hex
    /// digits) and the old module's hyphenated UUIDs.
    ///
    /// ```
    /// use reedbase_concurrent_core::InspectBackend;
    /// use reedbase_concurrent_mem::MemBackend;
    ///
    /// let backend = MemBackend::new();
    /// assert!(backend.is_queue_id_form("mem-00000000000000000007"));
    /// assert!(!backend.is_queue_id_form("not-an-id"));
    /// ```
    fn is_queue_id_form(&self, queue_id: &str) -> bool {
        is_sequenced_id(queue_id) || is_hyphenated_uuid(queue_id)
    }

    /// The summary of one table.
    ///
    /// # Errors
    ///
    /// As [`queued_entries`](Self::queued_entries),
    /// [`lock_holder`](crate::LockBackend::lock_holder) and
    /// [`moved_aside`](crate::QueueBackend::moved_aside).
    fn table_summary(&self, table_name: &str) -> ReedResult<TableSummary> {
        let holder = self.lock_holder(table_name)?;
        let entries = self.queued_entries(table_name)?;
        let moved_aside = self.moved_aside(table_name)?;
        Ok(TableSummary::new(table_name, holder, &entries, moved_aside))
    }

    /// The summary of every table, sorted by name.
    ///
    /// # Errors
    ///
    /// As [`tables`](Self::tables) and [`table_summary`](Self::table_summary).
    fn table_summaries(&self) -> ReedResult<Vec<TableSummary>> {
        self.tables()?
            .iter()
            .map(|table| self.table_summary(table))
            .collect()
    }
}

/// Putting an entry that was moved aside back into its queue: the one
/// operation of the operators' tool that changes anything. A backend that
/// keeps the body of a moved-aside entry implements it.
///
/// # Examples
///
/// ```no_run
/// use reedbase_concurrent_core::{RestoreBackend, ReedResult};
///
/// /// Restores every dead letter of `table` after its cause was fixed.
/// fn restore_dead_letters(backend: &impl RestoreBackend, table: &str) -> ReedResult<usize> {
///     let mut restored = 0;
///     for moved in backend.moved_aside(table)? {
///         if moved.is_dead_letter() {
///             backend.restore_moved_aside(table, &moved.id)?;
///             restored += 1;
///         }
///     }
///     Ok(restored)
/// }
/// ```
pub trait RestoreBackend: InspectBackend {
    /// Puts the moved-aside entry `queue_id` back into the queue of
    /// `table_name` under its own id, so in its own place in the FIFO order
    /// among the entries pending now, and returns its write; its failure
    /// count starts again at 0. It takes the queue's producers' lock like
    /// any producer and counts against the capacity.
    ///
    /// # Errors
    ///
    /// - [`ReedError::InvalidTableName`](crate::ReedError::InvalidTableName),
    ///   [`ReedError::InvalidQueueId`](crate::ReedError::InvalidQueueId)
    ///   before anything is touched;
    /// - [`ReedError::QueueEntryNotFound`](crate::ReedError::QueueEntryNotFound)
    ///   when nothing was moved aside under this id;
    /// - [`ReedError::CorruptEntry`](crate::ReedError::CorruptEntry)
    ///   ("not restored: ...") when it still does not decode or its id is
    ///   pending already; nothing is changed;
    /// - [`ReedError::QueueFull`](crate::ReedError::QueueFull),
    ///   [`ReedError::QueueBusy`](crate::ReedError::QueueBusy) as for
    ///   [`queue_write`](crate::QueueBackend::queue_write); the backend's
    ///   I/O or server errors.
    fn restore_moved_aside(&self, table_name: &str, queue_id: &str) -> ReedResult<PendingWrite>;
}

/// `<20 digits>-<32 lower-case hex digits>`.
fn is_sequenced_id(id: &str) -> bool {
    match id.split_once('-') {
        Some((sequence, uuid)) => {
            sequence.len() == 20
                && sequence.bytes().all(|b| b.is_ascii_digit())
                && uuid.len() == 32
                && uuid.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        }
        None => false,
    }
}

/// `8-4-4-4-12` hex digits.
fn is_hyphenated_uuid(id: &str) -> bool {
    let groups: Vec<&str> = id.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(group, len)| group.len() == len && group.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
#[path = "inspect_test.rs"]
mod tests;
