// SPDX-License-Identifier: Apache-2.0
//! How a multi-process scenario coordinates its writers: the coordinator's
//! path ([`Mode`]: per write or in batches, with the table writer's `apply`
//! or `apply_batch`), and where the locks and the queue live ([`Store`]):
//! the file-system backend on the base directory, or the PostgreSQL backend
//! in a namespace of the test run, the children connecting over TCP as
//! processes on other hosts sharing the base directory would. The table
//! files are in the base directory either way.
//!
//! [`with_backend!`] runs generic code with the store's backend; the
//! scenarios are written once, over core's `Backend`.
// Not every test binary uses every piece.
#![allow(dead_code)]

use std::fmt;
use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::{
    Backend, PendingWrite, SubmitOutcome, WriteCoordinator, WriteError,
};
use reedbase_concurrent_fs::FsBackend;
use reedbase_concurrent_pg::PgBackend;
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_table::TableWriter;

use crate::support::{child_role, param_as};

/// The table the scenarios write.
pub const TABLE: &str = "orders";
/// No wait here is longer; a hang is a failure, not a stall.
pub const PATIENCE: Duration = Duration::from_secs(120);
/// Short, so that writers contend and many writes take the queue path.
pub const LOCK_TIMEOUT: Duration = Duration::from_millis(1);

/// What a scenario returns: `Err` with what went wrong.
pub type Outcome = Result<(), String>;

/// The coordinator's path a scenario takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// `submit` and `drain`, with [`TableWriter::apply`].
    PerWrite,
    /// `submit_batch` and `drain_batch`, with [`TableWriter::apply_batch`].
    Batch,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::PerWrite => "per_write",
            Mode::Batch => "batch",
        })
    }
}

impl Mode {
    /// In a child: the mode its parameters name (`mode=...`).
    pub fn from_param() -> Mode {
        match param_as::<String>("mode").as_str() {
            "batch" => Mode::Batch,
            _ => Mode::PerWrite,
        }
    }

    /// Submits `write` to [`TABLE`] with [`LOCK_TIMEOUT`].
    pub fn submit<B: Backend>(
        self,
        coordinator: &WriteCoordinator<B>,
        writer: &TableWriter,
        write: PendingWrite,
    ) -> Result<SubmitOutcome, WriteError> {
        match self {
            Mode::PerWrite => coordinator.submit(TABLE, write, LOCK_TIMEOUT, |key, write| {
                writer.apply(key, write)
            }),
            Mode::Batch => coordinator.submit_batch(TABLE, write, LOCK_TIMEOUT, |batch| {
                writer.apply_batch(batch)
            }),
        }
    }

    /// Drains [`TABLE`], waiting at most [`PATIENCE`] for the lock.
    pub fn drain<B: Backend>(
        self,
        coordinator: &WriteCoordinator<B>,
        writer: &TableWriter,
    ) -> Result<usize, WriteError> {
        match self {
            Mode::PerWrite => {
                coordinator.drain(TABLE, PATIENCE, |key, write| writer.apply(key, write))
            }
            Mode::Batch => {
                coordinator.drain_batch(TABLE, PATIENCE, |batch| writer.apply_batch(batch))
            }
        }
    }
}

/// Where the locks and the queue of a scenario live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Store {
    /// The fs backend on the base directory.
    Fs,
    /// The pg backend in this namespace.
    Pg(String),
}

impl fmt::Display for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Store::Fs => "fs",
            Store::Pg(_) => "pg",
        })
    }
}

impl Store {
    /// The parameters that give a child this store (`store=...`).
    pub fn params(&self) -> String {
        match self {
            Store::Fs => "store=fs".to_string(),
            Store::Pg(namespace) => format!("store=pg,ns={namespace}"),
        }
    }

    /// In a child: the store its parameters name.
    pub fn from_params() -> Store {
        match param_as::<String>("store").as_str() {
            "pg" => Store::Pg(param_as("ns")),
            _ => Store::Fs,
        }
    }

    /// The pg backend of namespace `namespace`: over TCP in a child (a
    /// process on another host), over the server's usual URL in the parent.
    ///
    /// # Panics
    ///
    /// Without a server (the parent found one before it made a pg store),
    /// or when the backend cannot connect.
    pub fn pg_backend(namespace: &str) -> PgBackend {
        let server = TestServer::find("a pg store").expect("the parent found a server");
        let url = if child_role().is_some() {
            server.tcp_url()
        } else {
            server.url()
        };
        PgBackend::connect(url, namespace).unwrap()
    }

    /// The fs backend on `base`.
    pub fn fs_backend(base: &Path) -> FsBackend {
        FsBackend::new(base)
    }
}

/// Runs `$body` with `$b` bound to the backend of `$store` (on base
/// directory `$base`), whichever it is.
#[allow(unused_macros)]
macro_rules! with_backend {
    ($store:expr, $base:expr, $b:ident => $body:expr) => {
        match $store {
            $crate::coordination::Store::Fs => {
                let $b = $crate::coordination::Store::fs_backend($base);
                $body
            }
            $crate::coordination::Store::Pg(namespace) => {
                let $b = $crate::coordination::Store::pg_backend(namespace);
                $body
            }
        }
    };
}
#[allow(unused_imports)]
pub(crate) use with_backend;

/// Ends every server session of process `pid` (its pool's connections,
/// among them the one that holds its lock) as an administrator's
/// `pg_terminate_backend` would, or a cut network; waits until they are
/// gone. Returns how many there were.
pub fn terminate_sessions_of(pid: u32) -> usize {
    let server = TestServer::find("terminate_sessions_of").expect("a server");
    let mut client = server.client().unwrap();
    let sql = format!(
        "SELECT count(*) FILTER (WHERE pg_terminate_backend(pid, 10000)) FROM pg_stat_activity \
         WHERE application_name LIKE 'reedbase pid {pid} on %'"
    );
    let row = client.query_one(sql.as_str(), &[]).unwrap();
    let ended: i64 = row.get(0);
    usize::try_from(ended).unwrap()
}
