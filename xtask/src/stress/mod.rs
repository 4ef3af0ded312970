// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask stress`: many processes submit writes through the
//! [`WriteCoordinator`] on the fs backend (or, with `--backend pg`, on the
//! pg backend, each writer connecting to the server over TCP as a process
//! on another host would), while the supervisor (with `--kill`) SIGKILLs
//! random writers and starts new ones, and (with `--chaos`, fs only)
//! attacks the base directory (`chaos.rs`). At the end the supervisor drains
//! the queue and checks the table, the event log, the queue and (with
//! `--chaos`) everything outside the base; any violation exits non-zero.
//!
//! With pg the run uses a namespace of its own on the server found as the
//! pg crate's tests find it (`REEDBASE_PG_URL`, else the local server),
//! removed at the end; without a server the run fails.
//!
//! Layout of the run's directory: `base/` is the ReedBase base directory
//! (a small tmpfs with `--chaos` as root); the writers' table and event
//! log live beside it, outside the base, so that a full base cannot tear
//! them:
//! - `table.csv`: one line per applied row,
//!   `key|writer|seq|applier pid|queue id or "direct"`;
//! - `events.log`: `B pid nanos` before and `E pid nanos` after each apply,
//!   which shows whether two processes were ever inside the table at once;
//!
//! and each writer prints `ACK writer seq` once `submit` returned `Ok`. All
//! appends are single `write` calls on files opened with `O_APPEND`, so a
//! SIGKILL never tears a line.
//!
//! [`WriteCoordinator`]: reedbase_concurrent_core::WriteCoordinator

pub mod backend;
mod chaos;
pub mod child;
mod supervisor;
mod verify;

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::pg_server;
use crate::pg_site::PgSite;
use backend::StressBackend;

/// The table every writer writes.
const TABLE: &str = "stress";

/// The backends a stress run can write through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendName {
    /// The file-system backend, on the run's base directory
    Fs,
    /// The PostgreSQL backend, in a namespace of the run's own
    Pg,
}

/// The options of `cargo xtask stress`.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// The backend the writers write through
    #[arg(long, value_enum, default_value_t = BackendName::Fs)]
    pub backend: BackendName,
    /// Writer processes running at once
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    pub processes: u64,
    /// How long the writers write
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// SIGKILL random writers every 100-400 ms and start new ones
    #[arg(long)]
    pub kill: bool,
    /// The queue's capacity (small, so that it fills)
    #[arg(long, default_value_t = 20, value_parser = clap::value_parser!(u64).range(1..))]
    pub capacity: u64,
    /// Work in this directory instead of a temporary one
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Apply in batches (submit_batch: one fsync of the table per batch)
    #[arg(long)]
    pub batch: bool,
    /// Write through submit_grouped: every write queued, acknowledged once
    /// a lock holder applied it (one fsync of the table per batch)
    #[arg(long)]
    pub grouped: bool,
    /// Also delete and rename the lock file and the corrupt directory, drop
    /// junk files and links (to files outside the base, to FIFOs) into the
    /// queue, and, as root, put the base on a small tmpfs and fill it;
    /// checks that nothing outside the base was written (fs only)
    #[arg(long)]
    pub chaos: bool,
}

/// Runs the stress test; `Err` when it could not run or found a violation.
pub fn run(options: &Options) -> Result<(), String> {
    if options.chaos && options.backend == BackendName::Pg {
        return Err(
            "--chaos attacks the fs backend's base directory; it does not apply to --backend pg"
                .to_string(),
        );
    }
    let server = match options.backend {
        BackendName::Fs => None,
        BackendName::Pg => Some(
            pg_server::find("cargo xtask stress --backend pg")?
                .ok_or("--backend pg needs a PostgreSQL server")?,
        ),
    };
    // Removes the run's namespace when dropped, at the end.
    let pg_run = server.as_ref().map(|server| server.run("xtask_stress"));
    let site = match (&server, &pg_run) {
        (Some(server), Some(pg_run)) => PgSite::new(server, pg_run.namespace()),
        _ => PgSite::default(),
    };
    let temporary;
    let dir = match &options.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            dir.clone()
        }
        None => {
            temporary = tempfile::tempdir().map_err(|e| format!("temporary dir: {e}"))?;
            temporary.path().to_path_buf()
        }
    };
    let base = dir.join("base");
    std::fs::create_dir_all(&base).map_err(|e| format!("create {}: {e}", base.display()))?;
    let mut chaos = if options.chaos {
        Some(chaos::Chaos::prepare(&dir)?)
    } else {
        None
    };
    let queue = StressBackend::open(&dir, options.capacity, &site)?;
    let run = supervisor::supervise(&dir, options, (&site, &queue), chaos.as_mut())?;
    let report = verify::verify(&dir, options, &queue, &run, chaos.as_mut())?;
    drop(chaos);
    report.print();
    if report.violations() == 0 {
        Ok(())
    } else {
        Err(format!("stress found {} violation(s)", report.violations()))
    }
}
