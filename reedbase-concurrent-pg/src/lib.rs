// SPDX-License-Identifier: Apache-2.0
//! The PostgreSQL backend of ReedBase's concurrent write layer, for several
//! hosts that share one base directory: the table locks and the write
//! queue live in one PostgreSQL server (13 or newer) that every host
//! reaches, because `flock` on shared storage is not dependable.
//! [`PgBackend`] implements core's `LockBackend` and `QueueBackend` and
//! passes the conformance suite unchanged.
//!
//! ```text
//! lib.rs          this page
//! backend.rs      PgBackend: connect, pools, namespace; the trait impls
//! lock/           acquire (advisory lock, fencing token), holder, guard (lease, heartbeat)
//! queue/          producer (queue_write), consumer (read, remove), entries (count, move, failures)
//! inspect.rs      what the operators' tool reads, and restoring moved entries
//! connection.rs   settings, pools, errors; connection/session.rs: bounded round trips,
//!                 statements prepared once per session, two requests in one flight
//! schema.rs       tables, versions and migration; schema/registry.rs: table numbers
//! options.rs      PgOptions
//! testing.rs      finding the test server
//! ```
//!
//! # Contracts
//!
//! - **Exclusion.** A table's lock is a session-level advisory lock keyed by
//!   the schema's oid and the table's registry number; it dies with its
//!   session (a crash, a kill, a terminated or partitioned session), so
//!   there are no stale locks. Waiters wait inside the server and get a
//!   released lock in the order they asked.
//! - **Leases and lost locks.** A held lock is a lease (`PgOptions::lease`):
//!   the guard's heartbeat keeps it; a holder the server does not hear from
//!   for the lease loses it, and the holder knows within half the lease
//!   (`is_held` answers `false`). The `WriteCoordinator` asks `is_held`
//!   before every apply, removal and failure count.
//! - **Fencing.** Each acquisition raises the table's fencing token, never
//!   below the server's start time in microseconds, so a restart after a
//!   crash does not hand one out twice. A writer that stores the highest
//!   token with its rows and refuses a lower one never lets a stale holder
//!   write after the new holder has; it cannot close the window between its
//!   check and its write, nor survive a failover to a standby that missed
//!   the last increments.
//! - **Queue.** One row per entry with the file queue's JSON bytes; capacity
//!   is exact and order is strict FIFO across hosts (a per-table
//!   transaction-level lock orders producers by commit); ids are the
//!   sequence number and a random UUID, never reused. Unreadable entries are
//!   moved aside with their reason, never deleted.
//! - **Time bounds.** Every call returns within its bound whatever the
//!   network or the server does: lock waits within their timeout plus
//!   `lock::MARGIN` (100 ms), `queue_write` within `queue_timeout` plus the
//!   margin (plus at most 1 s when the answer to its commit was lost), other
//!   calls within `call_timeout`, `is_held` and the guard's release within a
//!   quarter of the lease, `connect` within `connect_timeout`. The server's
//!   own `statement_timeout`, `lock_timeout` and `idle_session_timeout` do
//!   not shorten a wait or end a lock session.
//! - **Pools.** Locks and calls have pools of `pool_size` sessions each, so
//!   the calls made under a held lock never wait for a lock connection.
//! - **Durability.** `Durability::Durable` commits queue writes, moves,
//!   failure counts and tokens with the server's `synchronous_commit`;
//!   `Relaxed` turns it off for them (a server crash can lose the last
//!   fraction of a second of them, never half of one). Removals never wait
//!   for the flush: a removed entry can come back after a server crash and
//!   be applied again under its id (at-least-once delivery).
//! - **Errors.** Failures of the server, the network or the user's rights
//!   are `ReedError::ServerError`s naming the operation, the server
//!   (`host:port/database`, never the password) and the SQLSTATE; every
//!   change of several statements is one transaction. A queue write whose
//!   commit outcome could not be found out has SQLSTATE [`OUTCOME_UNKNOWN`]
//!   and names its entry id; every other failed write wrote nothing.
//! - **Connections.** No TLS: reach a remote server through a private
//!   network, a tunnel or a Unix socket, never through a proxy that pools
//!   transactions (the locks belong to sessions). Sessions are named
//!   `reedbase pid <pid> on <host>` in `pg_stat_activity`.
//!
//! The tests run against a real server found as `testing` describes
//! (`REEDBASE_PG_URL`, else the local Unix socket; `REEDBASE_PG_REQUIRED=1`
//! turns a missing server into a failure). Design history and measurements
//! are in `docs/design/2026-12-06-pg-backend.md` of the repository.

mod backend;
mod connection;
mod inspect;
pub mod lock;
mod options;
pub mod queue;
mod schema;
pub mod testing;

pub use backend::PgBackend;
pub use lock::PgLockGuard;
pub use options::{DEFAULT_SCHEMA, Durability, PgOptions};
pub use queue::OUTCOME_UNKNOWN;
pub use reedbase_concurrent_core::{ReedError, ReedResult};

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
