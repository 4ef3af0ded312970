// SPDX-License-Identifier: Apache-2.0
//! What the operators' tool reads and does, through core's
//! `InspectBackend` and `RestoreBackend`: the namespace's tables and each
//! queue's entries, read without taking a lock or changing a row (entries
//! that a reader would move aside are reported with the reason, not moved);
//! and putting a moved-aside entry back into its queue. A namespace in
//! which no table was ever locked or queued to is unknown: an error, never
//! an empty list.

use std::time::{Instant, SystemTime};

use reedbase_concurrent_core::{
    InspectBackend, LockHolder, PendingWrite, QueuedEntry, ReedError, ReedResult, RestoreBackend,
    events, validate_queue_id, validate_table_name,
};
use tokio_postgres::types::Type;

use crate::backend::PgBackend;
use crate::connection::{self, OpenTransaction};
use crate::options::server_millis;
use crate::queue::decode;
use crate::schema::Lookup;

/// The namespace as an operator sees it. Nothing is moved, locked or
/// registered; a table nobody locked or queued to has no entries.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, InspectBackend, PendingWrite, QueueBackend, WriteOperation};
/// use reedbase_concurrent_pg::{PgBackend, PgOptions};
/// use reedbase_concurrent_pg::testing::TestServer;
///
/// # let Some(server) = TestServer::find("PgBackend InspectBackend doctest") else { return Ok(()) };
/// # let run = server.run("doc_tables");
/// let backend = run.backend(PgOptions::new())?;
/// assert!(backend.tables().is_err(), "a namespace nobody used is unknown");
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
/// let id = backend.queue_write("users", &write)?;
/// assert_eq!(backend.tables()?, ["users"]);
/// let entries = backend.queued_entries("users")?;
/// assert_eq!((entries[0].id.as_str(), entries[0].write.as_ref()), (id.as_str(), Ok(&write)));
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
impl InspectBackend for PgBackend {
    fn location(&self) -> String {
        format!(
            "PostgreSQL namespace '{}' on {}",
            self.namespace(),
            self.shared().server
        )
    }

    /// Every table that was ever locked or queued to in this namespace.
    ///
    /// # Errors
    ///
    /// [`ReedError::ServerError`] (`tables`), also for an unknown
    /// namespace (one without tables).
    fn tables(&self) -> ReedResult<Vec<String>> {
        const OPERATION: &str = "tables";
        let sql = format!(
            "SELECT table_name FROM {}.tables WHERE namespace = $1 ORDER BY table_name COLLATE \"C\"",
            self.shared().schema
        );
        let mut conn = self.connection(OPERATION)?;
        let rows = conn
            .query_typed(&sql, &[(&self.namespace(), Type::TEXT)])
            .map_err(|error| self.server_error(OPERATION, &error))?;
        if rows.is_empty() {
            return Err(self.shared().server.failure(
                OPERATION,
                format!(
                    "unknown namespace '{}': no table of it was ever locked or queued to on this \
                     server (or the namespace was dropped)",
                    self.namespace()
                ),
            ));
        }
        rows.iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(|error| self.server_error(OPERATION, &error))
    }

    fn queued_entries(&self, table_name: &str) -> ReedResult<Vec<QueuedEntry>> {
        validate_table_name(table_name)?;
        self.read_entries(table_name, None, "queued_entries")
    }

    fn queued_entry(&self, table_name: &str, queue_id: &str) -> ReedResult<QueuedEntry> {
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        self.read_entries(table_name, Some(queue_id), "queued_entry")?
            .into_iter()
            .next()
            .ok_or_else(|| ReedError::entry_not_found(table_name, queue_id))
    }

    /// `Some(true)` for every known holder: the server reports only locks
    /// of live sessions.
    fn holder_alive(&self, holder: &LockHolder) -> Option<bool> {
        (!holder.is_unknown()).then_some(true)
    }
}

/// Putting a moved-aside entry back into the queue of its table under its
/// own id and sequence number, so in its own place in the FIFO order; its
/// failure count starts again at 0.
///
/// The body is read as it lies in `<schema>.moved_aside` now (repair it
/// there first with an `UPDATE` if it was moved aside because it did not
/// parse) and must decode and hold valid rows. In one transaction,
/// under the table's producers' lock like any producer and within the
/// capacity: the entry is inserted and its moved-aside row deleted. Where
/// several rows were moved aside under one id, the first is restored.
///
/// # Errors
///
/// - [`ReedError::InvalidTableName`], [`ReedError::InvalidQueueId`]
///   before anything is sent;
/// - [`ReedError::QueueEntryNotFound`] when nothing was moved aside
///   under this id;
/// - [`ReedError::CorruptEntry`] ("not restored: ...") when its body
///   still does not decode or an entry with this id is pending already;
///   nothing is changed;
/// - [`ReedError::QueueFull`], [`ReedError::QueueBusy`] as for
///   `queue_write`; [`ReedError::ServerError`] (`restore_moved_aside`).
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, RestoreBackend, WriteOperation};
/// use reedbase_concurrent_pg::PgOptions;
/// use reedbase_concurrent_pg::testing::TestServer;
///
/// # let Some(server) = TestServer::find("PgBackend::restore_moved_aside doctest") else { return Ok(()) };
/// # let run = server.run("doc_restore");
/// let backend = run.backend(PgOptions::new())?;
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
/// let id = backend.queue_write("t", &write)?;
/// backend.move_aside("t", &id, "dead letter: applying it failed 3 times; last error: disk full")?;
/// assert_eq!(backend.restore_moved_aside("t", &id)?, write);
/// assert_eq!(backend.get_next_pending("t")?, Some((id, write)));
/// assert!(backend.moved_aside("t")?.is_empty());
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
impl RestoreBackend for PgBackend {
    fn restore_moved_aside(&self, table_name: &str, queue_id: &str) -> ReedResult<PendingWrite> {
        const OPERATION: &str = "restore_moved_aside";
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        let not_found = || ReedError::entry_not_found(table_name, queue_id);
        let table_no = self
            .table_number(table_name, Lookup::Existing, OPERATION)?
            .ok_or_else(not_found)?;
        let shared = self.shared();
        let bound = server_millis(shared.options.queue_timeout);
        let setup = format!(
            "SET LOCAL lock_timeout = {bound}; SET LOCAL statement_timeout = {bound}; {commit} \
             SELECT pg_advisory_xact_lock({class}, {table_no})",
            commit = connection::commit_setting(self.durable()),
            class = shared.classes.queue_lock as i32,
        );
        let schema = &shared.schema;
        let find = format!(
            "SELECT seq, body, (SELECT count(*) FROM {schema}.queue WHERE table_no = $1), \
             EXISTS (SELECT 1 FROM {schema}.queue WHERE table_no = $1 AND id = $2) \
             FROM {schema}.moved_aside WHERE table_no = $1 AND id = $2 ORDER BY seq LIMIT 1"
        );
        let put_back = format!(
            "WITH back AS (DELETE FROM {schema}.moved_aside WHERE table_no = $1 AND seq = $2 \
                           RETURNING table_no, seq, id, body) \
             INSERT INTO {schema}.queue (table_no, seq, id, body) \
             SELECT table_no, seq, id, body FROM back"
        );
        let mut conn = self.connection(OPERATION)?;
        let start = Instant::now();
        let failed = |error: tokio_postgres::Error| {
            if connection::timed_out(&error) {
                ReedError::queue_busy(table_name, start.elapsed())
            } else {
                self.server_error(OPERATION, &error)
            }
        };
        let mut transaction = OpenTransaction::begin(&mut conn, &setup).map_err(failed)?;
        let row = transaction
            .client()
            .query_typed_opt(&find, &[(&table_no, Type::INT4), (&queue_id, Type::TEXT)])
            .map_err(failed)?
            .ok_or_else(not_found)?;
        let seq: i64 = row.try_get(0).map_err(failed)?;
        let body: Vec<u8> = row.try_get(1).map_err(failed)?;
        let pending: i64 = row.try_get(2).map_err(failed)?;
        let already: bool = row.try_get(3).map_err(failed)?;
        let refuse = |reason: String| ReedError::CorruptEntry {
            table: table_name.to_string(),
            queue_id: queue_id.to_string(),
            moved_to: self
                .moved_entry(table_name, queue_id, String::new())
                .location,
            reason: format!("not restored: {reason}"),
        };
        if already {
            return Err(refuse(format!(
                "an entry with id '{queue_id}' is pending in the queue already"
            )));
        }
        let write = decode(queue_id, &body).map_err(refuse)?;
        if usize::try_from(pending).unwrap_or(usize::MAX) >= shared.options.capacity {
            return Err(ReedError::queue_full(
                table_name,
                usize::try_from(pending).unwrap_or(usize::MAX),
            ));
        }
        transaction
            .client()
            .execute_typed(&put_back, &[(&table_no, Type::INT4), (&seq, Type::INT8)])
            .map_err(failed)?;
        transaction.commit().map_err(failed)?;
        tracing::info!(
            event = events::ENTRY_RESTORED,
            table = table_name,
            id = queue_id,
            "moved-aside entry restored into its queue"
        );
        Ok(write)
    }
}

impl PgBackend {
    fn read_entries(
        &self,
        table: &str,
        only: Option<&str>,
        operation: &'static str,
    ) -> ReedResult<Vec<QueuedEntry>> {
        let Some(table_no) = self.table_number(table, Lookup::Existing, operation)? else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT id, body, failed_applies, queued_at FROM {}.queue \
             WHERE table_no = $1 AND ($2::text IS NULL OR id = $2) ORDER BY seq",
            self.shared().schema
        );
        let mut conn = self.connection(operation)?;
        let rows = conn
            .query_typed(&sql, &[(&table_no, Type::INT4), (&only, Type::TEXT)])
            .map_err(|error| self.server_error(operation, &error))?;
        let entry = |row: &tokio_postgres::Row| -> Result<QueuedEntry, tokio_postgres::Error> {
            let id: String = row.try_get(0)?;
            let body: Vec<u8> = row.try_get(1)?;
            let attempts: i32 = row.try_get(2)?;
            let queued_at: SystemTime = row.try_get(3)?;
            Ok(QueuedEntry::new(
                id.clone(),
                decode(&id, &body),
                Some(queued_at),
                body.len() as u64,
                u32::try_from(attempts).unwrap_or(0),
            ))
        };
        rows.iter()
            .map(entry)
            .collect::<Result<_, _>>()
            .map_err(|error| self.server_error(operation, &error))
    }
}
