// SPDX-License-Identifier: Apache-2.0
//! The queue: one row per entry in the queue table, holding the same JSON
//! bytes as a file of the file-system queue. Writing is in `producer`,
//! reading and removing in `consumer`, the rest in `entries`.
//!
//! Contracts:
//! - `queue_write` is exact about capacity and strictly FIFO under any
//!   number of producers on any number of hosts, and returns within
//!   [`PgOptions::queue_timeout`](crate::PgOptions::queue_timeout) plus
//!   [`MARGIN`](crate::lock::MARGIN) (`QueueBusy` past it, having written
//!   nothing), or, when the answer to its commit was lost, within a further
//!   second at most, spent finding out whether the commit landed.
//! - A write whose commit outcome cannot be found out is reported as
//!   [`ReedError::ServerError`](reedbase_concurrent_core::ReedError::ServerError)
//!   with SQLSTATE `08007` naming the entry id: the only case in which the
//!   caller does not know whether the write is queued.
//! - Every other call returns within
//!   [`PgOptions::call_timeout`](crate::PgOptions::call_timeout).

mod consumer;
mod entries;
mod producer;

pub(crate) use consumer::decode;
pub use producer::OUTCOME_UNKNOWN;
