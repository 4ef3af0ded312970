// SPDX-License-Identifier: Apache-2.0
//! Sample writes and small aids shared by the cases.

use std::any::Any;
use std::panic::resume_unwind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::ScopedJoinHandle;
use std::time::Duration;

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};

use crate::Backend;
use crate::bad_inputs::UNKNOWN_IDS;

/// A timeout long enough never to expire in a passing run.
pub(crate) const LONG: Duration = Duration::from_secs(5);

/// A well-formed queue id (a hyphenated UUID, as the old module made) that
/// no backend hands out in a fresh queue.
pub(crate) const ABSENT_ID: &str = UNKNOWN_IDS[0];

/// A one-row insert whose key and first value carry `tag`.
pub(crate) fn tagged_write(tag: &str) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(format!("key-{tag}"), [tag])],
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
            [source.to_string(), seq.to_string()],
        )],
    )
}

/// Queues `count` writes tagged `0`, `1`, ... on `table`; returns them with
/// their ids, in the order written.
#[track_caller]
pub(crate) fn queue_tagged<B: Backend>(
    backend: &B,
    table: &str,
    count: usize,
) -> Vec<(String, PendingWrite)> {
    (0..count)
        .map(|n| {
            let write = tagged_write(&n.to_string());
            let id = backend
                .queue_write(table, &write)
                .unwrap_or_else(|e| panic!("queue_write {} of {count}: {e}", n + 1));
            (id, write)
        })
        .collect()
}

/// Fills `table` to `capacity()` with writes tagged `0`, `1`, ...; returns
/// their ids.
#[track_caller]
pub(crate) fn fill_queue<B: Backend>(backend: &B, table: &str) -> Vec<String> {
    queue_tagged(backend, table, backend.capacity())
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

/// Takes every entry off `table` with get + remove, in the order the
/// backend gives them.
#[track_caller]
pub(crate) fn drain_all<B: Backend>(backend: &B, table: &str) -> Vec<(String, PendingWrite)> {
    let mut drained = Vec::new();
    while let Some((id, write)) = backend.get_next_pending(table).expect("get_next_pending") {
        backend
            .remove_from_queue(table, &id)
            .expect("remove_from_queue");
        drained.push((id, write));
        assert!(
            drained.len() <= backend.capacity(),
            "drained more entries than the queue can hold"
        );
    }
    drained
}

/// The entry at the head of `table`'s queue; panics if there is none.
#[track_caller]
pub(crate) fn head<B: Backend>(backend: &B, table: &str) -> (String, PendingWrite) {
    backend
        .get_next_pending(table)
        .expect("get_next_pending")
        .expect("get_next_pending: expected an entry, the queue is empty")
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
