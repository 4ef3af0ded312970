// SPDX-License-Identifier: Apache-2.0
//! How a [`PgBackend`](crate::PgBackend) connects and commits.

use std::time::Duration;

use reedbase_concurrent_core::DEFAULT_QUEUE_CAPACITY;

/// The PostgreSQL schema that holds the backend's tables unless
/// [`PgOptions::schema`] names another.
pub const DEFAULT_SCHEMA: &str = "reedbase";

/// Whether a commit waits for the server to flush it to its write-ahead log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// `synchronous_commit` as the server has it (on, by default): a queued
    /// write, a moved-aside entry, a failure count and a fencing token are
    /// on the server's disk when the call returns and survive a crash of the
    /// server or its machine.
    #[default]
    Durable,
    /// `synchronous_commit = off` for the backend's transactions: a commit
    /// returns before the flush, and a crash of the server (not of a client)
    /// can lose the last few hundred milliseconds of them. Never half of
    /// one: each transaction is there whole or not at all. After such a
    /// crash a fencing token can be handed out a second time, so fencing
    /// holds only while the server does not crash.
    Relaxed,
}

/// Options of a [`PgBackend`](crate::PgBackend), built with chained setters.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_pg::{Durability, PgOptions};
///
/// let options = PgOptions::new()
///     .capacity(500)
///     .durability(Durability::Relaxed)
///     .pool_size(4)
///     .connect_timeout(Duration::from_secs(2))
///     .queue_timeout(Duration::from_millis(500));
/// assert_eq!(options.capacity, 500);
/// assert_eq!(PgOptions::default().durability, Durability::Durable);
/// assert_eq!(PgOptions::default().schema, "reedbase");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PgOptions {
    /// The most pending entries per table; default 100.
    pub capacity: usize,
    /// See [`Durability`]; default durable.
    pub durability: Durability,
    /// The most locks the backend holds or waits for at once, and the most
    /// other calls it runs at once; default 8. Locks and calls have a pool
    /// of this many connections each, so the calls made while a lock is
    /// held never wait for the lock connections: up to twice this many
    /// connections are open. A lock that finds every lock connection in use
    /// waits for one within its own timeout (then `LockTimeout`); a call
    /// waits within its own bound.
    pub pool_size: u32,
    /// How long opening a connection (socket, start-up and authentication)
    /// may take, and the bound on [`PgBackend::connect`](crate::PgBackend::connect)
    /// as a whole; default 5 s.
    pub connect_timeout: Duration,
    /// The bound on every call that takes no timeout of its own (reads,
    /// removals, moves, `is_locked`, the registry, the operators' calls):
    /// each returns within it, whatever the network or the server does;
    /// default 5 s. The server's `statement_timeout` and `lock_timeout` of
    /// the backend's sessions are set to it too.
    pub call_timeout: Duration,
    /// How long the server keeps a held lock whose holder it no longer
    /// hears from; default 6 s (at least 1 s). The guard's session sends a
    /// heartbeat every quarter of it; a heartbeat or an `is_held` that gets
    /// no answer within a quarter of it gives the lock up (the connection is
    /// closed, `is_held` answers `false`), so a partitioned holder knows
    /// within half of it. The server ends a lock session idle for the whole
    /// of it (`idle_session_timeout`, PostgreSQL 14 or newer; on 13 the TCP
    /// keepalives set from it), which releases the lock.
    pub lease: Duration,
    /// The bound on a `queue_write`: how long it waits for the other
    /// producers of the table (the server's `lock_timeout`); default 5 s.
    /// The call returns within it plus [`MARGIN`](crate::lock::MARGIN),
    /// failing with `QueueBusy` past it, having written nothing (when the
    /// answer to its commit is lost, it takes up to a second more to find
    /// out whether the write landed).
    pub queue_timeout: Duration,
    /// The PostgreSQL schema of the backend's tables; default
    /// [`DEFAULT_SCHEMA`]. Lower-case ASCII letters, digits and `_`, not
    /// starting with a digit, at most 63 bytes.
    pub schema: String,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            capacity: DEFAULT_QUEUE_CAPACITY,
            durability: Durability::default(),
            pool_size: 8,
            connect_timeout: Duration::from_secs(5),
            call_timeout: Duration::from_secs(5),
            lease: Duration::from_secs(6),
            queue_timeout: Duration::from_secs(5),
            schema: DEFAULT_SCHEMA.to_string(),
        }
    }
}

impl PgOptions {
    /// The defaults: capacity 100, durable, 8 connections, 5 s to connect,
    /// 5 s bound on queue writes and on other calls, a 6 s lease, schema
    /// `reedbase`.
    pub fn new() -> Self {
        PgOptions::default()
    }

    /// Sets the capacity per table.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets the durability of commits.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the most connections (at least 1).
    pub fn pool_size(mut self, pool_size: u32) -> Self {
        self.pool_size = pool_size.max(1);
        self
    }

    /// Sets the connect timeout (at least 1 ms).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets the bound on calls without a timeout of their own (at least
    /// 1 ms).
    pub fn call_timeout(mut self, timeout: Duration) -> Self {
        self.call_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets the lease of held locks (at least 1 s).
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease.max(Duration::from_secs(1));
        self
    }

    /// The bound on one heartbeat, on `is_held` and on the guard's
    /// release: a quarter of the lease.
    pub(crate) fn heartbeat(&self) -> Duration {
        self.lease / 4
    }

    /// Sets the bound on queue writes (at least 1 ms).
    pub fn queue_timeout(mut self, timeout: Duration) -> Self {
        self.queue_timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// Sets the PostgreSQL schema (checked by
    /// [`PgBackend::connect_with`](crate::PgBackend::connect_with)).
    pub fn schema(mut self, schema: impl Into<String>) -> Self {
        self.schema = schema.into();
        self
    }
}

/// A duration as whole milliseconds for the server's `lock_timeout` and
/// `statement_timeout`: rounded up, at least 1 (0 would mean "no limit"),
/// at most `i32::MAX`.
pub(crate) fn server_millis(duration: Duration) -> u64 {
    let micros = duration.as_micros();
    let millis = micros.div_ceil(1000).max(1);
    u64::try_from(millis).map_or(i32::MAX as u64, |millis| millis.min(i32::MAX as u64))
}

#[cfg(test)]
#[path = "options_test.rs"]
mod tests;
