// SPDX-License-Identifier: Apache-2.0
//! Where the locks and queues live: a base directory (fs) or a PostgreSQL
//! namespace (pg). Every query here is read-only except
//! [`Store::restore`].

use std::path::{Path, PathBuf};
use std::time::Duration;

use reedbase_concurrent_core::{
    LockBackend, LockHolder, MovedAside, PendingWrite, QueueBackend, QueuedEntry, ReedResult,
};
use reedbase_concurrent_fs::{FsBackend, FsOptions, inspect};
use reedbase_concurrent_pg::PgBackend;

/// The backend the commands work on.
pub enum Store {
    /// A base directory.
    Fs(FsBackend),
    /// A namespace on a PostgreSQL server.
    Pg(PgBackend),
}

impl Store {
    /// The file-system backend on `base` (nothing is opened yet).
    pub fn fs(base: PathBuf) -> Store {
        Store::Fs(FsBackend::new(base))
    }

    /// Connects to PostgreSQL (which creates the backend's schema if the
    /// server has none yet, as every process of the backend does).
    pub fn pg(url: &str, namespace: &str) -> ReedResult<Store> {
        PgBackend::connect(url, namespace).map(Store::Pg)
    }

    /// Where this is, for messages.
    pub fn describe(&self) -> String {
        match self {
            Store::Fs(fs) => format!("base directory {}", fs.base_path().display()),
            Store::Pg(pg) => format!("PostgreSQL namespace '{}'", pg.namespace()),
        }
    }

    /// Every table, sorted.
    pub fn tables(&self) -> ReedResult<Vec<String>> {
        match self {
            Store::Fs(fs) => inspect::tables(fs.base_path()),
            Store::Pg(pg) => pg.tables(),
        }
    }

    /// The table's pending entries in FIFO order, none moved.
    pub fn queued_entries(&self, table: &str) -> ReedResult<Vec<QueuedEntry>> {
        match self {
            Store::Fs(fs) => inspect::queued_entries(fs.base_path(), table),
            Store::Pg(pg) => pg.queued_entries(table),
        }
    }

    /// One pending entry.
    pub fn queued_entry(&self, table: &str, id: &str) -> ReedResult<QueuedEntry> {
        match self {
            Store::Fs(fs) => inspect::queued_entry(fs.base_path(), table, id),
            Store::Pg(pg) => pg.queued_entry(table, id),
        }
    }

    /// The table's moved-aside entries.
    pub fn moved_aside(&self, table: &str) -> ReedResult<Vec<MovedAside>> {
        match self {
            Store::Fs(fs) => fs.moved_aside(table),
            Store::Pg(pg) => QueueBackend::moved_aside(pg, table),
        }
    }

    /// Who holds the table's lock.
    pub fn lock_holder(&self, table: &str) -> ReedResult<Option<LockHolder>> {
        match self {
            Store::Fs(fs) => LockBackend::lock_holder(fs, table),
            Store::Pg(pg) => pg.lock_holder(table),
        }
    }

    /// Waits until the table's lock is free, without taking it.
    pub fn wait_for_unlock(&self, table: &str, timeout: Duration) -> ReedResult<()> {
        match self {
            Store::Fs(fs) => fs.wait_for_unlock(table, timeout),
            Store::Pg(pg) => pg.wait_for_unlock(table, timeout),
        }
    }

    /// Puts a moved-aside entry back into its queue (the one command that
    /// changes anything).
    pub fn restore(&self, table: &str, id: &str) -> ReedResult<PendingWrite> {
        match self {
            Store::Fs(fs) => reedbase_concurrent_fs::restore_moved_aside(
                fs.base_path(),
                table,
                id,
                &FsOptions::default(),
            ),
            Store::Pg(pg) => pg.restore_moved_aside(table, id),
        }
    }

    /// Whether the holder's process is alive: `Some(true)` for a lock the
    /// PostgreSQL server sees held by a live session, or an fs holder of
    /// this host whose process exists; `Some(false)` for an fs holder of
    /// this host whose process is gone (its lock was inherited by another
    /// process); `None` when it cannot be told (another host, no record).
    pub fn alive(&self, holder: &LockHolder) -> Option<bool> {
        match self {
            Store::Pg(_) => (!holder.is_unknown()).then_some(true),
            Store::Fs(_) => {
                let pid = holder.pid?;
                let host = holder.host.as_deref()?;
                (host == this_host()?).then(|| Path::new(&format!("/proc/{pid}")).exists())
            }
        }
    }
}

/// This machine's host name, as the fs backend writes it into a holder
/// record (every byte outside `[A-Za-z0-9._-]` replaced by `_`).
fn this_host() -> Option<String> {
    let raw = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()?;
    let host: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') {
                c
            } else {
                '_'
            }
        })
        .collect();
    (!host.is_empty()).then_some(host)
}
