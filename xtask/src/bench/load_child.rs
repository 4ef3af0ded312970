// SPDX-License-Identifier: Apache-2.0
//! The writers of the `throughput` and `group-commit` groups (child role
//! `write`), one loop per way of writing (the floors' in `load_floor.rs`),
//! and the parent's final drain.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use clap::Args;
use reedbase_concurrent_core::{
    Backend, BatchItem, CsvRow, PendingWrite, SubmitOutcome, WriteCoordinator, WriteOperation,
    now_nanos,
};
use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};
use reedbase_concurrent_pg::{Durability as PgDurability, PgBackend, PgOptions};
use reedbase_last::concurrent as last;
use reedbase_last::error::ReedError as LastError;

use super::load_mode::{Counts, Mode};
use super::sqlite::SqliteTable;
use crate::child_process::say;
use crate::pg_site::PgSite;

#[path = "load_floor.rs"]
mod floor;
pub use floor::{check_enqueue_floor, check_pg_enqueue_floor, drop_pg_enqueue_floor};

/// The table the writers write.
const TABLE: &str = "load";
/// The file the writers append rows to.
pub const TABLE_FILE: &str = "table.csv";

/// Child role `write`: writes from `start` (wall-clock nanoseconds) for
/// `millis`, then says `counts <json>`.
#[derive(Debug, Args)]
pub struct WriteArgs {
    /// The column label of the mode.
    mode: String,
    /// The base directory.
    base: PathBuf,
    /// When to start, nanoseconds since the Unix epoch.
    start: u128,
    /// How long to write.
    millis: u64,
    /// The writer's number, in its rows' keys.
    index: usize,
    /// Apply durably (the group-commit group).
    #[arg(long)]
    pub durable_apply: bool,
    /// Where the pg backend is (pg modes only).
    #[command(flatten)]
    pub pg: PgSite,
}

/// Runs role `write`.
pub fn write(args: &WriteArgs) -> Result<(), String> {
    let mode = Mode::parse(&args.mode, args.durable_apply)?;
    // Connected before the start, like the files opened below.
    let pg = match mode.backend {
        "pg" => Some(pg_backend(&mode, &args.pg)?),
        _ => None,
    };
    let mut pg_floor = match mode.backend {
        "pg-enqueue" => Some(floor::PgFloor::connect(&args.pg)?),
        _ => None,
    };
    let now = now_nanos();
    if args.start > now {
        std::thread::sleep(Duration::from_nanos((args.start - now) as u64));
    }
    let end = args.start + u128::from(args.millis) * 1_000_000;
    let mut writer = Writer {
        table: open_table(&args.base)?,
        durable: mode.durable_apply,
        counts: Counts::default(),
    };
    match (mode.backend, pg) {
        ("last", _) => writer.like_last(&args.base, &mode, end, args.index)?,
        ("sqlite", _) => writer.like_sqlite(&args.base, &mode, end, args.index)?,
        ("flock", _) => writer.like_flock(&args.base, end, args.index)?,
        ("enqueue", _) => writer.like_enqueue(&args.base, &mode, end, args.index)?,
        ("pg-enqueue", _) => match pg_floor.as_mut() {
            Some(floor) => writer.like_pg_enqueue(floor, end, args.index)?,
            None => return Err("the pg floor has no connection".to_string()),
        },
        (_, Some(pg)) => writer.through_coordinator(pg, &mode, end, args.index)?,
        _ => writer.through_coordinator(fs_backend(&mode, &args.base), &mode, end, args.index)?,
    }
    writer.counts.ended_at = now_nanos();
    let json = serde_json::to_string(&writer.counts).map_err(|e| e.to_string())?;
    say(&format!("counts {json}"))
}

/// Creates what the writers share before they start (SQLite's database,
/// switched to WAL while nobody else has it open; the enqueue floor's
/// directory; the pg floor's table).
pub fn prepare(mode: &Mode, base: &Path, site: &PgSite) -> Result<(), String> {
    match mode.backend {
        "pg-enqueue" => floor::PgFloor::connect(site)?.create(),
        "sqlite" => SqliteTable::open(base, TABLE, mode.durable_queue, 100).map(drop),
        "enqueue" => {
            let dir = base.join(floor::QUEUE_DIR);
            fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
}

/// Applies what is left in the queue after a run, as a last lock holder
/// would; returns how many entries.
pub fn drain_rest(mode: &Mode, base: &Path, site: &PgSite) -> Result<u64, String> {
    let mut writer = Writer {
        table: open_table(base)?,
        durable: false,
        counts: Counts::default(),
    };
    let timeout = Duration::from_secs(10);
    match mode.backend {
        "last" => {
            let _guard = last::acquire_lock(base, TABLE, timeout)
                .map_err(|e| format!("last acquire_lock: {e}"))?;
            if writer.drain_last(base)? {
                return Err("an entry left in the queue does not parse".to_string());
            }
        }
        "sqlite" => {
            let database = SqliteTable::open(base, TABLE, true, 100)?;
            if !database.lock(timeout)? {
                return Err("the SQLite lock stayed busy".to_string());
            }
            writer.drain_sqlite(&database)?;
            database.unlock()?;
        }
        "pg" => writer.drain_through(pg_backend(mode, site)?, timeout)?,
        "fs" => writer.drain_through(fs_backend(mode, base), timeout)?,
        // The floors queue nothing a lock holder would apply.
        _ => {}
    }
    Ok(writer.counts.drained)
}

fn pg_backend(mode: &Mode, site: &PgSite) -> Result<PgBackend, String> {
    let durability = if mode.durable_queue {
        PgDurability::Durable
    } else {
        PgDurability::Relaxed
    };
    site.connect(PgOptions::new().durability(durability))
}

fn fs_backend(mode: &Mode, base: &Path) -> FsBackend {
    let durability = if mode.durable_queue {
        Durability::Durable
    } else {
        Durability::Relaxed
    };
    FsBackend::with_options(base, FsOptions::new().durability(durability))
}

fn open_table(base: &Path) -> Result<File, String> {
    let path = base.join(TABLE_FILE);
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .map_err(|e| format!("opening {}: {e}", path.display()))
}

/// The row of write number `sequence` of writer `index`.
fn row(index: usize, sequence: u64) -> CsvRow {
    CsvRow::new(
        format!("w{index}:{sequence}"),
        vec![
            format!("value {sequence}"),
            "written by the bench".to_string(),
        ],
    )
}

/// One writer: its table file, whether applies fsync it, and its counts.
struct Writer {
    table: File,
    durable: bool,
    counts: Counts,
}

impl Writer {
    /// Appends rows to the table file in one `write`, and fsyncs it when
    /// the apply is durable.
    fn apply_text(&mut self, text: &str) -> io::Result<()> {
        self.table.write_all(text.as_bytes())?;
        if self.durable {
            self.table.sync_data()?;
        }
        Ok(())
    }

    /// Appends a batch's rows in one `write` (and one fsync when durable).
    fn apply_batch(&mut self, batch: &[BatchItem<'_>]) -> io::Result<()> {
        let text: String = batch
            .iter()
            .flat_map(|item| item.write.rows.iter())
            .map(|r| r.to_csv() + "\n")
            .collect();
        self.apply_text(&text)
    }

    fn apply(&mut self, rows: &[CsvRow]) -> io::Result<()> {
        let text: String = rows.iter().map(|r| r.to_csv() + "\n").collect();
        self.apply_text(&text)
    }

    fn acknowledged(&mut self, started: Instant) {
        let nanos = started.elapsed().as_nanos();
        self.counts
            .latencies
            .push(u64::try_from(nanos).unwrap_or(u64::MAX));
    }

    /// Drains the queue through a coordinator on `backend`.
    fn drain_through<B: Backend>(&mut self, backend: B, timeout: Duration) -> Result<(), String> {
        let coordinator = WriteCoordinator::new(backend);
        let drained = coordinator
            .drain(TABLE, timeout, |_, w| Ok(self.apply(&w.rows)?))
            .map_err(|e| format!("drain: {e}"))?;
        self.counts.drained = drained as u64;
        Ok(())
    }

    fn through_coordinator<B: Backend>(
        &mut self,
        backend: B,
        mode: &Mode,
        end: u128,
        index: usize,
    ) -> Result<(), String> {
        let coordinator = WriteCoordinator::new(backend);
        while now_nanos() < end {
            let write = PendingWrite::new(
                WriteOperation::Insert,
                vec![row(index, self.counts.submitted)],
            );
            self.counts.submitted += 1;
            let started = Instant::now();
            if mode.grouped {
                self.grouped(&coordinator, write, mode.timeout)?;
                self.acknowledged(started);
                continue;
            }
            let outcome = if mode.batch {
                coordinator.submit_batch(TABLE, write, mode.timeout, |batch: &[BatchItem<'_>]| {
                    Ok(self.apply_batch(batch)?)
                })
            } else {
                coordinator.submit(TABLE, write, mode.timeout, |_, w| Ok(self.apply(&w.rows)?))
            };
            match outcome {
                Ok(SubmitOutcome::Applied { drained }) => {
                    self.counts.applied_direct += 1;
                    self.counts.drained += drained as u64;
                    self.acknowledged(started);
                }
                Ok(SubmitOutcome::Queued(_)) => {
                    self.counts.queued += 1;
                    self.acknowledged(started);
                }
                Err(error) if error.is_queue_full() || error.is_queue_busy() => {
                    self.counts.rejected += 1
                }
                Err(error) => return Err(format!("submit: {error}")),
            }
        }
        Ok(())
    }

    /// One write through `submit_grouped`: queued, and acknowledged once
    /// applied (or still queued at `timeout`); every write goes through the
    /// queue, so each acknowledgement counts as queued.
    fn grouped<B: Backend>(
        &mut self,
        coordinator: &WriteCoordinator<B>,
        write: PendingWrite,
        timeout: Duration,
    ) -> Result<(), String> {
        let outcome = coordinator
            .submit_grouped(TABLE, write, timeout, |batch: &[BatchItem<'_>]| {
                Ok(self.apply_batch(batch)?)
            })
            .map_err(|error| format!("submit_grouped: {error}"))?;
        self.counts.queued += 1;
        match outcome {
            SubmitOutcome::Applied { drained } => self.counts.drained += drained as u64,
            SubmitOutcome::Queued(_) => self.counts.unapplied += 1,
        }
        Ok(())
    }

    fn like_last(
        &mut self,
        base: &Path,
        mode: &Mode,
        end: u128,
        index: usize,
    ) -> Result<(), String> {
        while now_nanos() < end {
            let row = row(index, self.counts.submitted);
            let write = last::PendingWrite {
                rows: vec![last::CsvRow::new(row.key, row.values)],
                timestamp: u64::try_from(now_nanos()).unwrap_or(u64::MAX),
                operation: last::WriteOperation::Insert,
            };
            self.counts.submitted += 1;
            let started = Instant::now();
            match last::acquire_lock(base, TABLE, mode.timeout) {
                Ok(guard) => {
                    if self.drain_last(base)? {
                        // The old write path fails here: the write is
                        // neither applied nor queued.
                        self.counts.failed += 1;
                    } else {
                        let text = write.rows[0].to_csv() + "\n";
                        self.apply_text(&text).map_err(|e| e.to_string())?;
                        self.counts.applied_direct += 1;
                        self.acknowledged(started);
                    }
                    drop(guard);
                }
                Err(LastError::LockTimeout { .. }) => match last::queue_write(base, TABLE, write) {
                    Ok(_) => {
                        self.counts.queued += 1;
                        self.acknowledged(started);
                    }
                    Err(LastError::QueueFull { .. }) => self.counts.rejected += 1,
                    Err(error) => return Err(format!("last queue_write: {error}")),
                },
                Err(error) => return Err(format!("last acquire_lock: {error}")),
            }
        }
        Ok(())
    }

    /// The old pattern's drain under the caller's lock; `true` when it
    /// stopped at an entry that does not parse (the old module writes
    /// entries in place, so a reader can see one half written).
    fn drain_last(&mut self, base: &Path) -> Result<bool, String> {
        loop {
            let (id, write) = match last::get_next_pending(base, TABLE) {
                Ok(Some(next)) => next,
                Ok(None) => return Ok(false),
                Err(LastError::DeserializationError { .. }) => return Ok(true),
                Err(error) => return Err(format!("last get_next_pending: {error}")),
            };
            let text: String = write.rows.iter().map(|r| r.to_csv() + "\n").collect();
            self.apply_text(&text).map_err(|e| e.to_string())?;
            last::remove_from_queue(base, TABLE, &id)
                .map_err(|e| format!("last remove_from_queue: {e}"))?;
            self.counts.drained += 1;
        }
    }

    fn like_sqlite(
        &mut self,
        base: &Path,
        mode: &Mode,
        end: u128,
        index: usize,
    ) -> Result<(), String> {
        let database = SqliteTable::open(base, TABLE, mode.durable_queue, 100)?;
        while now_nanos() < end {
            let write = PendingWrite::new(
                WriteOperation::Insert,
                vec![row(index, self.counts.submitted)],
            );
            self.counts.submitted += 1;
            let started = Instant::now();
            if database.lock(mode.timeout)? {
                if mode.batch {
                    self.drain_sqlite_batch(&database, &write.rows)?;
                } else {
                    self.drain_sqlite(&database)?;
                    self.apply(&write.rows).map_err(|e| e.to_string())?;
                }
                database.unlock()?;
                self.counts.applied_direct += 1;
                self.acknowledged(started);
                continue;
            }
            let body = serde_json::to_vec(&write).map_err(|e| e.to_string())?;
            match database.queue_write(&body, mode.timeout)? {
                Some(_) => {
                    self.counts.queued += 1;
                    self.acknowledged(started);
                }
                None => self.counts.rejected += 1,
            }
        }
        Ok(())
    }

    /// Applies and deletes every queued entry, inside the caller's
    /// transaction (which holds the lock).
    fn drain_sqlite(&mut self, database: &SqliteTable) -> Result<(), String> {
        for (id, body) in database.next_batch(usize::MAX)? {
            let write: PendingWrite =
                serde_json::from_slice(&body).map_err(|e| format!("sqlite entry {id}: {e}"))?;
            self.apply(&write.rows).map_err(|e| e.to_string())?;
            database.remove(id)?;
            self.counts.drained += 1;
        }
        Ok(())
    }

    /// SQLite's group commit: every queued entry and `own` applied with one
    /// append (one fsync when durable), the entries deleted in the caller's
    /// transaction, which commits them together.
    fn drain_sqlite_batch(&mut self, database: &SqliteTable, own: &[CsvRow]) -> Result<(), String> {
        let mut text = String::new();
        for (id, body) in database.next_batch(usize::MAX)? {
            let write: PendingWrite =
                serde_json::from_slice(&body).map_err(|e| format!("sqlite entry {id}: {e}"))?;
            text.extend(write.rows.iter().map(|r| r.to_csv() + "\n"));
            database.remove(id)?;
            self.counts.drained += 1;
        }
        text.extend(own.iter().map(|r| r.to_csv() + "\n"));
        self.apply_text(&text).map_err(|e| e.to_string())
    }
}
