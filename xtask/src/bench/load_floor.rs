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

use std::collections::BTreeSet;
use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use reedbase_concurrent_core::{PendingWrite, WriteOperation, now_nanos};

use super::super::load_mode::{Counts, Mode};
use super::{Writer, row};

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
