// SPDX-License-Identifier: Apache-2.0
//! The queues under test, behind one small interface: the old module's free
//! functions, the fs backend in each of its modes, and the mem backend.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{PendingWrite, QueueBackend};
use reedbase_concurrent_fs::{Codec, Durability, FsBackend, FsOptions};
use reedbase_concurrent_mem::MemBackend;
use reedbase_last::concurrent as last;

use super::{data, disk};

/// Capacity of the new backends' queues in the benches, far above what
/// any measurement fills.
const CAPACITY: usize = 1_000;

/// The same write in both the new and the old type.
pub struct Payload {
    /// For the new backends.
    pub core: PendingWrite,
    /// For the old module.
    pub last: last::PendingWrite,
}

impl Payload {
    /// A write of `rows` rows.
    pub fn rows(rows: usize) -> Payload {
        Payload {
            core: data::core_write(rows),
            last: data::last_write(rows),
        }
    }
}

/// One queue implementation.
pub enum QueueSubject {
    /// The old module's free functions on this base directory.
    Last(PathBuf),
    /// The fs backend with its options.
    Fs(FsBackend),
    /// The in-memory backend.
    Mem(MemBackend),
    /// No queue: a bare file write in this directory, for reference (see
    /// [`disk`]).
    Bare {
        /// Where the file is written.
        dir: PathBuf,
        /// With the fsyncs of the durable mode.
        durable: bool,
    },
}

impl QueueSubject {
    /// The fs backend on `base` in the given mode.
    pub fn fs(base: PathBuf, durability: Durability, codec: Codec) -> QueueSubject {
        let options = FsOptions::new()
            .durability(durability)
            .codec(codec)
            .capacity(CAPACITY);
        QueueSubject::Fs(FsBackend::with_options(base, options))
    }

    /// The mem backend.
    pub fn mem() -> QueueSubject {
        QueueSubject::Mem(MemBackend::with_capacity(CAPACITY))
    }

    /// Queues `payload`, timing only the `queue_write` call (the old
    /// module takes the write by value, so its copy is made before the
    /// clock starts); returns the time and the id.
    pub fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String> {
        match self {
            QueueSubject::Last(base) => {
                let write = payload.last.clone();
                let start = Instant::now();
                let id = last::queue_write(base, table, write)
                    .map_err(|e| format!("last queue_write: {e}"))?;
                Ok((start.elapsed(), id))
            }
            QueueSubject::Fs(backend) => timed_write(backend, table, &payload.core, "fs"),
            QueueSubject::Mem(backend) => timed_write(backend, table, &payload.core, "mem"),
            QueueSubject::Bare { dir, durable } => {
                let bytes = serde_json::to_vec(&payload.core).map_err(|e| e.to_string())?;
                fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
                let start = Instant::now();
                disk::write_entry(dir, &bytes, *durable)?;
                Ok((start.elapsed(), disk::ENTRY.to_string()))
            }
        }
    }

    /// The id of the oldest pending entry, if any (`get_next_pending`).
    pub fn next_id(&self, table: &str) -> Result<Option<String>, String> {
        match self {
            QueueSubject::Last(base) => last::get_next_pending(base, table)
                .map(|next| next.map(|(id, _)| id))
                .map_err(|e| format!("last get_next_pending: {e}")),
            QueueSubject::Fs(backend) => next_id_of(backend, table, "fs"),
            QueueSubject::Mem(backend) => next_id_of(backend, table, "mem"),
            QueueSubject::Bare { .. } => Err("a bare file write has no queue".to_string()),
        }
    }

    /// Removes the entry `id` (`remove_from_queue`).
    pub fn remove(&self, table: &str, id: &str) -> Result<(), String> {
        match self {
            QueueSubject::Last(base) => last::remove_from_queue(base, table, id)
                .map_err(|e| format!("last remove_from_queue: {e}")),
            QueueSubject::Fs(backend) => backend
                .remove_from_queue(table, id)
                .map_err(|e| format!("fs remove_from_queue: {e}")),
            QueueSubject::Mem(backend) => backend
                .remove_from_queue(table, id)
                .map_err(|e| format!("mem remove_from_queue: {e}")),
            QueueSubject::Bare { dir, .. } => {
                fs::remove_file(dir.join(id)).map_err(|e| format!("removing the bare entry: {e}"))
            }
        }
    }

    /// The number of pending entries (`count_pending`).
    pub fn count(&self, table: &str) -> Result<usize, String> {
        match self {
            QueueSubject::Last(base) => {
                last::count_pending(base, table).map_err(|e| format!("last count_pending: {e}"))
            }
            QueueSubject::Fs(backend) => backend
                .count_pending(table)
                .map_err(|e| format!("fs count_pending: {e}")),
            QueueSubject::Mem(backend) => backend
                .count_pending(table)
                .map_err(|e| format!("mem count_pending: {e}")),
            QueueSubject::Bare { .. } => Ok(0),
        }
    }

    /// Queues `count` copies of `payload`, untimed.
    pub fn fill(&self, table: &str, payload: &Payload, count: usize) -> Result<(), String> {
        for _ in 0..count {
            self.queue_write_timed(table, payload)?;
        }
        Ok(())
    }
}

/// The base directory of a subject named `label` under `dir`.
pub fn base_for(dir: &Path, label: &str) -> PathBuf {
    dir.join(label.replace(' ', "-"))
}

fn timed_write<B: QueueBackend>(
    backend: &B,
    table: &str,
    write: &PendingWrite,
    name: &str,
) -> Result<(Duration, String), String> {
    let start = Instant::now();
    let id = backend
        .queue_write(table, write)
        .map_err(|e| format!("{name} queue_write: {e}"))?;
    Ok((start.elapsed(), id))
}

fn next_id_of<B: QueueBackend>(
    backend: &B,
    table: &str,
    name: &str,
) -> Result<Option<String>, String> {
    backend
        .get_next_pending(table)
        .map(|next| next.map(|(id, _)| id))
        .map_err(|e| format!("{name} get_next_pending: {e}"))
}
