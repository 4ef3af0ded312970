// SPDX-License-Identifier: Apache-2.0
//! A table lock taken in a child process, with any of the implementations
//! the tasks compare, and the child roles that hold or wait for one: the
//! hand-off and waiter-CPU measurements of the bench, and the
//! cross-process exclusion checks of parity.
//!
//! Backends: `last` (the old module), `fs`, `sqlite` (`BEGIN IMMEDIATE` on
//! the table's database, see [`SqliteTable`]), `flock` (a bare blocking
//! `flock` on `<base>/<table>.flock`: the kernel's floor) and `pg` (the pg
//! backend at the [`PgSite`] the parent gives, over TCP, as a process on
//! another host would take it).

use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use fs2::FileExt;
use reedbase_concurrent_core::{LockBackend, now_nanos};
use reedbase_concurrent_pg::{PgBackend, PgLockGuard, PgOptions};
use reedbase_last::concurrent as last;
use reedbase_last::error::ReedError as LastError;

use crate::bench::sqlite::SqliteTable;
use crate::child_process::{say, wait_for_parent};
use crate::pg_site::PgSite;

/// The backends a child can lock with.
pub const BACKENDS: [&str; 5] = ["last", "fs", "sqlite", "flock", "pg"];

/// A lock held by a child; [`release`](HeldLock::release) or dropping it
/// lets go.
pub enum HeldLock {
    /// The old module's guard.
    Last(last::TableLock),
    /// The fs backend's guard.
    Fs(reedbase_concurrent_fs::TableLock),
    /// An open `BEGIN IMMEDIATE` transaction.
    Sqlite(SqliteTable),
    /// A file with a `flock` on it.
    Flock(File),
    /// The pg backend's guard (its connection holds the advisory lock).
    Pg(Box<PgLockGuard>),
}

impl HeldLock {
    /// Takes `table`'s lock with `backend` (under `base`, or for pg with
    /// the `pg` backend connected beforehand), waiting at most `timeout`;
    /// `Ok(None)` when it timed out.
    pub fn acquire(
        backend: &str,
        base: &Path,
        pg: Option<&PgBackend>,
        table: &str,
        timeout: Duration,
    ) -> Result<Option<HeldLock>, String> {
        match backend {
            "pg" => match pg
                .ok_or("no pg backend given")?
                .acquire_lock(table, timeout)
            {
                Ok(guard) => Ok(Some(HeldLock::Pg(Box::new(guard)))),
                Err(error) if error.is_lock_timeout() => Ok(None),
                Err(error) => Err(format!("pg acquire_lock: {error}")),
            },
            "last" => match last::acquire_lock(base, table, timeout) {
                Ok(guard) => Ok(Some(HeldLock::Last(guard))),
                Err(LastError::LockTimeout { .. }) => Ok(None),
                Err(error) => Err(format!("last acquire_lock: {error}")),
            },
            "fs" => match reedbase_concurrent_fs::acquire_lock(base, table, timeout) {
                Ok(guard) => Ok(Some(HeldLock::Fs(guard))),
                Err(error) if error.is_lock_timeout() => Ok(None),
                Err(error) => Err(format!("fs acquire_lock: {error}")),
            },
            "sqlite" => {
                let database = SqliteTable::open(base, table, true, 100)?;
                Ok(database
                    .lock(timeout)?
                    .then_some(HeldLock::Sqlite(database)))
            }
            "flock" => flock(base, table, timeout),
            other => Err(format!(
                "unknown lock backend {other:?} ({})",
                BACKENDS.join(", ")
            )),
        }
    }

    /// Lets go of the lock.
    pub fn release(self) -> Result<(), String> {
        match self {
            HeldLock::Sqlite(database) => database.unlock(),
            HeldLock::Flock(file) => FileExt::unlock(&file).map_err(|e| format!("unlock: {e}")),
            HeldLock::Last(guard) => {
                drop(guard);
                Ok(())
            }
            HeldLock::Fs(guard) => {
                drop(guard);
                Ok(())
            }
            HeldLock::Pg(guard) => {
                drop(guard);
                Ok(())
            }
        }
    }
}

/// The floor: a blocking `flock`. The wait is the kernel's, so a timeout
/// other than "forever" cannot be honoured; the only caller that times out
/// (the waiter-CPU child) gets the lock by a non-blocking try instead, and
/// sleeps out its timeout in the kernel (0% CPU).
fn flock(base: &Path, table: &str, timeout: Duration) -> Result<Option<HeldLock>, String> {
    fs::create_dir_all(base).map_err(|e| format!("creating {}: {e}", base.display()))?;
    let path: PathBuf = base.join(format!("{table}.flock"));
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))?;
    if timeout >= Duration::from_secs(10) {
        FileExt::lock_exclusive(&file).map_err(|e| format!("flock: {e}"))?;
        return Ok(Some(HeldLock::Flock(file)));
    }
    if FileExt::try_lock_exclusive(&file).is_ok() {
        return Ok(Some(HeldLock::Flock(file)));
    }
    std::thread::sleep(timeout);
    Ok(None)
}

/// The arguments of every lock role.
#[derive(Debug, Args)]
pub struct LockArgs {
    /// last, fs, sqlite, flock or pg.
    pub backend: String,
    /// The base directory.
    pub base: PathBuf,
    /// The table.
    pub table: String,
    /// How long to wait for the lock, in milliseconds.
    #[arg(long, default_value_t = 30_000)]
    pub timeout_ms: u64,
    /// Where the pg backend is (pg only).
    #[command(flatten)]
    pub pg: PgSite,
}

impl LockArgs {
    /// What taking the lock needs, done before any clock starts: for pg,
    /// the backend connected, with one connection ready in its pool.
    fn prepare(&self) -> Result<Option<PgBackend>, String> {
        if self.backend != "pg" {
            return Ok(None);
        }
        let backend = self.pg.connect(PgOptions::new())?;
        backend
            .is_locked(&self.table)
            .map_err(|e| format!("pg is_locked: {e}"))?;
        Ok(Some(backend))
    }

    fn acquire(&self, pg: Option<&PgBackend>) -> Result<Option<HeldLock>, String> {
        let timeout = Duration::from_millis(self.timeout_ms);
        HeldLock::acquire(&self.backend, &self.base, pg, &self.table, timeout)
    }
}

/// Role `hold`: takes the lock, says `locked`, waits for a line from the
/// parent (or its end), then says `released <nanos>` with the wall clock
/// read just before letting go.
pub fn hold(args: &LockArgs) -> Result<(), String> {
    let pg = args.prepare()?;
    let held = args
        .acquire(pg.as_ref())?
        .ok_or("the holder could not take the lock")?;
    say("locked")?;
    wait_for_parent()?;
    let released = now_nanos();
    held.release()?;
    say(&format!("released {released}"))
}

/// Role `wait`: says `waiting`, waits for the lock, then says
/// `acquired <nanos>`.
pub fn wait(args: &LockArgs) -> Result<(), String> {
    let pg = args.prepare()?;
    say("waiting")?;
    let held = args
        .acquire(pg.as_ref())?
        .ok_or("the waiter did not get the lock")?;
    let acquired = now_nanos();
    held.release()?;
    say(&format!("acquired {acquired}"))
}

/// Role `cpu-wait`: waits for a lock that stays held until the timeout,
/// then says `cpu <cpu_nanos> <wall_nanos>`.
pub fn cpu_wait(args: &LockArgs) -> Result<(), String> {
    let pg = args.prepare()?;
    let cpu_before = cpu_time_ns()?;
    let wall_before = now_nanos();
    let held = args.acquire(pg.as_ref())?;
    let wall = now_nanos().saturating_sub(wall_before);
    let cpu = cpu_time_ns()?.saturating_sub(cpu_before);
    if held.is_some() {
        return Err("the cpu waiter got a lock that should have stayed held".to_string());
    }
    say(&format!("cpu {cpu} {wall}"))
}

/// The CPU time this process has used, every thread of it (a backend may
/// wait in a thread of its own), in nanoseconds.
fn cpu_time_ns() -> Result<u64, String> {
    let time = rustix::time::clock_gettime(rustix::time::ClockId::ProcessCPUTime);
    let nanos = i128::from(time.tv_sec) * 1_000_000_000 + i128::from(time.tv_nsec);
    u64::try_from(nanos).map_err(|_| format!("a CPU time of {nanos} ns"))
}
