// SPDX-License-Identifier: Apache-2.0
//! [`LockBackend`] for [`PgBackend`]: session-level advisory locks keyed by
//! the registry's table numbers.
//!
//! A waiting `acquire_lock` waits inside the server (`pg_advisory_lock`
//! under a `lock_timeout` of the caller's timeout), so the server grants the
//! lock to the next waiter the moment it is released, in the order the
//! waiters asked. In the same round trip the acquirer raises the table's
//! fencing token and records itself as the holder, in one transaction.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reedbase_concurrent_core::{
    LockBackend, LockHolder, ReedError, ReedResult, events, validate_table_name,
};
use tokio_postgres::SimpleQueryMessage;
use tokio_postgres::types::Type;

use crate::backend::{Lookup, PgBackend};
use crate::connection::{self, Connection};
use crate::guard::{GRANTED_LOCK, LockKey, PgLockGuard, release_everything};
use crate::options::server_millis;

/// The least fencing token a server hands out: its start time in
/// microseconds. A server that restarts after a crash may have lost the
/// last token increments that were committed without waiting for the flush
/// (relaxed durability), but it starts later than it ran before: its
/// tokens start above every token handed out before the crash, as long as
/// fewer acquisitions happened than microseconds passed and its clock did
/// not step back across the restart.
/// How much longer than its timeout a call that waits (for a lock, for the
/// producers' turn) may take: for the round trips around the wait (the
/// registry, a new connection, the server's answer, the holder of a busy
/// lock). Past it the client closes the connection and gives up.
pub(crate) const MARGIN: Duration = Duration::from_millis(100);

const FENCE_FLOOR: &str = "(extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint";

impl PgBackend {
    fn lock_key(&self, table_no: i32) -> LockKey {
        LockKey {
            class: self.shared().classes.table_lock,
            table_no,
        }
    }

    /// The statement that raises the fencing token and records this
    /// process as the holder, returning the token and the session's pid.
    /// Every value is a number or a sanitised host name, so it can stand in
    /// SQL text (a simple query takes no parameters).
    fn record_acquisition_sql(&self, table_no: i32) -> String {
        let shared = self.shared();
        let host = shared
            .identity
            .host
            .as_ref()
            .map_or_else(|| "NULL".to_string(), |host| format!("'{host}'"));
        let since = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_micros());
        format!(
            "{commit} UPDATE {schema}.tables SET fence = greatest(fence + 1, {floor}), \
             holder_backend = pg_backend_pid(), holder_pid = {pid}, holder_host = {host}, \
             holder_since_micros = {since} \
             WHERE table_no = {table_no} RETURNING fence, holder_backend",
            floor = FENCE_FLOOR,
            commit = connection::commit_setting(self.durable()),
            schema = shared.schema,
            pid = shared.identity.pid,
        )
    }

    /// Runs `sql` (which ends with [`record_acquisition_sql`]) and builds
    /// the guard from its last row; on any failure the connection is made to
    /// hold no lock before it goes back to the pool.
    fn finish_acquisition(
        &self,
        table: &str,
        key: LockKey,
        mut conn: Connection,
        sql: &str,
    ) -> Result<PgLockGuard, Failed> {
        let messages = match conn.simple_query(sql) {
            Ok(messages) => messages,
            Err(error) => {
                release_everything(&mut conn);
                return Err(Failed::Server(error));
            }
        };
        let last_row = messages.iter().rev().find_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        });
        let parsed = last_row.and_then(|row| {
            let fence = row.get(0)?.parse::<u64>().ok()?;
            let pid = row.get(1)?.parse::<i32>().ok()?;
            Some((fence, pid))
        });
        match parsed {
            Some((fence, pid)) => Ok(PgLockGuard::new(
                crate::guard::Held {
                    table: table.to_string(),
                    key,
                    fence,
                    server_pid: pid,
                    server: self.shared().server.clone(),
                    heartbeat: self.shared().options.heartbeat(),
                    reset_idle_timeout: self.shared().idle_timeout,
                },
                conn,
            )),
            None => {
                release_everything(&mut conn);
                Err(Failed::NoRegistryRow)
            }
        }
    }

    /// The error of a failed acquisition that started at `start`.
    fn acquisition_error(
        &self,
        failed: Failed,
        table: &str,
        table_no: i32,
        start: Instant,
        deadline: Instant,
        operation: &'static str,
    ) -> ReedError {
        match failed {
            Failed::Server(error) if connection::timed_out(&error) => {
                self.lock_timeout(table, table_no, start.elapsed())
            }
            Failed::Server(error) if error.is_closed() && Instant::now() >= deadline => {
                // No answer by the deadline: the connection was closed,
                // which ends the wait (and any lock it got) on the server.
                self.lock_timeout_unnamed(table, start.elapsed())
            }
            Failed::Server(error) => self.server_error(operation, &error),
            Failed::NoRegistryRow => self.shared().server.failure(
                operation,
                format!(
                    "the registry row of table '{table}' is gone (was the namespace dropped while in use?)"
                ),
            ),
        }
    }

    /// Who holds the table's lock according to the registry row, trusted
    /// only when the session that holds the lock in `pg_locks` is the one
    /// the row names.
    fn holder_of(
        &self,
        table_no: i32,
        operation: &'static str,
        deadline: Instant,
    ) -> ReedResult<Option<LockHolder>> {
        let shared = self.shared();
        let sql = format!(
            "SELECT l.pid, t.holder_backend, t.holder_pid, t.holder_host, t.holder_since_micros \
             FROM pg_locks l JOIN {}.tables t ON t.table_no = $3 WHERE {GRANTED_LOCK}",
            shared.schema
        );
        let mut conn = self.connection_by(operation, deadline)?;
        let rows = conn
            .query_typed(
                &sql,
                &[
                    (&shared.classes.table_lock, Type::OID),
                    (&(table_no as u32), Type::OID),
                    (&table_no, Type::INT4),
                ],
            )
            .map_err(|error| self.server_error(operation, &error))?;
        let Some(row) = rows.first() else {
            return Ok(None);
        };
        let read = |row: &tokio_postgres::Row| -> Result<LockHolder, tokio_postgres::Error> {
            let lock_pid: i32 = row.try_get(0)?;
            let recorded: Option<i32> = row.try_get(1)?;
            if recorded != Some(lock_pid) {
                return Ok(LockHolder::unknown());
            }
            let pid: Option<i64> = row.try_get(2)?;
            let host: Option<String> = row.try_get(3)?;
            let since: Option<i64> = row.try_get(4)?;
            Ok(LockHolder::new(
                pid.and_then(|pid| u32::try_from(pid).ok()),
                host,
                since
                    .and_then(|micros| u64::try_from(micros).ok())
                    .map(|micros| UNIX_EPOCH + Duration::from_micros(micros)),
            ))
        };
        read(row)
            .map(Some)
            .map_err(|error| self.server_error(operation, &error))
    }

    /// A [`ReedError::LockTimeout`] after `waited`, naming the holder when
    /// it can be read.
    fn lock_timeout(&self, table: &str, table_no: i32, waited: Duration) -> ReedError {
        let deadline = Instant::now() + MARGIN / 2;
        let holder = self
            .holder_of(table_no, "lock_holder", deadline)
            .ok()
            .flatten();
        tracing::info!(event = events::LOCK_WAIT_TIMED_OUT, table, waited_ms = events::millis(waited), holder = %events::holder_field(holder.as_ref()), "lock wait timed out");
        ReedError::lock_timeout(table, waited).with_holder(holder)
    }

    /// A [`ReedError::LockTimeout`] after `waited` when the wait ran out
    /// before the server answered (a slow or stalled network, a paused
    /// server, every lock connection in use): the holder is not looked up.
    fn lock_timeout_unnamed(&self, table: &str, waited: Duration) -> ReedError {
        tracing::info!(event = events::LOCK_WAIT_TIMED_OUT, table, waited_ms = events::millis(waited), holder = %events::holder_field(None), "lock wait timed out");
        ReedError::lock_timeout(table, waited)
    }

    /// The statements that make a lock session end when the server stops
    /// hearing from it for the lease (see [`PgOptions::lease`](crate::PgOptions::lease)).
    fn lease_setting(&self) -> String {
        let shared = self.shared();
        if shared.idle_timeout {
            format!(
                "SET idle_session_timeout = {};",
                server_millis(shared.options.lease)
            )
        } else {
            String::new()
        }
    }
}

/// Why an acquisition failed.
enum Failed {
    /// The server failed, or the wait timed out.
    Server(tokio_postgres::Error),
    /// The lock was taken but the registry row to raise the token in is
    /// gone; the lock was released again.
    NoRegistryRow,
}

impl LockBackend for PgBackend {
    type Guard = PgLockGuard;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<PgLockGuard> {
        const OPERATION: &str = "acquire_lock";
        validate_table_name(table_name)?;
        let start = Instant::now();
        if timeout.is_zero() {
            return match self.try_acquire_lock(table_name)? {
                Some(guard) => Ok(guard),
                None => {
                    let table_no = self
                        .table_number(table_name, Lookup::Existing, OPERATION)?
                        .unwrap_or_default();
                    Err(self.lock_timeout(table_name, table_no, start.elapsed()))
                }
            };
        }
        let wait_until = start + timeout;
        let deadline = wait_until + MARGIN;
        let table_no = match self.register_table(table_name, OPERATION, deadline) {
            Ok(table_no) => table_no,
            Err(_) if Instant::now() >= deadline => {
                return Err(self.lock_timeout_unnamed(table_name, start.elapsed()));
            }
            Err(error) => return Err(error),
        };
        let key = self.lock_key(table_no);
        let Ok(conn) = self.lock_connection(deadline) else {
            return Err(self.lock_timeout_unnamed(table_name, start.elapsed()));
        };
        // The lock and the token in one implicit transaction (one round
        // trip); the session-level lock outlives it. The server waits
        // until the timeout; the client up to the margin longer.
        let left = wait_until.saturating_duration_since(Instant::now());
        // The statement bound only keeps a smaller `statement_timeout` of
        // the server from ending the wait early.
        let statement = server_millis(left + MARGIN);
        let left = server_millis(left);
        let sql = format!(
            "SET LOCAL lock_timeout = {left}; SET LOCAL statement_timeout = {statement}; {lease} \
             SELECT pg_advisory_lock({}); {}",
            key.arguments(),
            self.record_acquisition_sql(table_no),
            lease = self.lease_setting(),
        );
        self.finish_acquisition(table_name, key, conn, &sql)
            .map_err(|failed| {
                self.acquisition_error(failed, table_name, table_no, start, deadline, OPERATION)
            })
    }

    /// Within the call bound; `Ok(None)` also when every lock connection
    /// of this backend is in use.
    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<PgLockGuard>> {
        const OPERATION: &str = "try_acquire_lock";
        validate_table_name(table_name)?;
        let deadline = self.call_deadline();
        let table_no = self.register_table(table_name, OPERATION, deadline)?;
        let key = self.lock_key(table_no);
        let Ok(mut conn) = self.lock_connection(deadline) else {
            return Ok(None);
        };
        let sql = format!(
            "{} SELECT pg_try_advisory_lock({})",
            self.lease_setting(),
            key.arguments()
        );
        let got = conn
            .simple_query(&sql)
            .map(|messages| {
                messages.iter().any(|message| {
                    matches!(message, SimpleQueryMessage::Row(row) if row.get(0) == Some("t"))
                })
            })
            .map_err(|error| self.server_error(OPERATION, &error))?;
        if !got {
            if self.shared().idle_timeout {
                let _ = conn.batch_execute("RESET idle_session_timeout");
            }
            return Ok(None);
        }
        let record = self.record_acquisition_sql(table_no);
        let start = Instant::now();
        self.finish_acquisition(table_name, key, conn, &record)
            .map(Some)
            .map_err(|failed| {
                self.acquisition_error(failed, table_name, table_no, start, deadline, OPERATION)
            })
    }

    fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
        const OPERATION: &str = "is_locked";
        validate_table_name(table_name)?;
        let Some(table_no) = self.table_number(table_name, Lookup::Existing, OPERATION)? else {
            return Ok(false);
        };
        let sql = format!("SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE {GRANTED_LOCK})");
        let mut conn = self.connection(OPERATION)?;
        conn.query_typed_one(
            &sql,
            &[
                (&self.shared().classes.table_lock, Type::OID),
                (&(table_no as u32), Type::OID),
            ],
        )
        .and_then(|row| row.try_get(0))
        .map_err(|error| self.server_error(OPERATION, &error))
    }

    /// Waits inside the server for a shared lock on the table's key, which
    /// it gets once no exclusive holder (nor an earlier exclusive waiter) is
    /// left, and releases it at once. For that instant a `try_acquire_lock`
    /// elsewhere finds the table busy.
    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        const OPERATION: &str = "wait_for_unlock";
        validate_table_name(table_name)?;
        let start = Instant::now();
        let Some(table_no) = self.table_number(table_name, Lookup::Existing, OPERATION)? else {
            return Ok(());
        };
        if timeout.is_zero() {
            return match self.is_locked(table_name)? {
                true => Err(self.lock_timeout(table_name, table_no, start.elapsed())),
                false => Ok(()),
            };
        }
        let key = self.lock_key(table_no);
        let wait_until = start + timeout;
        let deadline = wait_until + MARGIN;
        let Ok(mut conn) = self.lock_connection(deadline) else {
            return Err(self.lock_timeout_unnamed(table_name, start.elapsed()));
        };
        let left = wait_until.saturating_duration_since(Instant::now());
        // The statement bound only keeps a smaller `statement_timeout` of
        // the server from ending the wait early.
        let statement = server_millis(left + MARGIN);
        let left = server_millis(left);
        let sql = format!(
            "SET LOCAL lock_timeout = {left}; SET LOCAL statement_timeout = {statement}; \
             SELECT pg_advisory_lock_shared({args}); SELECT pg_advisory_unlock_shared({args})",
            args = key.arguments()
        );
        match conn.batch_execute(&sql) {
            Ok(()) => Ok(()),
            Err(error) => {
                release_everything(&mut conn);
                drop(conn);
                if connection::timed_out(&error) {
                    Err(self.lock_timeout(table_name, table_no, start.elapsed()))
                } else if error.is_closed() && Instant::now() >= deadline {
                    Err(self.lock_timeout_unnamed(table_name, start.elapsed()))
                } else {
                    Err(self.server_error(OPERATION, &error))
                }
            }
        }
    }

    /// The holder as recorded by its acquisition (its pid, host and the
    /// time it took the lock, by its own clock), when `pg_locks` shows that
    /// same session holding the lock; [`LockHolder::unknown`] for a lock
    /// held by a session that left no record (in the instant between taking
    /// the lock and committing the record).
    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        const OPERATION: &str = "lock_holder";
        validate_table_name(table_name)?;
        match self.table_number(table_name, Lookup::Existing, OPERATION)? {
            Some(table_no) => self.holder_of(table_no, OPERATION, self.call_deadline()),
            None => Ok(None),
        }
    }
}
