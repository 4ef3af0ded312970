// SPDX-License-Identifier: Apache-2.0
//! Taking a table's lock: a wait in the server under a `lock_timeout` of the
//! caller's timeout (see [`waiting_acquisition_sql`]), the fencing token
//! raised and the holder recorded in the same round trip, and waiting for a
//! release.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reedbase_concurrent_core::{ReedError, ReedResult, validate_table_name};
use tokio_postgres::SimpleQueryMessage;

use crate::backend::PgBackend;
use crate::connection::{self, Connection};
use crate::lock::MARGIN;
use crate::lock::guard::{Held, LockKey, PgLockGuard, release_everything};
use crate::options::server_millis;
use crate::schema::Lookup;

/// The least fencing token a server hands out: its start time in
/// microseconds. A server that restarts after a crash may have lost the
/// last token increments that were committed without waiting for the flush
/// (relaxed durability), but it starts later than it ran before: its
/// tokens start above every token handed out before the crash, as long as
/// fewer acquisitions happened than microseconds passed and its clock did
/// not step back across the restart.
const FENCE_FLOOR: &str = "(extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint";

impl PgBackend {
    fn lock_key(&self, table_no: i32) -> LockKey {
        LockKey {
            class: self.shared().classes.table_lock,
            table_no,
        }
    }

    /// The statement that raises the fencing token and records this
    /// process as the holder, returning the token, the session's pid and
    /// whether an entry of the table is queued (the statement's snapshot is
    /// taken after the lock was granted: every entry queued before is in
    /// it).
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
             WHERE table_no = {table_no} RETURNING fence, holder_backend, \
             EXISTS (SELECT 1 FROM {schema}.queue q WHERE q.table_no = {table_no})",
            floor = FENCE_FLOOR,
            commit = connection::commit_setting(self.durable()),
            schema = shared.schema,
            pid = shared.identity.pid,
        )
    }

    /// Runs `sql` (which ends with
    /// [`record_acquisition_sql`](Self::record_acquisition_sql)) and builds
    /// the guard from its last row; on a failure the connection is made to
    /// hold no lock before it goes back to the pool, unless `sql` waits
    /// ([`waiting_acquisition_sql`]) and the failure is its expired wait,
    /// which took nothing.
    fn finish_acquisition(
        &self,
        table: &str,
        key: LockKey,
        mut conn: Connection,
        sql: &str,
        waits: bool,
    ) -> Result<PgLockGuard, Failed> {
        let messages = match conn.simple_query(sql) {
            Ok(messages) => messages,
            Err(error) => {
                if !(waits && connection::lock_wait_expired(&error)) {
                    release_everything(&mut conn);
                }
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
            // `f` when no entry is queued; anything else fetches.
            let queue_was_empty = row.get(2) == Some("f");
            Some((fence, pid, queue_was_empty))
        });
        match parsed {
            Some((fence, pid, queue_was_empty)) => Ok(PgLockGuard::new(
                Held {
                    table: table.to_string(),
                    key,
                    fence,
                    server_pid: pid,
                    server: self.shared().server.clone(),
                    heartbeat: self.shared().options.heartbeat(),
                    reset_idle_timeout: self.shared().idle_timeout,
                    queue_was_empty,
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
    #[allow(clippy::too_many_arguments)]
    fn acquisition_error(
        &self,
        failed: Failed,
        table: &str,
        table_no: i32,
        start: Instant,
        deadline: Instant,
        operation: &'static str,
        describe: Describe,
    ) -> ReedError {
        match failed {
            Failed::Server(error) if connection::timed_out(&error) => {
                self.timed_out(describe, table, table_no, start.elapsed())
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

/// The SQL of an acquisition that waits in the server: the lock and the
/// token in one implicit transaction (one round trip). The wait is for the
/// transaction-level lock on the table's key, under a `lock_timeout` of
/// what is left of the caller's timeout; once it is granted, the
/// session-level lock on the same key is taken (a session never waits for
/// itself) with the `lock_timeout` off, and the transaction-level one goes
/// with the commit. So a wait that expires (`lock_not_available`, which no
/// later statement can raise) ends a transaction that took nothing the
/// abort does not release, even when the server granted the lock in the
/// instant its timeout fired, and needs no round trip to unlock. Any other
/// failure may come after the session lock was taken, and is followed by
/// one. The server waits until the timeout; the client up to the margin
/// longer.
fn waiting_acquisition_sql(left: Duration, lease: &str, key: &LockKey, record: &str) -> String {
    // The statement bound only keeps a smaller `statement_timeout` of the
    // server from ending the wait early.
    let statement = server_millis(left + MARGIN);
    let left = server_millis(left);
    format!(
        "SET LOCAL lock_timeout = {left}; SET LOCAL statement_timeout = {statement}; {lease} \
         SELECT pg_advisory_xact_lock({key}); SET LOCAL lock_timeout = 0; \
         SELECT pg_advisory_lock({key}); {record}",
        key = key.arguments(),
    )
}

/// Whether a timed-out acquisition names the holder (one more query).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Describe {
    Holder,
    Nothing,
}

/// Why an acquisition failed.
enum Failed {
    /// The server failed, or the wait timed out.
    Server(tokio_postgres::Error),
    /// The lock was taken but the registry row to raise the token in is
    /// gone; the lock was released again.
    NoRegistryRow,
}

impl PgBackend {
    /// [`LockBackend::acquire_lock`](reedbase_concurrent_core::LockBackend::acquire_lock).
    pub(crate) fn acquire(&self, table_name: &str, timeout: Duration) -> ReedResult<PgLockGuard> {
        self.acquire_within(table_name, timeout, Describe::Holder)
    }

    /// [`LockBackend::try_acquire_lock_for`](reedbase_concurrent_core::LockBackend::try_acquire_lock_for):
    /// a timeout is `None`, with no query for the holder.
    pub(crate) fn acquire_or_none(
        &self,
        table_name: &str,
        timeout: Duration,
    ) -> ReedResult<Option<PgLockGuard>> {
        match self.acquire_within(table_name, timeout, Describe::Nothing) {
            Ok(guard) => Ok(Some(guard)),
            Err(ReedError::LockTimeout { .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// The error of a wait that timed out after `waited`.
    fn timed_out(
        &self,
        describe: Describe,
        table: &str,
        table_no: i32,
        waited: Duration,
    ) -> ReedError {
        match describe {
            Describe::Holder => self.lock_timeout(table, table_no, waited),
            Describe::Nothing => ReedError::lock_timeout(table, waited),
        }
    }

    fn acquire_within(
        &self,
        table_name: &str,
        timeout: Duration,
        describe: Describe,
    ) -> ReedResult<PgLockGuard> {
        const OPERATION: &str = "acquire_lock";
        validate_table_name(table_name)?;
        let start = Instant::now();
        if timeout.is_zero() {
            return match self.try_acquire(table_name)? {
                Some(guard) => Ok(guard),
                None if describe == Describe::Nothing => {
                    Err(ReedError::lock_timeout(table_name, start.elapsed()))
                }
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
        let sql = waiting_acquisition_sql(
            wait_until.saturating_duration_since(Instant::now()),
            &self.lease_setting(),
            &key,
            &self.record_acquisition_sql(table_no),
        );
        self.finish_acquisition(table_name, key, conn, &sql, true)
            .map_err(|failed| {
                self.acquisition_error(
                    failed, table_name, table_no, start, deadline, OPERATION, describe,
                )
            })
    }

    /// [`LockBackend::try_acquire_lock`](reedbase_concurrent_core::LockBackend::try_acquire_lock).
    pub(crate) fn try_acquire(&self, table_name: &str) -> ReedResult<Option<PgLockGuard>> {
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
        self.finish_acquisition(table_name, key, conn, &record, false)
            .map(Some)
            .map_err(|failed| {
                self.acquisition_error(
                    failed,
                    table_name,
                    table_no,
                    start,
                    deadline,
                    OPERATION,
                    Describe::Holder,
                )
            })
    }

    /// Waits inside the server for a shared lock on the table's key, which
    /// it gets once no exclusive holder (nor an earlier exclusive waiter) is
    /// left, and releases it at once (a transaction-level lock, gone with
    /// the statement's implicit transaction). For that instant a
    /// `try_acquire_lock` elsewhere finds the table busy.
    pub(crate) fn await_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        const OPERATION: &str = "wait_for_unlock";
        validate_table_name(table_name)?;
        let start = Instant::now();
        let Some(table_no) = self.table_number(table_name, Lookup::Existing, OPERATION)? else {
            return Ok(());
        };
        if timeout.is_zero() {
            return match self.locked(table_name)? {
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
             SELECT pg_advisory_xact_lock_shared({args})",
            args = key.arguments()
        );
        match conn.batch_execute(&sql) {
            Ok(()) => Ok(()),
            Err(error) => {
                // The shared lock is the transaction's: an expired wait
                // holds nothing after the abort.
                if !connection::lock_wait_expired(&error) {
                    release_everything(&mut conn);
                }
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
}
