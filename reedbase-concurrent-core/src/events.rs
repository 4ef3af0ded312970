// SPDX-License-Identifier: Apache-2.0
//! The [`tracing`] events of the coordinator and the backends: what each
//! means, its level, its fields, and what an operator does about it.
//!
//! The libraries emit events and install no subscriber: a service that
//! wants them installs one (`tracing-subscriber`, or its own), and the
//! operators' tool `reedbase-concurrent` shows them with `-v`. Without a
//! subscriber an event costs one relaxed atomic load at its call site, and
//! no event is on a fast path (an uncontended lock, a queue write below
//! capacity): they mark what an operator should hear about.
//!
//! Every event carries the field `event`, whose value is one of the
//! constants below (a stable name to filter and alert on), and the field
//! `table`. The other fields, by name, are the same whichever backend emits
//! them:
//!
//! | field | type | meaning |
//! | --- | --- | --- |
//! | `event` | string | one of the names below |
//! | `table` | string | the table |
//! | `id` | string | the queue id of the entry |
//! | `reason` | string | why an entry was moved aside (as [`MovedAside::reason`](crate::MovedAside::reason)) |
//! | `destination` | string | where it lies now ([`MovedAside::location`](crate::MovedAside::location)) |
//! | `waited_ms` | u64 | how long the caller waited, in milliseconds |
//! | `holder` | string | who held the lock ([`LockHolder`](crate::LockHolder)'s text), `unknown` when it could not be told |
//! | `pending` | u64 | entries pending in the table's queue |
//! | `capacity` | u64 | the queue's capacity |
//! | `attempts` | u64 | failed applies counted for the entry (absent when unknown) |
//! | `path` | string | a file (fs backend) |
//! | `error` | string | the error's message |
//!
//! | event | level | emitted by | means | what to do |
//! | --- | --- | --- | --- | --- |
//! | [`ENTRY_MOVED_ASIDE`] | warn | fs, pg | a queue entry could not be read, decoded or trusted, or is a dead letter, and was moved out of the queue (`id`, `reason`, `destination`); the queue went on | inspect it (`reedbase-concurrent corrupt list`); repair and `corrupt restore` it, or delete it |
//! | [`ENTRY_NOT_MOVED`] | warn | fs | a bad entry could not be moved aside (full or read-only disk) and is skipped where it lies (`id`, `reason`, `path`, `error`) | free space or fix the mount; the next reader moves it |
//! | [`TEMPORARY_SWEPT`] | info | fs | a producer found the temporary file of a producer that died before its write returned, and deleted it (`path`); nothing acknowledged was lost | nothing, unless it is frequent: then producers are being killed mid-write |
//! | [`TEMPORARY_NOT_SWEPT`] | warn | fs | a file with the name of a producer's temporary could not be swept: it could not be opened, locked or deleted, or it is a directory (`path`, `error`); it was left, and no write waits for it | remove it by hand once no producer runs, or fix the permissions or mount |
//! | [`LOCK_WAIT_TIMED_OUT`] | info | fs, pg | a lock wait ended at its timeout (`waited_ms`, `holder`); `submit` then queues the write | nothing if rare; if a table's lock is held for long, see who holds it (`reedbase-concurrent lock holder`) |
//! | [`QUEUE_FULL`] | warn | fs, pg | a write was refused because the table's queue held its capacity (`pending`, `capacity`) | drain the table (a writer or a `Drainer` must hold the lock), or raise the capacity option |
//! | [`QUEUE_BUSY`] | warn | fs, pg | a producer gave up waiting for another producer that held the queue's producers' lock (`waited_ms`); nothing was written | look for a stopped or hung process (SIGSTOP, a debugger, a stalled disk) |
//! | [`WRITE_HANDED_BACK`] | warn | coordinator | `submit` neither applied nor queued a write and handed it back to its caller (`error`) | the caller retries or reports; the error says why |
//! | [`APPLY_FAILED`] | warn | coordinator | applying a queued write failed; it stays first and blocks its table (`id`, `attempts`, `error`) | fix what `apply` reports (disk full, table file), or let a dead-letter policy move it aside |
//! | [`DEAD_LETTER`] | warn | coordinator | a queued write whose apply kept failing was moved aside by the dead-letter policy (`id`, `attempts`, `reason`, `destination`) | fix the cause, then `corrupt restore` it to apply it in its place |
//! | [`LOCK_LOST`] | warn | coordinator | a held lock was lost (lock file replaced or deleted, connection cut); nothing more was applied or removed (`reason`) | find who touched `write.lock` or why the connection ended; the next holder goes on |
//! | [`ENTRY_RESTORED`] | info | fs, pg | an operator put a moved-aside entry back into the queue under its id (`id`) | nothing |
//!
//! ```
//! use reedbase_concurrent_core::events;
//!
//! assert_eq!(events::QUEUE_FULL, "queue_full");
//! ```

/// A queue entry was moved aside (warn).
pub const ENTRY_MOVED_ASIDE: &str = "entry_moved_aside";
/// A bad queue entry could not be moved aside and was skipped (warn).
pub const ENTRY_NOT_MOVED: &str = "entry_not_moved";
/// A dead producer's temporary file was deleted (info).
pub const TEMPORARY_SWEPT: &str = "temporary_swept";
/// A file named like a producer's temporary could not be swept (warn).
pub const TEMPORARY_NOT_SWEPT: &str = "temporary_not_swept";
/// A lock wait timed out (info).
pub const LOCK_WAIT_TIMED_OUT: &str = "lock_wait_timed_out";
/// A write was refused because the queue was full (warn).
pub const QUEUE_FULL: &str = "queue_full";
/// A producer gave up waiting for the producers' lock (warn).
pub const QUEUE_BUSY: &str = "queue_busy";
/// `submit` handed a write back to its caller (warn).
pub const WRITE_HANDED_BACK: &str = "write_handed_back";
/// Applying a queued write failed; it blocks its table (warn).
pub const APPLY_FAILED: &str = "apply_failed";
/// The dead-letter policy moved a queued write aside (warn).
pub const DEAD_LETTER: &str = "dead_letter";
/// A held lock was lost (warn).
pub const LOCK_LOST: &str = "lock_lost";
/// A moved-aside entry was put back into its queue (info).
pub const ENTRY_RESTORED: &str = "entry_restored";

/// `duration` in whole milliseconds, for the `waited_ms` field.
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::events::millis;
///
/// assert_eq!(millis(Duration::from_micros(2_500)), 2);
/// ```
pub fn millis(duration: std::time::Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// The `holder` field's text: the holder, or `unknown`.
///
/// ```
/// use reedbase_concurrent_core::{LockHolder, events::holder_field};
///
/// assert_eq!(holder_field(None), "unknown");
/// assert_eq!(holder_field(Some(&LockHolder::new(Some(7), None, None))), "pid 7");
/// ```
pub fn holder_field(holder: Option<&crate::LockHolder>) -> String {
    match holder {
        Some(holder) if !holder.is_unknown() => holder.to_string(),
        _ => "unknown".to_string(),
    }
}
