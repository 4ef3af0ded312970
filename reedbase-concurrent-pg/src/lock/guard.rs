// SPDX-License-Identifier: Apache-2.0
//! [`PgLockGuard`]: a held table lock, the session that holds it, its
//! fencing token, and the heartbeat that keeps the lease.
//!
//! Contract: while the guard lives, a heartbeat asks the session for an
//! answer every quarter of the lease; one that does not come within a
//! quarter of the lease closes the connection and marks the lock lost, so
//! the holder learns of a partition within half the lease, before the
//! server (which ends a lock session idle for the whole lease) lets another
//! holder in. `is_held` and the release are bounded by a quarter of the
//! lease too; a release that gets no answer closes the connection, which
//! releases the lock as the session ends.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{LockGuard, ReedResult};
use tokio::task::AbortHandle;

use crate::connection::{self, Connection, Server, Session};

/// Proof of holding a table's lock on the server: a session-level advisory
/// lock held by a connection that this guard owns. Dropping the guard
/// unlocks and returns the connection to the pool.
///
/// The lock lives as long as the connection's session. If the session ends
/// while the guard is alive (the server restarted, an administrator ran
/// `pg_terminate_backend`, the network cut it, the lease ran out), the
/// server releases the lock and another holder can take it; [`is_held`](LockGuard::is_held)
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
    held: Held,
    lost: Arc<AtomicBool>,
    heartbeat: AbortHandle,
    connection: Mutex<Option<Connection>>,
}

/// What an acquisition hands the guard besides the session.
pub(crate) struct Held {
    pub(crate) table: String,
    pub(crate) key: LockKey,
    pub(crate) fence: u64,
    pub(crate) server_pid: i32,
    pub(crate) server: Server,
    /// A quarter of the lease.
    pub(crate) heartbeat: Duration,
    /// Whether the release resets the session's `idle_session_timeout`.
    pub(crate) reset_idle_timeout: bool,
    /// Whether the acquisition's statement, run after the lock was taken,
    /// found no entry of the table queued.
    pub(crate) queue_was_empty: bool,
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
    pub(crate) fn new(held: Held, connection: Connection) -> PgLockGuard {
        let lost = Arc::new(AtomicBool::new(false));
        let heartbeat = start_heartbeat(&connection, held.heartbeat, Arc::clone(&lost));
        PgLockGuard {
            held,
            lost,
            heartbeat,
            connection: Mutex::new(Some(connection)),
        }
    }

    /// The process id of the server session that holds the lock, as
    /// `pg_locks.pid` and `pg_stat_activity.pid` show it (what an operator
    /// passes to `pg_terminate_backend`).
    pub fn server_pid(&self) -> i32 {
        self.held.server_pid
    }
}

/// Starts the heartbeat of a lock session: an empty query every `every`,
/// each answered within `every`, or the connection is closed and `lost` set.
fn start_heartbeat(session: &Session, every: Duration, lost: Arc<AtomicBool>) -> AbortHandle {
    let (client, driver, handle) = session.share();
    handle
        .spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                let answered = tokio::time::timeout(every, client.simple_query("")).await;
                if !matches!(answered, Ok(Ok(_))) {
                    lost.store(true, Ordering::SeqCst);
                    driver.abort();
                    return;
                }
            }
        })
        .abort_handle()
}

impl LockGuard for PgLockGuard {
    fn table_name(&self) -> &str {
        &self.held.table
    }

    /// Asks the server, on the guard's own session, whether that session is
    /// still alive: one round trip of an empty query, answered within a
    /// quarter of the lease. A session-level advisory lock is released only
    /// by its own session (the guard's drop) or by the end of the session,
    /// so a live session still holds it. A session that has ended, does not
    /// answer in time (its connection is then closed), or whose heartbeat
    /// went unanswered answers `Ok(false)`.
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
        if self.lost.load(Ordering::SeqCst) || client.is_closed() {
            return Ok(false);
        }
        client.set_deadline(Some(Instant::now() + self.held.heartbeat));
        let mut answer = client.simple_query("");
        if answer.as_ref().is_err_and(|error| {
            error.code() == Some(&tokio_postgres::error::SqlState::QUERY_CANCELED)
        }) {
            // A statement timeout that fired as the previous statement
            // ended can be delivered to the next one; ask again.
            answer = client.simple_query("");
        }
        match answer {
            Ok(_) => Ok(true),
            Err(error) if connection::session_ended(&error) => {
                self.lost.store(true, Ordering::SeqCst);
                client.close();
                Ok(false)
            }
            Err(error) => Err(self.held.server.error("is_held", &error)),
        }
    }

    /// `true` unless the heartbeat has already seen the session end: the
    /// acquisition took the advisory lock with a statement on this guard's
    /// own session, which is the round trip `is_held` would make again.
    fn checked_at_acquisition(&self) -> bool {
        !self.lost.load(Ordering::SeqCst)
    }

    /// `true` when the acquisition's statement, whose snapshot was taken
    /// after the lock was granted, found no queued entry of the table (one
    /// `EXISTS` on the queue's primary key in the same round trip), unless
    /// the heartbeat has already seen the session end.
    fn queue_empty_at_acquisition(&self) -> bool {
        self.held.queue_was_empty && !self.lost.load(Ordering::SeqCst)
    }

    fn fencing_token(&self) -> Option<u64> {
        Some(self.held.fence)
    }
}

impl Drop for PgLockGuard {
    fn drop(&mut self) {
        self.heartbeat.abort();
        let slot = self
            .connection
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(mut client) = slot.take() else {
            return;
        };
        if self.lost.load(Ordering::SeqCst) || client.is_closed() {
            client.close();
            return;
        }
        client.set_deadline(Some(Instant::now() + self.held.heartbeat));
        let reset = if self.held.reset_idle_timeout {
            "; RESET idle_session_timeout"
        } else {
            ""
        };
        let sql = format!(
            "SELECT pg_advisory_unlock({}){reset}",
            self.held.key.arguments()
        );
        if client.batch_execute(&sql).is_err() {
            release_everything(&mut client);
        }
    }
}

/// Makes sure a session that goes back to the pool holds no session lock:
/// unlocks all, and if even that fails, closes the connection (the pool
/// then discards it, and the server releases whatever it held when it sees
/// the session end).
pub(crate) fn release_everything(client: &mut Session) {
    if client
        .batch_execute("SELECT pg_advisory_unlock_all()")
        .is_err()
    {
        client.close();
    }
}

impl fmt::Debug for PgLockGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLockGuard")
            .field("table", &self.held.table)
            .field("fencing_token", &self.held.fence)
            .field("server_pid", &self.held.server_pid)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
#[path = "guard_test.rs"]
mod tests;
