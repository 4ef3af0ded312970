// SPDX-License-Identifier: Apache-2.0
//! [`QueueBackend`] for [`PgBackend`]: one row per entry in the queue
//! table, holding the same JSON bytes as a file of the file-system queue.
//! Writing is in `producer`, reading and removing in `consumer`.

use reedbase_concurrent_core::{
    MovedAside, PendingWrite, QueueBackend, ReedError, ReedResult, validate_queue_id,
    validate_table_name, validate_write,
};
use tokio_postgres::types::Type;

use crate::backend::{Lookup, PgBackend};
use crate::connection;

impl QueueBackend for PgBackend {
    /// Queues `write`; see the [crate docs](crate#the-queue).
    ///
    /// # Errors
    ///
    /// Besides the trait's: [`ReedError::QueueBusy`] past
    /// [`PgOptions::queue_timeout`](crate::PgOptions::queue_timeout), and
    /// [`ReedError::ServerError`] (`queue_write`). An error from the commit
    /// itself (the session ended at that moment) leaves it unknown whether
    /// the entry was queued; nothing is ever half written.
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        validate_table_name(table_name)?;
        validate_write(write)?;
        self.write_entry(table_name, write)
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        validate_table_name(table_name)?;
        Ok(self
            .pending_batch(table_name, 1, "get_next_pending")?
            .into_iter()
            .next())
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        self.remove_entries(table_name, &[queue_id.to_string()], "remove_from_queue")
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        const OPERATION: &str = "count_pending";
        validate_table_name(table_name)?;
        let Some(table_no) = self.table_number(table_name, Lookup::Existing, OPERATION)? else {
            return Ok(0);
        };
        let sql = format!(
            "SELECT count(*) FROM {}.queue WHERE table_no = $1",
            self.shared().schema
        );
        let mut conn = self.connection(OPERATION)?;
        let count: i64 = conn
            .query_typed_one(&sql, &[(&table_no, Type::INT4)])
            .and_then(|row| row.try_get(0))
            .map_err(|error| self.server_error(OPERATION, &error))?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    fn capacity(&self) -> usize {
        self.shared().options.capacity
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        validate_table_name(table_name)?;
        self.pending_batch(table_name, max, "get_pending_batch")
    }

    /// Removes the entries in one transaction; when one of them is not
    /// pending, exactly the entries before it are removed (as the trait
    /// asks), also in one transaction.
    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        validate_table_name(table_name)?;
        for id in queue_ids {
            validate_queue_id(id)?;
        }
        self.remove_entries(table_name, queue_ids, "remove_batch_from_queue")
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        const OPERATION: &str = "is_pending";
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        let Some(table_no) = self.table_number(table_name, Lookup::Existing, OPERATION)? else {
            return Ok(false);
        };
        let sql = format!(
            "SELECT EXISTS (SELECT 1 FROM {}.queue WHERE table_no = $1 AND id = $2)",
            self.shared().schema
        );
        let mut conn = self.connection(OPERATION)?;
        conn.query_typed_one(&sql, &[(&table_no, Type::INT4), (&queue_id, Type::TEXT)])
            .and_then(|row| row.try_get(0))
            .map_err(|error| self.server_error(OPERATION, &error))
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        const OPERATION: &str = "move_aside";
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        let Some(table_no) = self.table_number(table_name, Lookup::Existing, OPERATION)? else {
            return Err(ReedError::entry_not_found(table_name, queue_id));
        };
        let mut conn = self.connection(OPERATION)?;
        match self.move_row_aside(
            &mut conn,
            (table_name, table_no),
            "id",
            &queue_id,
            reason,
            OPERATION,
        )? {
            Some(_) => Ok(self.moved_entry(table_name, queue_id, reason.to_string())),
            None => Err(self.not_pending(&mut conn, table_name, table_no, queue_id, OPERATION)),
        }
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        const OPERATION: &str = "moved_aside";
        validate_table_name(table_name)?;
        let Some(table_no) = self.table_number(table_name, Lookup::Existing, OPERATION)? else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT id, reason FROM {}.moved_aside WHERE table_no = $1 ORDER BY id COLLATE \"C\", seq",
            self.shared().schema
        );
        let mut conn = self.connection(OPERATION)?;
        let rows = conn
            .query_typed(&sql, &[(&table_no, Type::INT4)])
            .map_err(|error| self.server_error(OPERATION, &error))?;
        rows.iter()
            .map(|row| {
                let id: String = row.try_get(0)?;
                let reason: String = row.try_get(1)?;
                Ok(self.moved_entry(table_name, &id, reason))
            })
            .collect::<Result<_, tokio_postgres::Error>>()
            .map_err(|error| self.server_error(OPERATION, &error))
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        const OPERATION: &str = "record_failed_apply";
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        let Some(table_no) = self.table_number(table_name, Lookup::Existing, OPERATION)? else {
            return Err(ReedError::entry_not_found(table_name, queue_id));
        };
        let sql = format!(
            "UPDATE {}.queue SET failed_applies = failed_applies + 1 \
             WHERE table_no = $1 AND id = $2 RETURNING failed_applies",
            self.shared().schema
        );
        let mut conn = self.connection(OPERATION)?;
        let rows = connection::write_statement(
            &mut conn,
            self.durable(),
            &sql,
            &[(&table_no, Type::INT4), (&queue_id, Type::TEXT)],
        )
        .map_err(|error| self.server_error(OPERATION, &error))?;
        match rows.first() {
            Some(row) => row
                .try_get::<_, i32>(0)
                .map(|count| u32::try_from(count).unwrap_or(0))
                .map_err(|error| self.server_error(OPERATION, &error)),
            // Not pending, whether removed, moved aside or never queued: the
            // trait's contract is `QueueEntryNotFound` for all three.
            None => Err(ReedError::entry_not_found(table_name, queue_id)),
        }
    }

    fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
        const OPERATION: &str = "tables_with_pending";
        let schema = &self.shared().schema;
        let sql = format!(
            "SELECT t.table_name FROM {schema}.tables t WHERE t.namespace = $1 \
             AND EXISTS (SELECT 1 FROM {schema}.queue q WHERE q.table_no = t.table_no) \
             ORDER BY t.table_name COLLATE \"C\""
        );
        let mut conn = self.connection(OPERATION)?;
        let rows = conn
            .query_typed(&sql, &[(&self.namespace(), Type::TEXT)])
            .map_err(|error| self.server_error(OPERATION, &error))?;
        rows.iter()
            .map(|row| row.try_get(0))
            .collect::<Result<_, _>>()
            .map_err(|error| self.server_error(OPERATION, &error))
    }
}
