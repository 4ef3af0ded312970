// SPDX-License-Identifier: Apache-2.0
//! The write path: one entry into the queue under the producers' lock.
//!
//! Under [`QueueLock`]: list the directory (count the entries, find the
//! highest sequence number, sweep abandoned temporaries), check the
//! capacity, write the entry to a temporary name, fsync it, rename it to
//! `<id>.pending`, fsync the directory. Every producer of this crate holds
//! the lock from creating its temporary until renaming (or deleting) it, so a
//! temporary seen by a lock holder belongs to a producer that died.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use reedbase_concurrent_core::{ReedError, ReedResult};

use super::entry_id::{
    self, MAX_SEQUENCE, QUEUE_LOCK_FILE, is_temporary, parse_sequence, pending_file_name,
    pending_stem, temporary_file_name,
};
use super::queue_lock::{QueueLock, sync_dir};
use crate::options::{Durability, FsOptions};
use crate::paths::TablePaths;

/// What a producer learns from one listing of the queue directory.
struct Scan {
    pending: usize,
    highest_sequence: Option<u128>,
}

/// Writes `bytes` as a new entry of the table's queue and returns its id.
pub(crate) fn enqueue(
    paths: &TablePaths,
    table_name: &str,
    bytes: &[u8],
    options: &FsOptions,
) -> ReedResult<String> {
    let durable = options.durability == Durability::Durable;
    let _lock = lock_queue(paths, durable)?;
    let scan = scan_and_sweep(&paths.queue_dir)?;
    if scan.pending >= options.capacity {
        return Err(ReedError::QueueFull {
            table: table_name.to_string(),
            size: scan.pending,
        });
    }
    let sequence = match scan.highest_sequence {
        None => 0,
        Some(highest) if highest < MAX_SEQUENCE => highest + 1,
        Some(_) => {
            return Err(ReedError::InvalidQueueFile {
                path: paths.queue_dir.clone(),
                reason: "the queue's sequence numbers are exhausted".to_string(),
            });
        }
    };
    let id = entry_id::sequenced_id(sequence);
    write_entry(&paths.queue_dir, &id, bytes, durable)?;
    Ok(id)
}

/// Takes the producers' lock, creating the queue directory on first use.
fn lock_queue(paths: &TablePaths, durable: bool) -> ReedResult<QueueLock> {
    let lock_path = paths.queue_dir.join(QUEUE_LOCK_FILE);
    match QueueLock::acquire(&lock_path) {
        Ok(lock) => return Ok(lock),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(ReedError::io("lock_queue", &lock_path, &e)),
    }
    fs::create_dir_all(&paths.queue_dir)
        .map_err(|e| ReedError::io("create_queue_dir", &paths.queue_dir, &e))?;
    if durable {
        // Make the new directories' own entries durable, up to the base.
        let mut dir = paths.queue_dir.parent();
        for _ in 0..3 {
            let Some(parent) = dir else { break };
            sync_dir(parent).map_err(|e| ReedError::io("sync_queue_dir", parent, &e))?;
            dir = parent.parent();
        }
    }
    QueueLock::acquire(&lock_path).map_err(|e| ReedError::io("lock_queue", &lock_path, &e))
}

/// Lists the queue directory under the producers' lock: counts the entries,
/// finds the highest sequence number and deletes abandoned temporaries.
fn scan_and_sweep(queue_dir: &Path) -> ReedResult<Scan> {
    let read_dir_error = |e: &io::Error| ReedError::io("read_queue_dir", queue_dir, e);
    let mut scan = Scan {
        pending: 0,
        highest_sequence: None,
    };
    for entry in fs::read_dir(queue_dir).map_err(|e| read_dir_error(&e))? {
        let file_name = entry.map_err(|e| read_dir_error(&e))?.file_name();
        if let Some(stem) = pending_stem(&file_name) {
            scan.pending += 1;
            if let Some(sequence) = stem.to_str().and_then(parse_sequence) {
                scan.highest_sequence = scan.highest_sequence.max(Some(sequence));
            }
        } else if is_temporary(&file_name) {
            let path = queue_dir.join(&file_name);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    return Err(ReedError::io("sweep_temporary", &path, &e));
                }
                _ => {}
            }
        }
    }
    Ok(scan)
}

/// Writes the entry under a temporary name and renames it into place, with
/// the fsyncs when `durable`. On failure nothing is left under the entry's
/// name (a temporary left by a failed delete is swept by the next producer).
fn write_entry(queue_dir: &Path, id: &str, bytes: &[u8], durable: bool) -> ReedResult<()> {
    let temporary = queue_dir.join(temporary_file_name(id));
    let entry = queue_dir.join(pending_file_name(id));
    let written = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temporary)
            .map_err(|e| ReedError::io("write_queue_file", &temporary, &e))?;
        file.write_all(bytes)
            .map_err(|e| ReedError::io("write_queue_file", &temporary, &e))?;
        if durable {
            file.sync_data()
                .map_err(|e| ReedError::io("sync_queue_file", &temporary, &e))?;
        }
        drop(file);
        fs::rename(&temporary, &entry)
            .map_err(|e| ReedError::io("rename_queue_file", &entry, &e))?;
        if durable && let Err(e) = sync_dir(queue_dir) {
            // Not durable, so not acknowledged: take it back so that an error
            // means "not queued" and a retry does not queue it twice.
            let _ = fs::remove_file(&entry);
            return Err(ReedError::io("sync_queue_dir", queue_dir, &e));
        }
        Ok(())
    })();
    if written.is_err() {
        let _ = fs::remove_file(&temporary);
    }
    written
}
