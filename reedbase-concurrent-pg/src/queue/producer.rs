// SPDX-License-Identifier: Apache-2.0
//! `queue_write`: one transaction that takes the table's producers' lock,
//! counts, and inserts.
//!
//! ```text
//! one flight:
//!   BEGIN; SET LOCAL lock_timeout (what is left of the queue bound),
//!                    statement_timeout (that plus the margin)
//!          [SET LOCAL synchronous_commit = off   under relaxed durability]
//!          SELECT pg_advisory_xact_lock(<queue table oid>, <table_no>)
//!   count the table's entries; below capacity: insert with seq = nextval(...),
//!          returning the id, the transaction id and the session's pid
//!          (a statement prepared once per session)
//! COMMIT, once the insert's answer is in and shows an entry, sent by the
//!        connection's thread as it reads that answer
//!                                          (the lock goes with the commit)
//! no answer to COMMIT: txid_status(xid) on another session, after ending
//!        the old session if its transaction is still in progress
//! ```
//!
//! Contracts: capacity is exact, because a producer counts only after it
//! holds the lock, in a statement that sees every entry committed by the
//! producers before it, which committed before they let the lock go. Order
//! is strict: a sequence number taken under the lock is larger than every
//! number committed before and smaller than every number committed after,
//! so ordering by it is ordering by commit. A producer that stops (or is
//! stopped) while it holds the lock holds up the table's other producers
//! for at most the queue bound, after which they fail with `QueueBusy`,
//! having written nothing; a producer that dies releases the lock at once.
//! A write returns its id only when committed, an error without
//! [`OUTCOME_UNKNOWN`] only when not, and [`OUTCOME_UNKNOWN`] only when the
//! server could not say within the settling budget.

use std::time::{Duration, Instant};

use reedbase_concurrent_core::{PendingWrite, ReedError, ReedResult, events};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use crate::backend::PgBackend;
use crate::connection::{self, Commit, OpenTransaction};
use crate::lock::MARGIN;
use crate::options::server_millis;

const OPERATION: &str = "queue_write";

/// The SQLSTATE (`transaction_resolution_unknown`) of the
/// [`ReedError::ServerError`] of a `queue_write` whose commit outcome could
/// not be found out: the write may be queued, under the entry id that the
/// error's reason names. Do not write it again; `is_pending(table, id)`
/// (or the table, once the entry is drained) tells whether it landed.
///
/// # Examples
///
/// ```
/// use reedbase_concurrent_core::ReedError;
/// use reedbase_concurrent_pg::OUTCOME_UNKNOWN;
///
/// fn may_be_queued(error: &ReedError) -> bool {
///     matches!(error, ReedError::ServerError { code: Some(code), .. } if code == OUTCOME_UNKNOWN)
/// }
/// # assert!(!may_be_queued(&ReedError::queue_busy("t", std::time::Duration::ZERO)));
/// ```
pub const OUTCOME_UNKNOWN: &str = "08007";

/// The most time spent settling a commit whose answer was lost.
const SETTLE_BUDGET: Duration = Duration::from_secs(1);

/// What a producer knows of its transaction before it commits.
struct Pending {
    id: String,
    xid: i64,
    backend_pid: i32,
}

/// Whether the insert's answer shows an entry (an id, and the transaction
/// id and process the settling needs): only then is the commit sent.
fn holds_an_entry(rows: &[Row]) -> bool {
    rows.first().is_some_and(|row| {
        matches!(row.try_get::<_, Option<String>>(1), Ok(Some(_)))
            && row.try_get::<_, i64>(2).is_ok()
            && row.try_get::<_, i32>(3).is_ok()
    })
}

impl PgBackend {
    /// Queues `write` (already validated) to `table`; see the module docs.
    pub(crate) fn write_entry(&self, table: &str, write: &PendingWrite) -> ReedResult<String> {
        let body = serde_json::to_vec(write).map_err(|error| ReedError::SerializationError {
            reason: error.to_string(),
        })?;
        let start = Instant::now();
        let shared = self.shared();
        let wait_until = start + shared.options.queue_timeout;
        let deadline = wait_until + MARGIN;
        let busy = || {
            let waited = start.elapsed();
            tracing::warn!(
                event = events::QUEUE_BUSY,
                table,
                waited_ms = events::millis(waited),
                "gave up waiting for the queue's producers' lock"
            );
            ReedError::queue_busy(table, waited)
        };
        let table_no = match self.register_table(table, OPERATION, deadline) {
            Ok(table_no) => table_no,
            Err(_) if Instant::now() >= deadline => return Err(busy()),
            Err(error) => return Err(error),
        };
        let mut conn = match self.connection_by(OPERATION, deadline) {
            Ok(conn) => conn,
            Err(_) if Instant::now() >= deadline => return Err(busy()),
            Err(error) => return Err(error),
        };
        let capacity = i64::try_from(shared.options.capacity).unwrap_or(i64::MAX);
        let left = wait_until.saturating_duration_since(Instant::now());
        // The statement bound only keeps a smaller `statement_timeout` of
        // the server from ending the wait early.
        let statement = server_millis(left + MARGIN);
        let left = server_millis(left);
        let setup = format!(
            "SET LOCAL lock_timeout = {left}; SET LOCAL statement_timeout = {statement}; {commit} \
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
             SELECT pending.n, (SELECT id FROM entry), txid_current(), pg_backend_pid() FROM pending",
            s = shared.schema
        );
        let failed = |error: tokio_postgres::Error| {
            if connection::timed_out(&error) || (error.is_closed() && Instant::now() >= deadline) {
                busy()
            } else {
                self.server_error(OPERATION, &error)
            }
        };
        // The insert goes out behind the lock without waiting for it. The
        // commit is sent only once the insert's answer (with the
        // transaction id) is in and shows an entry, so that a connection
        // lost before it means nothing was queued; and it is sent by the
        // connection's thread as it reads that answer, so that the
        // producers' lock is held for the insert and the commit's round
        // trip, not one more, and not for this thread's wake-up.
        let params: Vec<Box<dyn ToSql + Send + Sync>> =
            vec![Box::new(table_no), Box::new(body), Box::new(capacity)];
        // The transaction (when the commit was not sent) ends with this
        // block, before the connection may be let go.
        let (entry, committed) = {
            let (rows, commit) = OpenTransaction::begin_with_commit(
                &mut conn,
                &setup,
                &insert,
                &[Type::INT4, Type::BYTEA, Type::INT8],
                params,
                holds_an_entry,
            )
            .map_err(failed)?;
            let Some(row) = rows.first() else {
                // Not committed; dropping the transaction rolls it back.
                return Err(shared
                    .server
                    .failure(OPERATION, "the queue insert returned no row"));
            };
            let pending: i64 = row.try_get(0).map_err(failed)?;
            let committed = match commit {
                Commit::Sent(committed) => committed,
                Commit::NotSent(transaction) => {
                    // Rolled back here, before the error is made.
                    drop(transaction);
                    if row
                        .try_get::<_, Option<String>>(1)
                        .map_err(failed)?
                        .is_some()
                    {
                        return Err(shared.server.failure(
                            OPERATION,
                            "the queue insert's answer lacks the transaction id or process",
                        ));
                    }
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
                }
            };
            let entry = Pending {
                id: row.try_get(1).map_err(failed)?,
                xid: row.try_get(2).map_err(failed)?,
                backend_pid: row.try_get(3).map_err(failed)?,
            };
            (entry, committed)
        };
        match committed {
            Ok(()) => Ok(entry.id),
            Err(error) if connection::session_ended(&error) => {
                drop(conn);
                self.settle(table, entry, &error)
            }
            // The server answered the commit with an error: rolled back.
            Err(error) => Err(failed(error)),
        }
    }

    /// Finds out whether a transaction whose commit got no answer committed:
    /// asks the server for its status on another session, ending the old
    /// session first if it is still open (so that a commit still on its way
    /// cannot land later). Returns the id when it committed, the commit's
    /// error when it did not, and an error with SQLSTATE [`OUTCOME_UNKNOWN`]
    /// when the server cannot tell within [`SETTLE_BUDGET`].
    fn settle(
        &self,
        table: &str,
        entry: Pending,
        error: &tokio_postgres::Error,
    ) -> ReedResult<String> {
        let deadline = Instant::now() + SETTLE_BUDGET.min(self.shared().options.call_timeout);
        let unknown = || ReedError::ServerError {
            operation: OPERATION,
            server: self.shared().server.to_string(),
            code: Some(OUTCOME_UNKNOWN.to_string()),
            reason: format!(
                "the commit's outcome is unknown: the write may be queued to table '{table}' \
                 as entry {id}; do not write it again before `is_pending` (or the table, once \
                 drained) shows it is not there",
                id = entry.id
            ),
        };
        let Ok(mut conn) = self.connection_by(OPERATION, deadline) else {
            return Err(unknown());
        };
        let mut terminated = false;
        while Instant::now() < deadline {
            let status = conn
                .query_typed_one("SELECT txid_status($1)", &[(&entry.xid, Type::INT8)])
                .and_then(|row| row.try_get::<_, Option<String>>(0));
            match status.as_ref().map(Option::as_deref) {
                Ok(Some("committed")) => return Ok(entry.id),
                Ok(Some("aborted")) => return Err(self.server_error(OPERATION, error)),
                Ok(Some(_)) if !terminated => {
                    terminated = true;
                    let _ = conn.query_typed(
                        "SELECT pg_terminate_backend($1)",
                        &[(&entry.backend_pid, Type::INT4)],
                    );
                }
                Ok(Some(_)) => std::thread::sleep(Duration::from_millis(10)),
                Ok(None) | Err(_) => break,
            }
        }
        Err(unknown())
    }
}
