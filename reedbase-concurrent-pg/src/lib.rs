// SPDX-License-Identifier: Apache-2.0
//! The PostgreSQL backend of ReedBase's concurrent write layer, for several
//! hosts that share one base directory: table locks and the write queue
//! live in one PostgreSQL server that every host reaches.

mod backend;
mod connection;
mod consumer;
mod guard;
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
