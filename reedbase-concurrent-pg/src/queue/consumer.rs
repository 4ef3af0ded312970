// SPDX-License-Identifier: Apache-2.0
//! Reading, removing and moving aside queue entries.
//!
//! Readers take no lock: an entry becomes visible with its producer's
//! commit, whole, and a reader orders by the sequence number. An entry that
//! cannot be read (its body does not parse as a pending write, it holds a
//! row that would corrupt the table, or its id is not a queue id: an entry
//! written by hand or copied in from elsewhere) is moved to the
//! moved-aside table with its reason, in one statement, and the reader goes
//! on to the next.
//!
//! Removals commit without waiting for the server's flush (as the file
//! queue does not fsync a removal): after a crash of the server a removed
//! entry can come back and be delivered again, which at-least-once delivery
//! and its idempotency key allow for. Moves and failure counts commit with
//! the backend's durability.

use tokio_postgres::Row;
use tokio_postgres::types::Type;

use crate::connection::Session as Client;
use reedbase_concurrent_core::{
    MovedAside, PendingWrite, ReedError, ReedResult, events, validate_queue_id, validate_write,
};

use crate::backend::PgBackend;
use crate::connection::{self, OpenTransaction};
use crate::schema::Lookup;

impl PgBackend {
    /// The oldest `max` readable entries of `table`, moving unreadable ones
    /// aside on the way.
    pub(crate) fn pending_batch(
        &self,
        table: &str,
        max: usize,
        operation: &'static str,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        if max == 0 {
            return Ok(Vec::new());
        }
        let Some(table_no) = self.table_number(table, Lookup::Existing, operation)? else {
            return Ok(Vec::new());
        };
        let sql = format!(
            "SELECT seq, id, body FROM {}.queue WHERE table_no = $1 AND seq > $2 ORDER BY seq LIMIT $3",
            self.shared().schema
        );
        let mut conn = self.connection(operation)?;
        let mut entries = Vec::new();
        let mut after = i64::MIN;
        loop {
            let want = max - entries.len();
            let limit = i64::try_from(want).unwrap_or(i64::MAX);
            let rows = conn
                .query_prepared(
                    &sql,
                    &[Type::INT4, Type::INT8, Type::INT8],
                    &[&table_no, &after, &limit],
                )
                .map_err(|error| self.server_error(operation, &error))?;
            for row in &rows {
                let (seq, id, body) =
                    entry_columns(row).map_err(|error| self.server_error(operation, &error))?;
                after = seq;
                match decode(&id, &body) {
                    Ok(write) => entries.push((id, write)),
                    Err(reason) => {
                        self.move_row_aside(
                            &mut conn,
                            (table, table_no),
                            "seq",
                            &seq,
                            &reason,
                            operation,
                        )?;
                    }
                }
            }
            if entries.len() >= max || rows.len() < want {
                return Ok(entries);
            }
        }
    }

    /// Moves the entry whose `column` (`seq` or `id`) is `value` to the
    /// moved-aside table with `reason`; returns its id, or `None` when no
    /// such entry is pending (another reader moved or removed it first).
    pub(crate) fn move_row_aside(
        &self,
        conn: &mut Client,
        (table, table_no): (&str, i32),
        column: &str,
        value: &(dyn tokio_postgres::types::ToSql + Sync),
        reason: &str,
        operation: &'static str,
    ) -> ReedResult<Option<String>> {
        let schema = &self.shared().schema;
        let value_type = if column == "seq" {
            Type::INT8
        } else {
            Type::TEXT
        };
        let sql = format!(
            "WITH moved AS (DELETE FROM {schema}.queue WHERE table_no = $1 AND {column} = $2 \
                            RETURNING table_no, seq, id, body, failed_applies) \
             INSERT INTO {schema}.moved_aside (table_no, seq, id, body, reason, failed_applies) \
             SELECT table_no, seq, id, body, $3, failed_applies FROM moved RETURNING id"
        );
        let rows = connection::write_statement(
            conn,
            self.durable(),
            &sql,
            &[
                (&table_no, Type::INT4),
                (value, value_type),
                (&reason, Type::TEXT),
            ],
        )
        .map_err(|error| self.server_error(operation, &error))?;
        let moved: Option<String> = rows
            .first()
            .map(|row| row.try_get(0))
            .transpose()
            .map_err(|error| self.server_error(operation, &error))?;
        if let Some(id) = &moved {
            let destination = self.moved_entry(table, id, String::new()).location;
            tracing::warn!(event = events::ENTRY_MOVED_ASIDE, table, id = %id, reason, destination = %destination, "queue entry moved aside");
        }
        Ok(moved)
    }

    /// Removes the entries `ids` of `table` in one transaction: all of them,
    /// or, when one is not pending, exactly those before it, returning the
    /// error for it.
    pub(crate) fn remove_entries(
        &self,
        table: &str,
        ids: &[String],
        operation: &'static str,
    ) -> ReedResult<()> {
        let Some(first) = ids.first() else {
            return Ok(());
        };
        let Some(table_no) = self.table_number(table, Lookup::Existing, operation)? else {
            return Err(ReedError::entry_not_found(table, first));
        };
        let mut conn = self.connection(operation)?;
        if let [id] = ids {
            return match self.delete_one(&mut conn, table_no, id) {
                Ok(true) => Ok(()),
                Ok(false) => Err(self.not_pending(&mut conn, table, table_no, id, operation)),
                Err(error) => Err(self.server_error(operation, &error)),
            };
        }
        let mut removable = ids.len();
        loop {
            let wanted = &ids[..removable];
            let removed = self
                .delete_all_or_nothing(&mut conn, table_no, wanted)
                .map_err(|error| self.server_error(operation, &error))?;
            match removed {
                None if removable == ids.len() => return Ok(()),
                None => {
                    let missing = &ids[removable];
                    return Err(self.not_pending(&mut conn, table, table_no, missing, operation));
                }
                Some(missing) => removable = missing,
            }
        }
    }

    /// Deletes one entry in one round trip (a simple query, its commit not
    /// waiting for the flush); false when it is not pending. The id must
    /// have passed [`validate_queue_id`], whose characters (ASCII letters,
    /// digits, `-`, `_`) can stand in SQL text as a literal.
    fn delete_one(
        &self,
        conn: &mut Client,
        table_no: i32,
        id: &str,
    ) -> Result<bool, tokio_postgres::Error> {
        debug_assert!(validate_queue_id(id).is_ok());
        let sql = format!(
            "{} DELETE FROM {}.queue WHERE table_no = {table_no} AND id = '{id}' RETURNING id",
            connection::commit_setting(false),
            self.shared().schema
        );
        let messages = conn.simple_query(&sql)?;
        Ok(messages
            .iter()
            .any(|message| matches!(message, tokio_postgres::SimpleQueryMessage::Row(_))))
    }

    /// Deletes `ids` in one transaction if every one of them is pending
    /// (`Ok(None)`); otherwise deletes nothing and returns the index of the
    /// first that is not (an id that repeats an earlier one counts as not
    /// pending the second time).
    fn delete_all_or_nothing(
        &self,
        conn: &mut Client,
        table_no: i32,
        ids: &[String],
    ) -> Result<Option<usize>, tokio_postgres::Error> {
        if ids.is_empty() {
            return Ok(None);
        }
        let sql = format!(
            "DELETE FROM {}.queue WHERE table_no = $1 AND id = ANY($2) RETURNING id",
            self.shared().schema
        );
        let (transaction, rows) = OpenTransaction::begin_with(
            conn,
            connection::commit_setting(false),
            &sql,
            &[Type::INT4, Type::TEXT_ARRAY],
            &[&table_no, &ids],
        )?;
        let mut deleted = std::collections::HashSet::with_capacity(rows.len());
        for row in &rows {
            deleted.insert(row.try_get::<_, String>(0)?);
        }
        let first_missing = ids.iter().position(|id| !deleted.remove(id));
        if first_missing.is_none() {
            transaction.commit()?;
        }
        Ok(first_missing)
    }

    /// The error for an id that is not pending: `CorruptEntry` when it was
    /// moved aside, else `QueueEntryNotFound`.
    pub(crate) fn not_pending(
        &self,
        conn: &mut Client,
        table: &str,
        table_no: i32,
        id: &str,
        operation: &'static str,
    ) -> ReedError {
        let sql = format!(
            "SELECT reason FROM {}.moved_aside WHERE table_no = $1 AND id = $2 ORDER BY seq LIMIT 1",
            self.shared().schema
        );
        match conn.query_typed_opt(&sql, &[(&table_no, Type::INT4), (&id, Type::TEXT)]) {
            Ok(Some(row)) => match row.try_get::<_, String>(0) {
                Ok(reason) => ReedError::moved_aside(table, &self.moved_entry(table, id, reason)),
                Err(error) => self.server_error(operation, &error),
            },
            Ok(None) => ReedError::entry_not_found(table, id),
            Err(error) => self.server_error(operation, &error),
        }
    }

    /// A moved-aside entry, located by its row (the same from every host).
    pub(crate) fn moved_entry(&self, table: &str, id: &str, reason: String) -> MovedAside {
        let shared = self.shared();
        let location = format!(
            "{}.moved_aside (namespace '{}', table '{table}', id '{id}')",
            shared.options.schema, shared.namespace
        );
        MovedAside::new(id, reason, location)
    }
}

fn entry_columns(row: &Row) -> Result<(i64, String, Vec<u8>), tokio_postgres::Error> {
    Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?))
}

/// The pending write in an entry, or why it cannot be one.
pub(crate) fn decode(id: &str, body: &[u8]) -> Result<PendingWrite, String> {
    validate_queue_id(id).map_err(|error| format!("its id is not a queue id: {error}"))?;
    let write: PendingWrite = serde_json::from_slice(body)
        .map_err(|error| format!("its body does not parse as a JSON pending write: {error}"))?;
    validate_write(&write)
        .map_err(|error| format!("it holds a row that would corrupt the table: {error}"))?;
    Ok(write)
}

#[cfg(test)]
#[path = "consumer_test.rs"]
mod tests;
