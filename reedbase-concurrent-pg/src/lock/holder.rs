// SPDX-License-Identifier: Apache-2.0
//! Who holds a table's lock, whether it is held, and the `LockTimeout`
//! that names the holder.

use std::time::{Duration, Instant, UNIX_EPOCH};

use reedbase_concurrent_core::{LockHolder, ReedError, ReedResult, events, validate_table_name};
use tokio_postgres::types::Type;

use crate::backend::PgBackend;
use crate::lock::MARGIN;
use crate::lock::guard::GRANTED_LOCK;
use crate::schema::Lookup;

impl PgBackend {
    /// Who holds the table's lock according to the registry row, trusted
    /// only when the session that holds the lock in `pg_locks` is the one
    /// the row names.
    pub(crate) fn holder_of(
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
    pub(crate) fn lock_timeout(&self, table: &str, table_no: i32, waited: Duration) -> ReedError {
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
    pub(crate) fn lock_timeout_unnamed(&self, table: &str, waited: Duration) -> ReedError {
        tracing::info!(event = events::LOCK_WAIT_TIMED_OUT, table, waited_ms = events::millis(waited), holder = %events::holder_field(None), "lock wait timed out");
        ReedError::lock_timeout(table, waited)
    }

    /// [`LockBackend::is_locked`](reedbase_concurrent_core::LockBackend::is_locked).
    pub(crate) fn locked(&self, table_name: &str) -> ReedResult<bool> {
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

    /// The holder as recorded by its acquisition (its pid, host and the
    /// time it took the lock, by its own clock), when `pg_locks` shows that
    /// same session holding the lock; [`LockHolder::unknown`] for a lock
    /// held by a session that left no record (in the instant between taking
    /// the lock and committing the record).
    pub(crate) fn holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        const OPERATION: &str = "lock_holder";
        validate_table_name(table_name)?;
        match self.table_number(table_name, Lookup::Existing, OPERATION)? {
            Some(table_no) => self.holder_of(table_no, OPERATION, self.call_deadline()),
            None => Ok(None),
        }
    }
}
