// SPDX-License-Identifier: Apache-2.0
//! Helpers shared by the queue module's unit tests.

use std::fs;
use std::path::{Path, PathBuf};

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use serde::{Deserialize, Serialize};

use crate::options::{Durability, FsOptions};

/// The old module's `PendingWrite`, with its `u64` timestamp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LegacyPendingWrite {
    pub(crate) rows: Vec<LegacyCsvRow>,
    pub(crate) timestamp: u64,
    pub(crate) operation: WriteOperation,
}

/// The old module's `CsvRow`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LegacyCsvRow {
    pub(crate) key: String,
    pub(crate) values: Vec<String>,
}

impl LegacyPendingWrite {
    pub(crate) fn to_core(&self) -> PendingWrite {
        PendingWrite {
            rows: self
                .rows
                .iter()
                .map(|r| CsvRow {
                    key: r.key.clone(),
                    values: r.values.clone(),
                })
                .collect(),
            timestamp: u128::from(self.timestamp),
            operation: self.operation,
        }
    }
}

/// A write of `rows` rows whose keys start with `tag`, with a fixed
/// timestamp so that two calls give equal writes.
pub(crate) fn sample_write(tag: &str, rows: usize) -> PendingWrite {
    PendingWrite {
        rows: (0..rows)
            .map(|n| {
                CsvRow::new(
                    format!("{tag}:{n}"),
                    vec![format!("value {n}"), "x".to_string()],
                )
            })
            .collect(),
        timestamp: 1_750_000_000_000_000_000,
        operation: WriteOperation::Insert,
    }
}

/// An old-module entry, as the old module wrote it.
pub(crate) fn legacy_write(tag: &str) -> LegacyPendingWrite {
    LegacyPendingWrite {
        rows: vec![LegacyCsvRow {
            key: format!("{tag}:0"),
            values: vec!["old".to_string()],
        }],
        timestamp: 1_700_000_000_123_456_789,
        operation: WriteOperation::Update,
    }
}

/// Writes an old-module entry in place with `fs::write`, as the old module
/// does, under the given id, and returns its path.
pub(crate) fn write_legacy_entry(
    queue_dir: &Path,
    id: &str,
    write: &LegacyPendingWrite,
) -> PathBuf {
    fs::create_dir_all(queue_dir).unwrap();
    let path = queue_dir.join(format!("{id}.pending"));
    fs::write(&path, serde_json::to_string(write).unwrap()).unwrap();
    path
}

/// The names of the files directly in `dir`, sorted (empty if it is missing).
pub(crate) fn file_names(dir: &Path) -> Vec<String> {
    let Ok(listing) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = listing
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// Relaxed options, for tests that do not test durability.
pub(crate) fn relaxed() -> FsOptions {
    FsOptions::new().durability(Durability::Relaxed)
}

/// `<base>/tables/<table>/queue`
pub(crate) fn queue_dir(base: &Path, table: &str) -> PathBuf {
    base.join("tables").join(table).join("queue")
}

/// Pops every entry (get + remove) and returns them in order.
pub(crate) fn drain(base: &Path, table: &str) -> Vec<(String, PendingWrite)> {
    let mut out = Vec::new();
    while let Some((id, write)) = crate::queue::get_next_pending(base, table).unwrap() {
        crate::queue::remove_from_queue(base, table, &id).unwrap();
        out.push((id, write));
        assert!(out.len() <= 100_000, "drain does not end");
    }
    out
}

/// A table `t` under a new temporary directory, its queue directory made
/// and opened.
pub(crate) fn queue_table() -> (tempfile::TempDir, crate::tables_dir::TablePaths, fs::File) {
    let dir = tempfile::tempdir().unwrap();
    let paths = crate::tables_dir::TablePaths::new(dir.path(), "t").unwrap();
    fs::create_dir_all(&paths.queue_dir).unwrap();
    let queue = fs::File::open(&paths.queue_dir).unwrap();
    (dir, paths, queue)
}
