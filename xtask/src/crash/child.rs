// SPDX-License-Identifier: Apache-2.0
//! The two child roles of a crash run: a writer (`crash-writer`), which
//! submits numbered writes and prints each call's outcome, and a restart
//! (`crash-restart`), which runs the start-up recipe on the file system as
//! the power cut left it and prints what a reader then finds.
//!
//! A writer prints, one line per call: `OK seq applied`, `OK seq queued`
//! or `ERR seq message`. A restart prints `SETTLED n`, `REPAIRED n`,
//! `FAIL message` (a table or queue the recipe could not recover or
//! drain), `PENDING n`, `PLAIN line` for every line of `table.csv` as a
//! plain reader reads it, `COMMITTED line` for every committed line, and
//! `MOVED id<TAB>reason<TAB>keys` for every entry moved aside, with the
//! write keys its file still holds.

use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use clap::Args;
use reedbase_concurrent_core::{
    CsvRow, PendingWrite, QueueBackend, SubmitOutcome, WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};
use reedbase_concurrent_table::{TableWriter, recover_all};

use super::TABLE;
use crate::child_process::say;

/// The arguments both roles share.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// The base directory (on the fault-injecting mount)
    #[arg(long)]
    pub base: PathBuf,
    /// Apply in batches
    #[arg(long)]
    pub batch: bool,
    /// The relaxed queue
    #[arg(long)]
    pub relaxed: bool,
}

/// A writer's arguments.
#[derive(Debug, Clone, Args)]
pub struct WriterArgs {
    #[command(flatten)]
    pub common: CommonArgs,
    /// This writer's number, in its keys (`w<writer>-<seq>`)
    #[arg(long)]
    pub writer: u32,
    /// How many writes it submits
    #[arg(long)]
    pub writes: u32,
    /// How many times a write whose call failed is submitted again; with
    /// none, the writer stops at its first failed call (the power is off)
    #[arg(long, default_value_t = 0)]
    pub retries: u32,
}

/// The key of write `seq` of writer `writer`.
pub fn key(writer: u32, seq: u32) -> String {
    format!("w{writer}-{seq}")
}

fn backend(common: &CommonArgs) -> FsBackend {
    let durability = if common.relaxed {
        Durability::Relaxed
    } else {
        Durability::Durable
    };
    let options = FsOptions::new().durability(durability).capacity(1000);
    FsBackend::with_options(&common.base, options)
}

/// Runs a writer.
pub fn write(args: &WriterArgs) -> Result<(), String> {
    let coordinator = WriteCoordinator::new(backend(&args.common));
    let table = TableWriter::new(&args.common.base, TABLE).map_err(|e| e.to_string())?;
    // A short lock timeout, so that writers queue as well as apply.
    let timeout = Duration::from_millis(1);
    for seq in 0..args.writes {
        let row = CsvRow::new(key(args.writer, seq), ["x"]);
        let write = PendingWrite::new(WriteOperation::Insert, vec![row]);
        let mut attempt = 0;
        loop {
            let outcome = if args.common.batch {
                coordinator.submit_batch(TABLE, write.clone(), timeout, |batch| {
                    table.apply_batch(batch)
                })
            } else {
                coordinator.submit(TABLE, write.clone(), timeout, |key, write| {
                    table.apply(key, write)
                })
            };
            match outcome {
                Ok(SubmitOutcome::Applied { .. }) => say(&format!("OK {seq} applied"))?,
                Ok(SubmitOutcome::Queued(_)) => say(&format!("OK {seq} queued"))?,
                Err(error) => {
                    let message = error.to_string().replace('\n', " ");
                    say(&format!("ERR {seq} {message}"))?;
                    // The write may be queued (its id is in the error): a
                    // caller must not submit it again, or it may apply twice.
                    if error.is_outcome_unknown() {
                        break;
                    }
                    if args.retries == 0 {
                        return Ok(());
                    }
                    attempt += 1;
                    if attempt <= args.retries {
                        thread::sleep(Duration::from_millis(2));
                        continue;
                    }
                }
            }
            break;
        }
    }
    Ok(())
}

/// Runs the start-up recipe and prints what a reader finds.
pub fn restart(args: &CommonArgs) -> Result<(), String> {
    let base = &args.base;
    let coordinator = WriteCoordinator::new(backend(args));
    let wait = Duration::from_secs(5);
    let report = recover_all(base, coordinator.backend(), wait).map_err(|e| e.to_string())?;
    say(&format!("SETTLED {}", report.settled))?;
    say(&format!("REPAIRED {}", report.repaired.len()))?;
    for (table, error) in &report.failed {
        say(&format!("FAIL recover_all {table}: {error}"))?;
    }
    let drained = if args.batch {
        coordinator.drain_all_batch(wait, |table, batch| {
            TableWriter::new(base, table)?.apply_batch(batch)
        })
    } else {
        coordinator.drain_all(wait, |table, key, write| {
            TableWriter::new(base, table)?.apply(key, write)
        })
    }
    .map_err(|e| e.to_string())?;
    for error in &drained.failed {
        say(&format!(
            "FAIL drain_all: {}",
            error.to_string().replace('\n', " ")
        ))?;
    }
    let backend = coordinator.backend();
    say(&format!(
        "PENDING {}",
        backend.count_pending(TABLE).map_err(|e| e.to_string())?
    ))?;
    let writer = TableWriter::new(base, TABLE).map_err(|e| e.to_string())?;
    let plain = std::fs::read_to_string(writer.table_path()).unwrap_or_default();
    for line in plain.lines() {
        say(&format!("PLAIN {line}"))?;
    }
    for line in writer.committed_lines().map_err(|e| e.to_string())? {
        say(&format!("COMMITTED {line}"))?;
    }
    for moved in backend.moved_aside(TABLE).map_err(|e| e.to_string())? {
        let keys = keys_in(Path::new(&moved.location));
        let reason = moved.reason.replace(['\t', '\n'], " ");
        say(&format!("MOVED {}\t{reason}\t{}", moved.id, keys.join(",")))?;
    }
    Ok(())
}

/// The write keys (`w<n>-<n>`) in a file, in order.
fn keys_in(path: &Path) -> Vec<String> {
    let text = std::fs::read(path).unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    let mut keys = Vec::new();
    for (at, _) in text.match_indices('w') {
        let digits = |s: &str| s.chars().take_while(char::is_ascii_digit).count();
        let rest = &text[at + 1..];
        let writer = digits(rest);
        if writer == 0 || !rest[writer..].starts_with('-') {
            continue;
        }
        let seq = digits(&rest[writer + 1..]);
        if seq > 0 {
            keys.push(text[at..at + 1 + writer + 1 + seq].to_string());
        }
    }
    keys
}
