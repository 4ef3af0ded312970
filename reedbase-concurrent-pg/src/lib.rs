// SPDX-License-Identifier: Apache-2.0
//! The PostgreSQL backend of ReedBase's concurrent write layer, for several
//! hosts that share one base directory: the table locks and the write
//! queue live in one PostgreSQL server (13 or newer) that every host
//! reaches, because `flock` on shared storage (NFS and the like) is not
//! dependable. [`PgBackend`] implements core's
//! [`LockBackend`](reedbase_concurrent_core::LockBackend) and
//! [`QueueBackend`](reedbase_concurrent_core::QueueBackend) and passes the
//! conformance suite unchanged; the crate's README says when to choose it.
//!
//! ```text
//! PgBackend::connect(url, namespace)  -- or connect_with(url, namespace, PgOptions)
//!   a pool of connections (r2d2); one connection per held or awaited lock
//!   <schema>.tables       (namespace, table) -> table_no, fencing token, holder
//!   <schema>.queue        one row per pending entry, the file queue's JSON bytes
//!   <schema>.moved_aside  entries moved out of the queue, with their reasons
//! ```
//!
//! # Design
//!
//! **Client.** The synchronous `postgres` crate, because the traits are
//! synchronous, with a small `r2d2` pool ([`PgOptions::pool_size`],
//! default 8): a connection is checked with an empty query when it is
//! taken from the pool, so that one the server ended while it was idle is
//! replaced rather than failing a call. Waiting for a free connection is
//! bounded by [`PgOptions::connect_timeout`]. Connections are named
//! `reedbase pid <pid> on <host>` in `pg_stat_activity`. There is no TLS:
//! reach a remote server through a private network, a tunnel or a Unix
//! socket. Do not route it through a proxy that pools transactions (such as
//! PgBouncer in transaction mode): the locks belong to sessions.
//!
//! **Schema.** Created on first use, in one transaction, under an advisory
//! lock that serialises processes doing it at the same moment, and
//! versioned in `<schema>.schema_version`: a later release adds a step and
//! every process migrates on its next connect; a schema newer than the
//! release is refused. Several bases (or test runs) share one database
//! through namespaces; [`PgBackend::drop_namespace`] removes one.
//!
//! **Locks.** A table's lock is a session-level advisory lock keyed by two
//! numbers: the schema's oid and the table's number in the registry (so
//! two table names never share a lock, as a hash could make them). The
//! guard ([`PgLockGuard`]) owns the connection whose session holds it;
//! dropping the guard unlocks and returns the connection. A lock dies with
//! its session: a holder that crashes, is killed or loses its network
//! releases it when the server sees the session end, so there are no stale
//! locks to break. `acquire_lock` waits inside the server under a
//! `lock_timeout` of the caller's timeout: the server grants a released
//! lock to the next waiter at once, in the order the waiters asked; a
//! timeout is `LockTimeout` with the time really waited and the holder
//! (pid, host, time) read from the registry row the holder wrote in the
//! same transaction as its token, trusted only if `pg_locks` shows that
//! same session holding the lock. `is_locked` reads `pg_locks`;
//! `wait_for_unlock` waits inside the server for a shared lock on the same
//! key and releases it at once.
//!
//! **Lost locks and fencing.** If the session ends while its guard lives,
//! the server releases the lock and another host can take it.
//! [`is_held`](reedbase_concurrent_core::LockGuard::is_held) finds out with
//! one round trip on the guard's own connection, and the
//! [`WriteCoordinator`](reedbase_concurrent_core::WriteCoordinator) asks it
//! before every apply and every removal, so it stops before it applies or
//! removes anything more. Each acquisition also raises the table's
//! *fencing token* in the registry, handed to `apply` as
//! [`ApplyKey::fencing_token`](reedbase_concurrent_core::ApplyKey::fencing_token).
//! What it protects: a table writer that stores the highest token it has
//! written under, in the same durable step as the rows, and refuses a lower
//! one, never lets a holder whose lock was taken over write after the new
//! holder has written. What it cannot do: close the window between a check
//! and a write (a lock lost just after `is_held` answered, a stale holder
//! that read the stored token just before the new holder wrote its own);
//! only storage that checks the token atomically with the write (a
//! database, a conditional write) closes that; protect a writer that does
//! not check; or order writers across a failover to a standby that did not
//! receive the last token increments (use synchronous replication).
//! Tokens never fall below the server's start time in microseconds, so a
//! restart after a crash does not hand one out twice even when the last
//! increments were committed without waiting for the flush (as long as the
//! server's clock does not step back across its downtime).
//!
//! **Queue.** One row per entry holding the same JSON bytes as a
//! `<id>.pending` file of the file-system queue (an fs entry can be copied
//! over unchanged, see the README). `queue_write` is one transaction: it
//! takes a per-table transaction-level advisory lock (keyed by the queue
//! table's oid and the table's number), counts, and inserts with the next
//! number of `<schema>.queue_seq`, then commits, which releases the lock.
//! So capacity is exact under any number of producers on any number of
//! hosts, and ordering by that number is ordering by commit: strict FIFO.
//! Ids are the number (20 digits) and a random UUID,
//! `00000000000000000042-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f`: they pass
//! [`validate_queue_id`](reedbase_concurrent_core::validate_queue_id), sort
//! in queue order, and are never reused (the UUID keeps them unique even if
//! the schema is recreated). The producers' wait and each statement are
//! bounded by [`PgOptions::queue_timeout`] (the server's `lock_timeout` and
//! `statement_timeout`); past it the write fails with `QueueBusy`, having
//! written nothing. Readers take no lock; an entry that does not parse,
//! holds a row that would corrupt the table, or has a bad id is moved to
//! `moved_aside` with its reason (its bytes kept) and the reader goes on.
//! Removing an unknown id is `QueueEntryNotFound`, a moved one
//! `CorruptEntry`; a batch removal is one transaction. Failure counts of
//! `record_failed_apply` are a column of the entry, shared by every host.
//!
//! **Durability.** [`Durability::Durable`] (the default) commits queue
//! writes, moves, failure counts and fencing tokens with the server's
//! `synchronous_commit` (on): on the server's disk when the call returns.
//! [`Durability::Relaxed`] sets `synchronous_commit = off` for those
//! transactions: a crash of the server can lose the last few hundred
//! milliseconds of them, never half of one. Removals always commit without
//! waiting for the flush (the file queue does not fsync a removal either):
//! after a crash of the server a removed entry can come back and be
//! applied again under its id, as at-least-once delivery allows.
//!
//! **Errors.** Every failure of the server, the network or the user's
//! rights is a
//! [`ReedError::ServerError`]
//! naming the operation, the server as `host:port/database` (never the
//! password) and the SQLSTATE; every change of several statements is one
//! transaction, so nothing is half written. An error from a commit itself
//! (the session ended at that moment) leaves it unknown whether the change
//! landed.
//!
//! # Tests
//!
//! The tests run against a real server, found as [`testing`] describes
//! (`REEDBASE_PG_URL`, else the local Unix socket; `REEDBASE_PG_REQUIRED=1`
//! turns a missing server from a skip into a failure). Besides unit tests
//! and the conformance suite, `tests/multiprocess_lock.rs` and
//! `tests/multiprocess_queue.rs` run processes that connect over TCP and
//! stand for hosts, and the table crate's multi-process tests SIGKILL table
//! writers on this backend.
//!
//! # Measured
//!
//! See the README's table; `cargo xtask bench` measures it (its pg rows).

mod backend;
mod connection;
mod consumer;
mod guard;
mod inspect;
mod lock;
mod options;
mod producer;
mod queue;
mod schema;
pub mod testing;

pub use backend::PgBackend;
pub use guard::PgLockGuard;
pub use options::{DEFAULT_SCHEMA, Durability, PgOptions};
pub use reedbase_concurrent_core::{ReedError, ReedResult};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
