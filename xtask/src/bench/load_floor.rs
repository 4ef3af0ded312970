// SPDX-License-Identifier: Apache-2.0
//! The floors of the load groups, written by the same writer children as
//! the backends (this module is part of the writers and shares their
//! state), and the check of what the enqueue floor leaves behind.
//!
//! - `flock` (columns `floor: bare flock`, `floor: durable append`): each
//!   write takes a blocking exclusive `flock` on one lock file, appends
//!   its row to the table file (and `fdatasync`s it when the apply is
//!   durable), and unlocks. No design that takes a file lock per write and
//!   hands it between processes writes faster.
//! - `enqueue` (column `floor: durable enqueue`): each write serialises its one-row write as JSON, creates a temporary
//!   in a directory all writers share, writes and `fdatasync`s it, renames
//!   it into place and fsyncs the directory; then deletes its own previous
//!   entry (without an fsync), so that the directory stays small. No lock,
//!   no table: no design that makes each queued write durable with these
//!   two flushes queues faster.
//! - `enqueue` without a durable queue (column `floor: timeout + enqueue`):
//!   each write first sleeps the lock timeout, then does the same without
//!   the two flushes. A writer that honours its timeout and finds the lock
//!   busy for all of it queues no faster, whatever its queue costs.
//! - `pg-enqueue` (column `pg floor: ordered enqueue`): each writer keeps
//!   one session to the server (TCP, as the pg columns' writers) and sends
//!   each write as one message: `BEGIN`, the table's producers' advisory
//!   transaction lock, one insert of the write's JSON into a table of the
//!   floor's own, `COMMIT` (durable). A pg queue that numbers its entries
//!   in the order they become visible and keeps its capacity exact holds
//!   such a lock across each commit's flush; none queues faster.

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use reedbase_concurrent_core::{PendingWrite, WriteOperation, now_nanos};

use super::super::load_mode::{Counts, Mode};
use super::{Writer, row};
use crate::pg_site::PgSite;

/// The lock file of the `flock` floor, beside the table file.
const FLOCK_FILE: &str = "floor.lock";
/// The directory the `enqueue` floor's writers share.
pub const QUEUE_DIR: &str = "floor-queue";

/// The name of writer `index`'s entry number `sequence`.
fn entry_name(index: usize, sequence: u64) -> String {
    format!("{index}-{sequence}.pending")
}

impl Writer {
    /// The `flock` floor until `end`.
    pub(super) fn like_flock(
        &mut self,
        base: &Path,
        end: u128,
        index: usize,
    ) -> Result<(), String> {
        let path = base.join(FLOCK_FILE);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| format!("opening {}: {e}", path.display()))?;
        while now_nanos() < end {
            let text = row(index, self.counts.submitted).to_csv() + "\n";
            self.counts.submitted += 1;
            let started = Instant::now();
            lock.lock().map_err(|e| format!("flock: {e}"))?;
            let applied = self.apply_text(&text);
            lock.unlock().map_err(|e| format!("unlock: {e}"))?;
            applied.map_err(|e| format!("appending to the table: {e}"))?;
            self.counts.applied_direct += 1;
            self.acknowledged(started);
        }
        Ok(())
    }

    /// The `enqueue` floors until `end`: every write counts as queued; with
    /// a durable queue two flushes, else a sleep of the lock timeout first
    /// and no flush.
    pub(super) fn like_enqueue(
        &mut self,
        base: &Path,
        mode: &Mode,
        end: u128,
        index: usize,
    ) -> Result<(), String> {
        let dir = base.join(QUEUE_DIR);
        let directory = File::open(&dir).map_err(|e| format!("opening {}: {e}", dir.display()))?;
        let mut previous: Option<PathBuf> = None;
        while now_nanos() < end {
            let sequence = self.counts.submitted;
            let write = PendingWrite::new(WriteOperation::Insert, vec![row(index, sequence)]);
            self.counts.submitted += 1;
            let started = Instant::now();
            if !mode.durable_queue {
                std::thread::sleep(mode.timeout);
            }
            let body = serde_json::to_vec(&write).map_err(|e| e.to_string())?;
            let temporary = dir.join(format!(".incoming-{index}-{sequence}.tmp"));
            let mut file = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&temporary)
                .map_err(|e| format!("creating {}: {e}", temporary.display()))?;
            file.write_all(&body)
                .and_then(|()| {
                    if mode.durable_queue {
                        file.sync_data()
                    } else {
                        Ok(())
                    }
                })
                .map_err(|e| format!("writing {}: {e}", temporary.display()))?;
            drop(file);
            let entry = dir.join(entry_name(index, sequence));
            fs::rename(&temporary, &entry).map_err(|e| format!("rename: {e}"))?;
            if mode.durable_queue {
                directory
                    .sync_all()
                    .map_err(|e| format!("fsync of {}: {e}", dir.display()))?;
            }
            self.counts.queued += 1;
            self.acknowledged(started);
            if let Some(previous) = previous.replace(entry) {
                fs::remove_file(&previous)
                    .map_err(|e| format!("removing {}: {e}", previous.display()))?;
            }
        }
        Ok(())
    }
}

/// A session of the `pg-enqueue` floor and the name of its table (made
/// from the site's namespace, one of the bench's run).
pub struct PgFloor {
    client: postgres::Client,
    table: String,
}

impl PgFloor {
    /// Connects to `site`.
    ///
    /// # Errors
    ///
    /// No site, or the client's connection error.
    pub fn connect(site: &PgSite) -> Result<PgFloor, String> {
        let (Some(url), Some(namespace)) = (&site.url, &site.namespace) else {
            return Err("the pg floor needs --pg-url and --pg-namespace".to_string());
        };
        // A namespace of the bench's run is ASCII letters, digits and `_`.
        if !namespace
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(format!("an unexpected namespace {namespace:?}"));
        }
        let client = postgres::Client::connect(url, postgres::NoTls)
            .map_err(|e| format!("pg floor connect: {e}"))?;
        Ok(PgFloor {
            client,
            table: format!("public.\"floor_{namespace}\""),
        })
    }

    /// Makes the floor's table, empty.
    ///
    /// # Errors
    ///
    /// The server's error.
    pub fn create(mut self) -> Result<(), String> {
        let table = &self.table;
        self.client
            .batch_execute(&format!(
                "DROP TABLE IF EXISTS {table}; \
                 CREATE TABLE {table} (seq bigserial PRIMARY KEY, writer int NOT NULL, \
                 n bigint NOT NULL, body bytea NOT NULL)"
            ))
            .map_err(|e| format!("creating the pg floor's table: {e}"))
    }
}

impl Writer {
    /// The `pg-enqueue` floor until `end`: every write counts as queued.
    pub(super) fn like_pg_enqueue(
        &mut self,
        floor: &mut PgFloor,
        end: u128,
        index: usize,
    ) -> Result<(), String> {
        let table = floor.table.clone();
        while now_nanos() < end {
            let sequence = self.counts.submitted;
            let write = PendingWrite::new(WriteOperation::Insert, vec![row(index, sequence)]);
            self.counts.submitted += 1;
            let started = Instant::now();
            let body = serde_json::to_vec(&write).map_err(|e| e.to_string())?;
            let hex: String = body.iter().map(|b| format!("{b:02x}")).collect();
            floor
                .client
                .batch_execute(&format!(
                    "BEGIN; SELECT pg_advisory_xact_lock(hashtext('{table}')); \
                     INSERT INTO {table} (writer, n, body) VALUES ({index}, {sequence}, '\\x{hex}'); \
                     COMMIT"
                ))
                .map_err(|e| format!("pg floor insert: {e}"))?;
            self.counts.queued += 1;
            self.acknowledged(started);
        }
        Ok(())
    }
}

/// Checks what the `pg-enqueue` floor's writers left on the server:
/// exactly one row per acknowledged write of each writer (`per_writer[i]`
/// is writer `i`'s counts), numbered from 0 without a gap, holding that
/// write.
pub fn check_pg_enqueue_floor(site: &PgSite, per_writer: &[Counts]) -> Result<(), String> {
    let mut floor = PgFloor::connect(site)?;
    let table = floor.table.clone();
    let rows = floor
        .client
        .query(
            &format!(
                "SELECT writer, count(*), min(n), max(n), \
                 bool_and(convert_from(body, 'UTF8')::json->'rows'->0->>'key' = 'w' || writer || ':' || n) \
                 FROM {table} GROUP BY writer ORDER BY writer"
            ),
            &[],
        )
        .map_err(|e| format!("reading the pg floor's table: {e}"))?;
    let mut found = Vec::new();
    for row in rows {
        let writer: i32 = row.get(0);
        let (count, min, max): (i64, i64, i64) = (row.get(1), row.get(2), row.get(3));
        let holds: Option<bool> = row.get(4);
        if holds != Some(true) {
            return Err(format!("a row of writer {writer} does not hold its write"));
        }
        found.push((writer, count, min, max));
    }
    let expected: Vec<(i32, i64, i64, i64)> = per_writer
        .iter()
        .enumerate()
        .filter(|(_, counts)| counts.queued > 0)
        .map(|(index, counts)| {
            let queued = i64::try_from(counts.queued).unwrap_or(i64::MAX);
            (
                i32::try_from(index).unwrap_or(i32::MAX),
                queued,
                0,
                queued - 1,
            )
        })
        .collect();
    if found != expected {
        return Err(format!(
            "the pg floor's table holds (writer, rows, first, last) {found:?}, expected {expected:?}"
        ));
    }
    Ok(())
}

/// Drops the `pg-enqueue` floor's table, if it is there: after the check,
/// and after a run that failed before it.
///
/// # Errors
///
/// The server's error.
pub fn drop_pg_enqueue_floor(site: &PgSite) -> Result<(), String> {
    let mut floor = PgFloor::connect(site)?;
    let table = floor.table.clone();
    floor
        .client
        .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
        .map_err(|e| format!("dropping the pg floor's table: {e}"))
}

/// Checks what the `enqueue` floor's writers left: exactly the last entry
/// of each writer that wrote one (`per_writer[i]` is writer `i`'s counts),
/// holding that write, and no temporary.
pub fn check_enqueue_floor(base: &Path, per_writer: &[Counts]) -> Result<(), String> {
    let dir = base.join(QUEUE_DIR);
    let found: BTreeSet<String> = fs::read_dir(&dir)
        .map_err(|e| format!("listing {}: {e}", dir.display()))?
        .map(|entry| entry.map(|e| e.file_name().to_string_lossy().into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| format!("listing {}: {e}", dir.display()))?;
    let mut expected = BTreeSet::new();
    for (index, counts) in per_writer.iter().enumerate() {
        let Some(last) = counts.queued.checked_sub(1) else {
            continue;
        };
        let name = entry_name(index, last);
        let bytes = fs::read(dir.join(&name))
            .map_err(|e| format!("writer {index} acknowledged {name}, which is unreadable: {e}"))?;
        let write: PendingWrite = serde_json::from_slice(&bytes)
            .map_err(|e| format!("writer {index}'s last entry {name} does not parse: {e}"))?;
        let key = format!("w{index}:{last}");
        if write.rows.first().map(|r| r.key.as_str()) != Some(key.as_str()) {
            return Err(format!("{name} does not hold the row {key}"));
        }
        expected.insert(name);
    }
    if found != expected {
        return Err(format!(
            "the enqueue floor's directory holds {found:?}, expected the last entry of each writer {expected:?}"
        ));
    }
    Ok(())
}
