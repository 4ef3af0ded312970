// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask stress --processes N --seconds S [--kill]`: many processes
//! submit writes through the [`WriteCoordinator`] on the fs backend while a
//! supervisor (with `--kill`) SIGKILLs random children and restarts them.
//! At the end the supervisor drains the queue and checks the table, the
//! event log and the queue; any violation exits non-zero.
//!
//! What the children write (all appends are single `write` calls on files
//! opened with `O_APPEND`, so a SIGKILL never tears a line):
//! - `table.csv`: one line per applied row,
//!   `key|writer|seq|applier pid|queue id or "direct"`;
//! - `events.log`: `B pid nanos` before and `E pid nanos` after each apply,
//!   which shows whether two processes were ever inside the table at once;
//! - stdout: `ACK writer seq` once `submit` returned `Ok`.
//!
//! [`WriteCoordinator`]: reedbase_concurrent_core::WriteCoordinator

mod child;
mod supervisor;
mod verify;

use std::path::PathBuf;
use std::time::Duration;

/// The table every child writes.
pub(crate) const TABLE: &str = "stress";

/// Options of `cargo xtask stress`.
#[derive(Debug, Clone)]
pub(crate) struct StressOptions {
    pub processes: usize,
    pub duration: Duration,
    pub kill: bool,
    pub capacity: usize,
    pub dir: Option<PathBuf>,
}

fn parse(args: &[String]) -> Result<StressOptions, String> {
    let mut options = StressOptions {
        processes: 4,
        duration: Duration::from_secs(10),
        kill: false,
        capacity: 20,
        dir: None,
    };
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let mut value = || {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--processes" => options.processes = parse_number(flag, &value()?)?,
            "--seconds" => {
                options.duration = Duration::from_secs(parse_number(flag, &value()?)? as u64)
            }
            "--capacity" => options.capacity = parse_number(flag, &value()?)?,
            "--dir" => options.dir = Some(PathBuf::from(value()?)),
            "--kill" => options.kill = true,
            other => return Err(format!("stress: unknown option {other:?}")),
        }
    }
    if options.processes == 0 || options.capacity == 0 {
        return Err("stress: --processes and --capacity must be at least 1".to_string());
    }
    Ok(options)
}

fn parse_number(flag: &str, value: &str) -> Result<usize, String> {
    value
        .parse()
        .map_err(|_| format!("{flag} takes a whole number, got {value:?}"))
}

/// Runs the stress test; `Err` when it could not run or found a violation.
pub fn run(args: &[String]) -> Result<(), String> {
    let options = parse(args)?;
    let temporary;
    let base = match &options.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| format!("create {}: {e}", dir.display()))?;
            dir.clone()
        }
        None => {
            temporary = tempfile::tempdir().map_err(|e| format!("temporary dir: {e}"))?;
            temporary.path().to_path_buf()
        }
    };
    let run = supervisor::supervise(&base, &options)?;
    let report = verify::verify(&base, &options, &run)?;
    report.print();
    if report.violations() == 0 {
        Ok(())
    } else {
        Err(format!("stress found {} violation(s)", report.violations()))
    }
}

/// A stress child: `__stress-child --base B --writer W --capacity C --until NANOS`.
pub fn child(args: &[String]) -> Result<(), String> {
    child::run(args)
}
