// SPDX-License-Identifier: Apache-2.0
//! `queue_write`: one transaction that takes the table's producers' lock,
//! counts, and inserts.
//!
//! ```text
//! BEGIN; SET LOCAL lock_timeout, statement_timeout (the queue bound)
//!        [SET LOCAL synchronous_commit = off   under relaxed durability]
//!        SELECT pg_advisory_xact_lock(<queue table oid>, <table_no>)
//! count the table's entries; below capacity: insert with seq = nextval(...)
//! COMMIT                                   (the lock goes with the commit)
//! ```
//!
//! Capacity is exact: a producer counts only after it holds the lock, in a
//! statement that sees every entry committed by the producers before it,
//! because they committed before they let the lock go. Order is strict: a
//! sequence number taken under the lock is larger than every number
//! committed before and smaller than every number committed after, so
//! ordering by it is ordering by commit. A producer that stops (or is
//! stopped) while it holds the lock holds up the table's other producers
//! for at most the queue bound, after which they fail with `QueueBusy`,
//! having written nothing; a producer that dies releases the lock at once.

use std::time::Instant;

use postgres::types::Type;
use reedbase_concurrent_core::{PendingWrite, ReedError, ReedResult, events};

use crate::backend::PgBackend;
use crate::connection::{self, OpenTransaction};
use crate::options::server_millis;

const OPERATION: &str = "queue_write";

impl PgBackend {
    /// Queues `write` (already validated) to `table`; see the module docs.
    pub(crate) fn write_entry(&self, table: &str, write: &PendingWrite) -> ReedResult<String> {
        let body = serde_json::to_vec(write).map_err(|error| ReedError::SerializationError {
            reason: error.to_string(),
        })?;
        let table_no = self.register_table(table, OPERATION)?;
        let shared = self.shared();
        let capacity = i64::try_from(shared.options.capacity).unwrap_or(i64::MAX);
        let bound = server_millis(shared.options.queue_timeout);
        let setup = format!(
            "SET LOCAL lock_timeout = {bound}; SET LOCAL statement_timeout = {bound}; {commit} \
             SELECT pg_advisory_xact_lock({class}, {table_no})",
            commit = connection::commit_setting(self.durable()),
            class = shared.classes.queue_lock as i32,
        );
        let insert = format!(
            "WITH pending AS (SELECT count(*) AS n FROM {s}.queue WHERE table_no = $1), \
             entry AS ( \
               INSERT INTO {s}.queue (table_no, seq, id, body) \
               SELECT $1, next.seq, lpad(next.seq::text, 20, '0') || '-' || \
                      replace(gen_random_uuid()::text, '-', ''), $2 \
               FROM pending, LATERAL (SELECT nextval('{s}.queue_seq') AS seq) next \
               WHERE pending.n < $3 \
               RETURNING id) \
             SELECT pending.n, (SELECT id FROM entry) FROM pending",
            s = shared.schema
        );
        let mut conn = self.connection(OPERATION)?;
        let start = Instant::now();
        let failed = |error: postgres::Error| {
            if connection::timed_out(&error) {
                let waited = start.elapsed();
                tracing::warn!(
                    event = events::QUEUE_BUSY,
                    table,
                    waited_ms = events::millis(waited),
                    "gave up waiting for the queue's producers' lock"
                );
                ReedError::queue_busy(table, waited)
            } else {
                self.server_error(OPERATION, &error)
            }
        };
        let mut transaction = OpenTransaction::begin(&mut conn, &setup).map_err(failed)?;
        let row = transaction
            .client()
            .query_typed_one(
                &insert,
                &[
                    (&table_no, Type::INT4),
                    (&body, Type::BYTEA),
                    (&capacity, Type::INT8),
                ],
            )
            .map_err(failed)?;
        let pending: i64 = row.try_get(0).map_err(failed)?;
        let id: Option<String> = row.try_get(1).map_err(failed)?;
        let Some(id) = id else {
            // Dropping the transaction rolls it back.
            tracing::warn!(
                event = events::QUEUE_FULL,
                table,
                pending,
                capacity,
                "queue full: write refused"
            );
            return Err(ReedError::queue_full(
                table,
                usize::try_from(pending).unwrap_or(usize::MAX),
            ));
        };
        transaction.commit().map_err(failed)?;
        Ok(id)
    }
}
