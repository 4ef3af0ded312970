// SPDX-License-Identifier: Apache-2.0
//! Table locks: session-level advisory locks keyed by the schema's oid and
//! the registry's number of the table, held by a session of the lock pool
//! that the guard owns.
//!
//! Contracts:
//! - A waiting `acquire_lock` waits inside the server (for the key's
//!   transaction-level advisory lock, under a `lock_timeout` of the
//!   caller's timeout, then takes the session-level one the guard keeps),
//!   so the server grants the lock to the next waiter the moment it is
//!   released, in the order the waiters asked; in the same round trip the
//!   acquirer raises the table's fencing token and records itself as the
//!   holder, in one transaction. A wait that expires holds nothing and
//!   costs no second round trip.
//! - `acquire_lock` and `wait_for_unlock` return within their timeout plus
//!   [`MARGIN`]: past the timeout the server ends the wait, past the margin
//!   the client closes the connection (which ends the wait, and any lock it
//!   got, on the server). Either way the result is `LockTimeout`, naming the
//!   holder when the server answered in time. Every lock connection in use
//!   is `LockTimeout` too.
//! - A lock is a lease (see [`PgOptions::lease`](crate::PgOptions::lease)):
//!   the guard's heartbeat keeps it, and a holder the server stops hearing
//!   from loses it.

mod acquire;
pub(crate) mod guard;
mod holder;

use std::time::Duration;

pub use guard::PgLockGuard;

/// How much longer than its timeout a call that waits (for a lock, for the
/// producers' turn) may take: for the round trips around the wait (the
/// registry, a new connection, the server's answer, the holder of a busy
/// lock). Past it the client closes the connection and gives up.
pub const MARGIN: Duration = Duration::from_millis(100);
