// SPDX-License-Identifier: Apache-2.0
//! Counting, looking up and moving queue entries, and their failure
//! counts.

use reedbase_concurrent_core::{
    MovedAside, ReedError, ReedResult, validate_queue_id, validate_table_name,
};
use tokio_postgres::types::Type;

use crate::backend::PgBackend;
use crate::connection;
use crate::schema::Lookup;

impl PgBackend {
    /// [`QueueBackend::count_pending`](reedbase_concurrent_core::QueueBackend::count_pending).
    pub(crate) fn count(&self, table_name: &str) -> ReedResult<usize> {
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
            .query_prepared_one(&sql, &[Type::INT4], &[&table_no])
            .and_then(|row| row.try_get(0))
            .map_err(|error| self.server_error(OPERATION, &error))?;
        Ok(usize::try_from(count).unwrap_or(usize::MAX))
    }

    /// [`QueueBackend::is_pending`](reedbase_concurrent_core::QueueBackend::is_pending).
    pub(crate) fn pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
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
        conn.query_prepared_one(&sql, &[Type::INT4, Type::TEXT], &[&table_no, &queue_id])
            .and_then(|row| row.try_get(0))
            .map_err(|error| self.server_error(OPERATION, &error))
    }

    /// [`QueueBackend::move_aside`](reedbase_concurrent_core::QueueBackend::move_aside).
    pub(crate) fn move_entry_aside(
        &self,
        table_name: &str,
        queue_id: &str,
        reason: &str,
    ) -> ReedResult<MovedAside> {
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

    /// [`QueueBackend::moved_aside`](reedbase_concurrent_core::QueueBackend::moved_aside).
    pub(crate) fn moved_entries(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
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

    /// [`QueueBackend::record_failed_apply`](reedbase_concurrent_core::QueueBackend::record_failed_apply).
    pub(crate) fn count_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
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

    /// [`QueueBackend::tables_with_pending`](reedbase_concurrent_core::QueueBackend::tables_with_pending).
    pub(crate) fn tables_pending(&self) -> ReedResult<Vec<String>> {
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
