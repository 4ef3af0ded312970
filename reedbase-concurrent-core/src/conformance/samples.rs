// SPDX-License-Identifier: Apache-2.0
//! Sample writes, bad names and small checking aids shared by the cases.

use std::any::Any;
use std::fmt::Debug;
use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ScopedJoinHandle;
use std::time::Duration;

use super::Backend;
use crate::error::{ReedError, ReedResult};
use crate::types::{CsvRow, PendingWrite, WriteOperation};

/// A timeout long enough never to expire in a passing run.
pub(crate) const LONG: Duration = Duration::from_secs(5);

/// A well-formed queue id (a hyphenated UUID, as the old module made) that
/// no backend hands out in a fresh queue.
pub(crate) const ABSENT_ID: &str = "00000000-0000-4000-8000-000000000000";

/// A one-row insert whose key and first value carry `tag`.
pub(crate) fn tagged_write(tag: &str) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(format!("key-{tag}"), vec![tag.to_string()])],
    )
}

/// A write of `operation` with one row tagged `tag`.
pub(crate) fn operation_write(operation: WriteOperation, tag: &str) -> PendingWrite {
    PendingWrite {
        operation,
        ..tagged_write(tag)
    }
}

/// A one-row insert tagged with the thread that made it and its place in
/// that thread's sequence: key `{prefix}{source}-s{seq}`, values `source`
/// and `seq`.
pub(crate) fn sequenced_write(prefix: &str, source: usize, seq: usize) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(
            format!("{prefix}{source}-s{seq}"),
            vec![source.to_string(), seq.to_string()],
        )],
    )
}

/// Fills `table` to `capacity()` with writes tagged `0`, `1`, ...; returns
/// their ids. A failed write panics with `what`, its number and the
/// capacity.
#[track_caller]
pub(crate) fn fill_queue<B: Backend>(backend: &B, table: &str, what: &str) -> Vec<String> {
    let capacity = backend.capacity();
    let mut ids = Vec::with_capacity(capacity);
    for n in 0..capacity {
        ids.push(ok(
            backend.queue_write(table, &tagged_write(&n.to_string())),
            &format!("{what} {} of capacity {capacity}", n + 1),
        ));
    }
    ids
}

/// Unwraps `result`, or panics naming what was being done and the error.
#[track_caller]
pub(crate) fn ok<T>(result: ReedResult<T>, what: &str) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!("{what}: expected Ok, got Err({error:?}) \"{error}\""),
    }
}

/// Returns the error of `result`, or panics naming what was being done and
/// what it returned instead.
#[track_caller]
pub(crate) fn err<T: Debug>(result: ReedResult<T>, what: &str) -> ReedError {
    match result {
        Ok(value) => panic!("{what}: expected an error, got Ok({value:?})"),
        Err(error) => error,
    }
}

/// Like [`err`] for results whose `Ok` value is not `Debug` (lock guards).
#[track_caller]
pub(crate) fn err_of_guard<G>(result: ReedResult<G>, what: &str) -> ReedError {
    match result {
        Ok(_) => panic!("{what}: expected an error, got Ok(guard)"),
        Err(error) => error,
    }
}

/// The entry at the head of the queue, or a panic saying it was empty.
#[track_caller]
pub(crate) fn head(
    result: ReedResult<Option<(String, PendingWrite)>>,
    what: &str,
) -> (String, PendingWrite) {
    match ok(result, what) {
        Some(entry) => entry,
        None => panic!("{what}: expected an entry, got None (empty queue)"),
    }
}

/// Takes every entry off `table` with get + remove, in the order the
/// backend gives them.
#[track_caller]
pub(crate) fn drain_all<B: Backend>(backend: &B, table: &str) -> Vec<(String, PendingWrite)> {
    let mut drained = Vec::new();
    while let Some((id, write)) = ok(backend.get_next_pending(table), "get_next_pending") {
        ok(backend.remove_from_queue(table, &id), "remove_from_queue");
        drained.push((id, write));
        assert!(
            drained.len() <= backend.capacity(),
            "drained more entries than the queue can hold"
        );
    }
    drained
}

/// Joins a scoped thread, re-raising its panic so that the case fails with
/// the thread's own message.
pub(crate) fn join<T>(handle: ScopedJoinHandle<'_, T>) -> T {
    handle
        .join()
        .unwrap_or_else(|payload: Box<dyn Any + Send>| resume_unwind(payload))
}

/// Sets a flag when dropped, so that a thread waiting on it stops even when
/// the thread that owns it panics.
pub(crate) struct SetOnDrop<'a>(pub(crate) &'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Table names that every backend method must reject, each with what it is.
pub(crate) fn bad_table_names() -> Vec<(String, &'static str)> {
    vec![
        ("../x".to_string(), "parent-relative path"),
        ("/abs".to_string(), "absolute path"),
        (String::new(), "empty"),
        (".".to_string(), "current directory"),
        ("..".to_string(), "parent directory"),
        (".hidden".to_string(), "leading dot"),
        ("a/b".to_string(), "slash"),
        ("a\\b".to_string(), "backslash"),
        ("a\0b".to_string(), "NUL byte"),
        ("a\u{7}b".to_string(), "control character"),
        ("a\nb".to_string(), "line break"),
        ("C:x".to_string(), "drive prefix"),
        ("t".repeat(129), "129 bytes"),
    ]
}

/// Queue ids that `remove_from_queue` must reject, each with what it is.
pub(crate) fn bad_queue_ids() -> Vec<(String, &'static str)> {
    vec![
        ("../../x".to_string(), "parent-relative path"),
        ("a/b".to_string(), "slash"),
        ("a\\b".to_string(), "backslash"),
        (String::new(), "empty"),
        ("x.pending".to_string(), "file name with extension"),
        (".".to_string(), "current directory"),
        ("..".to_string(), "parent directory"),
        ("/abs".to_string(), "absolute path"),
        ("a\0b".to_string(), "NUL byte"),
        ("i".repeat(129), "129 bytes"),
    ]
}
