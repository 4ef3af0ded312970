// SPDX-License-Identifier: Apache-2.0
//! The old module's write queue: one JSON file per pending write,
//! `<base>/tables/<table_name>/queue/<uuid>.pending`, taken oldest first by
//! file creation time.
//!
//! Reproduced flaws: the capacity check counts the files, then writes, not
//! atomically (concurrent producers overshoot 100); entries are written in
//! place with `fs::write` (no temporary file, no fsync), so a reader can see
//! a partial entry; order is the file system's creation time, read inside
//! the sort comparator, which is no enqueue order and is missing on some
//! file systems; a corrupt entry stays first and blocks every later read;
//! table names and ids are joined unchecked, so `..` and absolute paths
//! escape the base directory.

use std::cmp::Ordering;
use std::fs::{self, DirEntry};
use std::path::{Path, PathBuf};

use uuid::Uuid;

use crate::concurrent::types::PendingWrite;
use crate::error::{ReedError, ReedResult};

/// The number of pending files at which [`queue_write`] refuses a write.
pub(crate) const MAX_QUEUE_SIZE: usize = 100;

/// The queue directory of a table: `<base>/tables/<table_name>/queue`.
fn queue_dir(base_path: &Path, table_name: &str) -> PathBuf {
    base_path.join("tables").join(table_name).join("queue")
}

/// True for a path whose extension is `pending`.
fn is_pending_file(path: &Path) -> bool {
    path.extension().and_then(|ext| ext.to_str()) == Some("pending")
}

/// Orders two queue entries by creation time; an entry whose creation time
/// cannot be read sorts first. Reads both entries' metadata on every call,
/// through `DirEntry::metadata`, which does not follow a symbolic link: a
/// link sorts by its own creation time, not its target's.
fn compare_created(a: &DirEntry, b: &DirEntry) -> Ordering {
    let created_a = a.metadata().and_then(|m| m.created()).ok();
    let created_b = b.metadata().and_then(|m| m.created()).ok();
    created_a.cmp(&created_b)
}

/// Queues a write for `table_name` and returns its id (a lower-case,
/// hyphenated UUID v4).
///
/// # Errors
///
/// - `IoError` `create_queue_dir`, `count_queue_dir` or `write_queue_file`;
/// - `QueueFull` when 100 or more `.pending` files were counted;
/// - `SerializationError` when the write cannot be serialised.
///
/// # Examples
///
/// ```
/// use reedbase_last::concurrent::{count_pending, queue_write, CsvRow, PendingWrite, WriteOperation};
///
/// let dir = tempfile::tempdir()?;
/// let write = PendingWrite {
///     rows: vec![CsvRow::new("k", vec!["v"])],
///     timestamp: 1,
///     operation: WriteOperation::Insert,
/// };
/// let id = queue_write(dir.path(), "users", write)?;
/// assert_eq!(id.len(), 36);
/// assert_eq!(count_pending(dir.path(), "users")?, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn queue_write(
    base_path: &Path,
    table_name: &str,
    operation: PendingWrite,
) -> ReedResult<String> {
    let dir = queue_dir(base_path, table_name);
    fs::create_dir_all(&dir).map_err(|e| ReedError::IoError {
        operation: "create_queue_dir".to_string(),
        reason: e.to_string(),
    })?;

    let count = count_pending(base_path, table_name)?;
    if count >= MAX_QUEUE_SIZE {
        return Err(ReedError::QueueFull {
            table: table_name.to_string(),
            size: count,
        });
    }

    let queue_id = Uuid::new_v4().to_string();
    let json = serde_json::to_string(&operation).map_err(|e| ReedError::SerializationError {
        reason: format!("Failed to serialise write: {e}"),
    })?;
    fs::write(dir.join(format!("{queue_id}.pending")), json).map_err(|e| ReedError::IoError {
        operation: "write_queue_file".to_string(),
        reason: e.to_string(),
    })?;
    Ok(queue_id)
}

/// The oldest pending write of `table_name` by file creation time, with its
/// id, without removing it; `None` when there is none.
///
/// # Errors
///
/// - `IoError` `read_queue_dir` or `read_queue_file`;
/// - `InvalidQueueFile` when the oldest file's name is not valid UTF-8;
/// - `DeserializationError` when the oldest file does not parse, which
///   stays so on every later call, because the file stays first.
///
/// # Examples
///
/// ```
/// use reedbase_last::concurrent::get_next_pending;
///
/// let dir = tempfile::tempdir()?;
/// assert!(get_next_pending(dir.path(), "users")?.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn get_next_pending(
    base_path: &Path,
    table_name: &str,
) -> ReedResult<Option<(String, PendingWrite)>> {
    let dir = queue_dir(base_path, table_name);
    if !dir.exists() {
        return Ok(None);
    }

    let mut entries: Vec<DirEntry> = fs::read_dir(&dir)
        .map_err(|e| ReedError::IoError {
            operation: "read_queue_dir".to_string(),
            reason: e.to_string(),
        })?
        .filter_map(Result::ok)
        .filter(|entry| is_pending_file(&entry.path()))
        .collect();
    entries.sort_by(compare_created);

    let Some(oldest) = entries.first().map(DirEntry::path) else {
        return Ok(None);
    };
    let queue_id = oldest
        .file_stem()
        .and_then(|stem| stem.to_str())
        .ok_or_else(|| ReedError::InvalidQueueFile {
            path: oldest.display().to_string(),
        })?
        .to_string();
    let content = fs::read_to_string(&oldest).map_err(|e| ReedError::IoError {
        operation: "read_queue_file".to_string(),
        reason: e.to_string(),
    })?;
    let write = serde_json::from_str(&content).map_err(|e| ReedError::DeserializationError {
        reason: format!("Failed to deserialise write: {e}"),
    })?;
    Ok(Some((queue_id, write)))
}

/// Removes the pending write `queue_id` of `table_name`, that is the file
/// `<queue dir>/<queue_id>.pending`. The id is not checked.
///
/// # Errors
///
/// `IoError` `remove_queue_file`, also when there is no such entry.
///
/// # Examples
///
/// ```
/// use reedbase_last::concurrent::remove_from_queue;
///
/// let dir = tempfile::tempdir()?;
/// assert!(remove_from_queue(dir.path(), "users", "no-such-id").is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn remove_from_queue(base_path: &Path, table_name: &str, queue_id: &str) -> ReedResult<()> {
    let path = queue_dir(base_path, table_name).join(format!("{queue_id}.pending"));
    fs::remove_file(path).map_err(|e| ReedError::IoError {
        operation: "remove_queue_file".to_string(),
        reason: e.to_string(),
    })
}

/// The number of `.pending` files in the queue of `table_name`; 0 when the
/// queue directory does not exist.
///
/// # Errors
///
/// `IoError` `count_queue_dir` when the directory cannot be listed.
///
/// # Examples
///
/// ```
/// use reedbase_last::concurrent::count_pending;
///
/// let dir = tempfile::tempdir()?;
/// assert_eq!(count_pending(dir.path(), "users")?, 0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn count_pending(base_path: &Path, table_name: &str) -> ReedResult<usize> {
    let dir = queue_dir(base_path, table_name);
    if !dir.exists() {
        return Ok(0);
    }
    let count = fs::read_dir(&dir)
        .map_err(|e| ReedError::IoError {
            operation: "count_queue_dir".to_string(),
            reason: e.to_string(),
        })?
        .filter_map(Result::ok)
        .filter(|entry| is_pending_file(&entry.path()))
        .count();
    Ok(count)
}

#[cfg(test)]
#[path = "queue_test.rs"]
mod tests;
