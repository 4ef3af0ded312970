// SPDX-License-Identifier: Apache-2.0
//! [`PgLockGuard`]: a held table lock, the connection that holds it, and
//! its fencing token.

use std::fmt;
use std::sync::{Mutex, PoisonError};

use postgres::Client;
use reedbase_concurrent_core::{LockGuard, ReedResult};

use crate::connection::{self, Connection, Server};

/// Proof of holding a table's lock on the server: a session-level advisory
/// lock held by a connection that this guard owns. Dropping the guard
/// unlocks and returns the connection to the pool.
///
/// The lock lives as long as the connection's session. If the session ends
/// while the guard is alive (the server restarted, an administrator ran
/// `pg_terminate_backend`, the network cut it), the server releases the
/// lock and another holder can take it; [`is_held`](LockGuard::is_held)
/// then answers `false`, and the
/// [`WriteCoordinator`](reedbase_concurrent_core::WriteCoordinator) stops
/// before it applies or removes anything more.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{LockBackend, LockGuard};
/// use reedbase_concurrent_pg::PgBackend;
/// use reedbase_concurrent_pg::testing::TestServer;
///
/// # let Some(server) = TestServer::find("PgLockGuard doctest") else { return Ok(()) };
/// # let backend = PgBackend::connect(server.url(), &server.fresh_namespace("doc_guard"))?;
/// let first = backend.acquire_lock("orders", Duration::from_secs(1))?;
/// let first_token = first.fencing_token();
/// drop(first);
/// let second = backend.acquire_lock("orders", Duration::from_secs(1))?;
/// assert!(second.fencing_token() > first_token);
/// assert!(second.is_held()?);
/// # drop(second);
/// # backend.drop_namespace()?;
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
pub struct PgLockGuard {
    table: String,
    key: LockKey,
    fence: u64,
    server_pid: i32,
    server: Server,
    connection: Mutex<Option<Connection>>,
}

/// The two keys of a table's advisory lock: the lock class (an oid of the
/// backend's schema) and the table's number in the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockKey {
    pub(crate) class: u32,
    pub(crate) table_no: i32,
}

impl LockKey {
    /// The arguments of `pg_advisory_lock(int4, int4)` as SQL text. The
    /// class oid is passed as the int4 with the same bits, which is how the
    /// server shows it again in `pg_locks.classid`.
    pub(crate) fn arguments(&self) -> String {
        format!("{}, {}", self.class as i32, self.table_no)
    }
}

/// The `pg_locks` condition that matches a key's exclusive lock, granted,
/// in this database; `$1` is the class oid and `$2` the table number as an
/// oid.
pub(crate) const GRANTED_LOCK: &str = "l.locktype = 'advisory' \
     AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
     AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 2 \
     AND l.mode = 'ExclusiveLock' AND l.granted";

impl PgLockGuard {
    pub(crate) fn new(
        table: &str,
        key: LockKey,
        fence: u64,
        server_pid: i32,
        server: Server,
        connection: Connection,
    ) -> PgLockGuard {
        PgLockGuard {
            table: table.to_string(),
            key,
            fence,
            server_pid,
            server,
            connection: Mutex::new(Some(connection)),
        }
    }

    /// The process id of the server session that holds the lock, as
    /// `pg_locks.pid` and `pg_stat_activity.pid` show it (what an operator
    /// passes to `pg_terminate_backend`).
    pub fn server_pid(&self) -> i32 {
        self.server_pid
    }
}

impl LockGuard for PgLockGuard {
    fn table_name(&self) -> &str {
        &self.table
    }

    /// Asks the server, on the guard's own connection, whether that
    /// session is still alive: one round trip of an empty query. A
    /// session-level advisory lock is released only by its own session (the
    /// guard's drop) or by the end of the session, so a live session still
    /// holds it. A session that has ended answers `Ok(false)`.
    ///
    /// # Errors
    ///
    /// [`ReedError::ServerError`](reedbase_concurrent_core::ReedError::ServerError)
    /// (`is_held`) for a failure that does not show the session's end.
    fn is_held(&self) -> ReedResult<bool> {
        let mut slot = self
            .connection
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(client) = slot.as_mut() else {
            return Ok(false);
        };
        match client.simple_query("") {
            Ok(_) => Ok(true),
            Err(error) if connection::session_ended(&error) => Ok(false),
            Err(error) => Err(self.server.error("is_held", &error)),
        }
    }

    fn fencing_token(&self) -> Option<u64> {
        Some(self.fence)
    }
}

impl Drop for PgLockGuard {
    fn drop(&mut self) {
        let slot = self
            .connection
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(mut client) = slot.take() {
            let sql = format!("SELECT pg_advisory_unlock({})", self.key.arguments());
            if client.batch_execute(&sql).is_err() {
                release_everything(&mut client);
            }
        }
    }
}

/// Makes sure a connection that goes back to the pool holds no session
/// lock: unlocks all, and if even that fails on a connection that is not
/// closed, ends the connection's own session (the pool then discards the
/// closed connection, and the server releases whatever it held).
pub(crate) fn release_everything(client: &mut Client) {
    if client
        .batch_execute("SELECT pg_advisory_unlock_all()")
        .is_ok()
        || client.is_closed()
    {
        return;
    }
    let _ = client.batch_execute("SELECT pg_terminate_backend(pg_backend_pid())");
}

impl fmt::Debug for PgLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLockGuard")
            .field("table", &self.table)
            .field("fencing_token", &self.fence)
            .field("server_pid", &self.server_pid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "guard_test.rs"]
mod tests;
