// SPDX-License-Identifier: Apache-2.0
//! A stress writer (child role `stress-writer`): submits numbered writes
//! through the coordinator until a deadline, printing `ACK writer seq` for
//! each one `submit` accepted; and the table writer every process applies
//! with.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use clap::Args;
use reedbase_concurrent_core::{
    ApplyKey, Backend, BatchItem, CsvRow, PendingWrite, WriteCoordinator, WriteOperation, now_nanos,
};

use super::TABLE;
use super::backend::{StressBackend, with_backend};
use crate::child_process::say;
use crate::pg_site::PgSite;

/// The table file, outside the base.
pub fn table_path(dir: &Path) -> PathBuf {
    dir.join("table.csv")
}

/// The event log, outside the base.
pub fn events_path(dir: &Path) -> PathBuf {
    dir.join("events.log")
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    // One write call on an O_APPEND file: a SIGKILL cannot tear it.
    file.write_all(text.as_bytes())
}

/// The table writer every process uses: marks the event log, appends the
/// rows with the applier's pid and each write's key, fsyncs the table (as
/// a real table writer would, which also keeps the lock for a realistic
/// time), marks the log again. One call for a whole batch.
pub fn apply(dir: &Path, batch: &[BatchItem<'_>]) -> std::io::Result<()> {
    let pid = std::process::id();
    append(&events_path(dir), &format!("B {pid} {}\n", now_nanos()))?;
    let mut lines = String::new();
    for item in batch {
        let id = item.key.queue_id().unwrap_or("direct");
        for row in &item.write.rows {
            lines.push_str(&format!(
                "{}|{}|{pid}|{id}\n",
                row.key,
                row.values.join("|")
            ));
        }
    }
    let mut table = OpenOptions::new()
        .create(true)
        .append(true)
        .open(table_path(dir))?;
    table.write_all(lines.as_bytes())?;
    table.sync_data()?;
    append(&events_path(dir), &format!("E {pid} {}\n", now_nanos()))
}

/// [`apply`] for one write.
pub fn apply_one(dir: &Path, key: ApplyKey<'_>, write: &PendingWrite) -> std::io::Result<()> {
    apply(dir, &[BatchItem { key, write }])
}

/// The arguments of role `stress-writer`.
#[derive(Debug, Args)]
pub struct WriterArgs {
    /// The run's directory (the base is its `base/`).
    #[arg(long)]
    dir: PathBuf,
    /// The writer's number.
    #[arg(long)]
    writer: u64,
    /// The queue's capacity.
    #[arg(long)]
    capacity: u64,
    /// When to stop, wall-clock nanoseconds.
    #[arg(long)]
    until: u128,
    /// Apply in batches.
    #[arg(long)]
    batch: bool,
    /// Write through `submit_grouped` (every write queued, acknowledged
    /// once applied).
    #[arg(long)]
    grouped: bool,
    /// Retry a write after any failure (the base is under attack).
    #[arg(long)]
    chaos: bool,
    /// The pg backend to write through (none: fs on the base).
    #[command(flatten)]
    pg: PgSite,
}

/// Runs role `stress-writer`.
pub fn run(args: &WriterArgs) -> Result<(), String> {
    with_backend!(StressBackend::open(&args.dir, args.capacity, &args.pg)?, backend => {
        write_until(WriteCoordinator::new(backend), args)
    })
}

/// Submits numbered writes through `coordinator` until the deadline.
fn write_until<B: Backend>(
    coordinator: WriteCoordinator<B>,
    args: &WriterArgs,
) -> Result<(), String> {
    let dir = args.dir.as_path();
    let mut seq: u64 = 0;
    'writes: while now_nanos() < args.until {
        let row = CsvRow::new(
            format!("w{}-{seq}", args.writer),
            vec![args.writer.to_string(), seq.to_string()],
        );
        let mut write = PendingWrite::new(WriteOperation::Insert, vec![row]);
        // Vary the timeout so that both paths (lock and queue) are taken.
        let timeout = Duration::from_millis(seq % 3);
        loop {
            let outcome = if args.grouped {
                coordinator.submit_grouped(TABLE, write, timeout, |batch| Ok(apply(dir, batch)?))
            } else if args.batch {
                coordinator.submit_batch(TABLE, write, timeout, |batch| Ok(apply(dir, batch)?))
            } else {
                coordinator.submit(TABLE, write, timeout, |key, w| Ok(apply_one(dir, key, w)?))
            };
            match outcome {
                Ok(_) => break,
                // Queued, then stopped (the base under attack): not handed
                // back, so not written again, and not acknowledged either.
                Err(error) if error.queued_as().is_some() => {
                    seq += 1;
                    continue 'writes;
                }
                Err(error) if error.is_queue_full() || error.is_queue_busy() || args.chaos => {
                    write = error.into_write().ok_or("a refused write is handed back")?;
                    if now_nanos() >= args.until {
                        return Ok(());
                    }
                    thread::sleep(Duration::from_millis(1));
                }
                Err(error) => {
                    return Err(format!("writer {}: submit failed: {error}", args.writer));
                }
            }
        }
        say(&format!("ACK {} {seq}", args.writer))?;
        seq += 1;
    }
    Ok(())
}
