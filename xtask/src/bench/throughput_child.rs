// SPDX-License-Identifier: Apache-2.0
//! The writing loop of a throughput child, in the new way (through
//! `WriteCoordinator<FsBackend>`) and in the old module's way, and the
//! parent's final drain.

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use reedbase_concurrent_core::{
    CsvRow, PendingWrite, SubmitOutcome, WriteCoordinator, WriteOperation, now_nanos,
};
use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};
use reedbase_last::concurrent as last;
use reedbase_last::error::ReedError as LastError;

use super::throughput::{Counts, TABLE, TABLE_FILE, TIMEOUT};

/// Writes until the wall clock reaches `end` (nanoseconds), in `mode`
/// (`last`, `fs-durable`, `fs-relaxed`), and returns what it did.
pub fn run_load(mode: &str, base: &Path, end: u128, index: usize) -> Result<Counts, String> {
    let mut table = open_table(base)?;
    let mut counts = match mode {
        "last" => write_like_last(base, &mut table, end, index)?,
        _ => write_through_coordinator(fs_backend(mode, base)?, &mut table, end, index)?,
    };
    counts.ended_at = now_nanos();
    Ok(counts)
}

/// Applies what is left in the queue after a run, as a last lock holder
/// would; returns how many entries.
pub fn drain_rest(mode: &str, base: &Path) -> Result<u64, String> {
    let mut table = open_table(base)?;
    let timeout = std::time::Duration::from_secs(10);
    if mode == "last" {
        let _guard = last::acquire_lock(base, TABLE, timeout)
            .map_err(|e| format!("last acquire_lock: {e}"))?;
        return match drain_last(base, &mut table)? {
            (drained, false) => Ok(drained),
            (_, true) => Err("an entry left in the queue does not parse".to_string()),
        };
    }
    let coordinator = WriteCoordinator::new(fs_backend(mode, base)?);
    let drained = coordinator
        .drain(TABLE, timeout, |_key, write| {
            Ok(append(&mut table, &write.rows)?)
        })
        .map_err(|e| format!("fs drain: {e}"))?;
    Ok(drained as u64)
}

fn fs_backend(mode: &str, base: &Path) -> Result<FsBackend, String> {
    let durability = match mode {
        "fs-durable" => Durability::Durable,
        "fs-relaxed" => Durability::Relaxed,
        other => {
            return Err(format!(
                "unknown write mode {other:?} (last, fs-durable, fs-relaxed)"
            ));
        }
    };
    Ok(FsBackend::with_options(
        base,
        FsOptions::new().durability(durability),
    ))
}

fn open_table(base: &Path) -> Result<File, String> {
    let path = base.join(TABLE_FILE);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))
}

/// Appends rows to the table file, one line each, in one `write`.
fn append(table: &mut File, rows: &[CsvRow]) -> io::Result<()> {
    let mut text = String::new();
    for row in rows {
        text.push_str(&row.to_csv());
        text.push('\n');
    }
    table.write_all(text.as_bytes())
}

/// Appends the old module's rows to the table file.
fn append_last(table: &mut File, rows: &[last::CsvRow]) -> Result<(), String> {
    let mut text = String::new();
    for row in rows {
        text.push_str(&row.to_csv());
        text.push('\n');
    }
    table
        .write_all(text.as_bytes())
        .map_err(|e| format!("appending to the table: {e}"))
}

/// The row of write number `sequence` of child `index`.
fn row(index: usize, sequence: u64) -> (String, Vec<String>) {
    (
        format!("w{index}:{sequence}"),
        vec![
            format!("value {sequence}"),
            "written by the bench".to_string(),
        ],
    )
}

fn write_through_coordinator(
    backend: FsBackend,
    table: &mut File,
    end: u128,
    index: usize,
) -> Result<Counts, String> {
    let coordinator = WriteCoordinator::new(backend);
    let mut counts = Counts::default();
    while now_nanos() < end {
        let (key, values) = row(index, counts.submitted);
        let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, values)]);
        counts.submitted += 1;
        let outcome = coordinator.submit(TABLE, write, TIMEOUT, |_, w| Ok(append(table, &w.rows)?));
        match outcome {
            Ok(SubmitOutcome::Applied { drained }) => {
                counts.applied_direct += 1;
                counts.drained += drained as u64;
            }
            Ok(SubmitOutcome::Queued(_)) => counts.queued += 1,
            Err(error) if error.is_queue_full() => counts.rejected_full += 1,
            Err(error) => return Err(format!("submit: {error}")),
        }
    }
    Ok(counts)
}

fn write_like_last(
    base: &Path,
    table: &mut File,
    end: u128,
    index: usize,
) -> Result<Counts, String> {
    let mut counts = Counts::default();
    while now_nanos() < end {
        let (key, values) = row(index, counts.submitted);
        let write = last::PendingWrite {
            rows: vec![last::CsvRow::new(key, values)],
            timestamp: u64::try_from(now_nanos()).unwrap_or(u64::MAX),
            operation: last::WriteOperation::Insert,
        };
        counts.submitted += 1;
        match last::acquire_lock(base, TABLE, TIMEOUT) {
            Ok(guard) => {
                let (drained, torn) = drain_last(base, table)?;
                counts.drained += drained;
                if torn {
                    // The old write path fails here: the write is neither
                    // applied nor queued, and the caller gets an error.
                    counts.failed_torn_read += 1;
                } else {
                    append_last(table, &write.rows)?;
                    counts.applied_direct += 1;
                }
                drop(guard);
            }
            Err(LastError::LockTimeout { .. }) => match last::queue_write(base, TABLE, write) {
                Ok(_) => counts.queued += 1,
                Err(LastError::QueueFull { .. }) => counts.rejected_full += 1,
                Err(error) => return Err(format!("last queue_write: {error}")),
            },
            Err(error) => return Err(format!("last acquire_lock: {error}")),
        }
    }
    Ok(counts)
}

/// The old pattern's drain, under the lock the caller holds: returns how
/// many entries it applied, and whether it stopped at an entry that did not
/// parse (the old module writes entries in place, so a reader can see one
/// half written, and reports `DeserializationError`).
fn drain_last(base: &Path, table: &mut File) -> Result<(u64, bool), String> {
    let mut drained = 0;
    loop {
        let (id, write) = match last::get_next_pending(base, TABLE) {
            Ok(Some(next)) => next,
            Ok(None) => return Ok((drained, false)),
            Err(LastError::DeserializationError { .. }) => return Ok((drained, true)),
            Err(error) => return Err(format!("last get_next_pending: {error}")),
        };
        append_last(table, &write.rows)?;
        last::remove_from_queue(base, TABLE, &id)
            .map_err(|e| format!("last remove_from_queue: {e}"))?;
        drained += 1;
    }
}
