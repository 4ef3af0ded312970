// SPDX-License-Identifier: Apache-2.0
//! The [`WriteCoordinator`] under several submitting threads: every write
//! applied exactly once (nothing crashes here), each thread's in its order.

use std::collections::HashMap;
use std::sync::{Barrier, Mutex, PoisonError};
use std::time::Duration;

use reedbase_concurrent_core::PendingWrite;
use reedbase_concurrent_core::{ApplyError, ApplyKey, SubmitOutcome, WriteCoordinator};

use crate::Backend;
use crate::samples::{LONG, join, sequenced_write};

const TABLE: &str = "test_table";
const THREADS: usize = 4;
const WRITES: usize = 25;

/// A write tagged with its submitter and its place in that submitter's
/// sequence.
fn tagged(thread: usize, seq: usize) -> PendingWrite {
    sequenced_write("t", thread, seq)
}

/// The (thread, seq) tag of a write made by [`tagged`].
fn tag_of(write: &PendingWrite) -> (usize, usize) {
    let values = write
        .rows
        .first()
        .map(|row| row.values.as_slice())
        .unwrap_or_default();
    match values {
        [thread, seq] => match (thread.parse(), seq.parse()) {
            (Ok(thread), Ok(seq)) => (thread, seq),
            _ => panic!("apply got a write with an unreadable tag: {write:?}"),
        },
        _ => panic!("apply got a write with an unreadable tag: {write:?}"),
    }
}

/// An `apply` that appends each write's tag to `table`.
fn append_tag(
    table: &Mutex<Vec<(usize, usize)>>,
) -> impl FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError> + '_ {
    move |_key, write| {
        table
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(tag_of(write));
        Ok(())
    }
}

/// Four threads each submit 25 tagged writes with a 1 ms timeout, so that
/// some are queued (a write refused because the queue is full is submitted
/// again with a long timeout); after a final `drain`, every write was
/// applied exactly once and each thread's writes in the order it submitted
/// them.
pub fn coordinator_threads_apply_each_write_once_in_order<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let table = Mutex::new(Vec::new());
    let start = Barrier::new(THREADS);
    let queued: usize = std::thread::scope(|scope| {
        let submitters: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (coordinator, table, start) = (&coordinator, &table, &start);
                scope.spawn(move || {
                    let mut queued = 0;
                    start.wait();
                    for seq in 0..WRITES {
                        let mut timeout = Duration::from_millis(1);
                        let mut write = tagged(thread, seq);
                        loop {
                            match coordinator.submit(TABLE, write, timeout, append_tag(table)) {
                                Ok(SubmitOutcome::Queued(_)) => queued += 1,
                                Ok(SubmitOutcome::Applied { .. }) => {}
                                Err(error) if error.is_queue_full() => {
                                    write = error.into_write().expect("handed back");
                                    timeout = LONG;
                                    continue;
                                }
                                Err(error) => {
                                    panic!("thread {thread}, write {seq}: submit failed: {error:?}")
                                }
                            }
                            break;
                        }
                    }
                    queued
                })
            })
            .collect();
        submitters.into_iter().map(join).sum()
    });
    if let Err(error) = coordinator.drain(TABLE, LONG, append_tag(&table)) {
        panic!("final drain failed: {error:?}");
    }
    let applied = table.into_inner().unwrap_or_else(PoisonError::into_inner);
    let mut times: HashMap<(usize, usize), usize> = HashMap::new();
    for tag in &applied {
        *times.entry(*tag).or_default() += 1;
    }
    for thread in 0..THREADS {
        for seq in 0..WRITES {
            let count = times.get(&(thread, seq)).copied().unwrap_or(0);
            assert_eq!(
                count,
                1,
                "write {seq} of thread {thread} was applied {count} times ({queued} of {} writes were queued)",
                THREADS * WRITES
            );
        }
        let order: Vec<usize> = applied
            .iter()
            .filter(|(t, _)| *t == thread)
            .map(|(_, seq)| *seq)
            .collect();
        let expected: Vec<usize> = (0..WRITES).collect();
        assert_eq!(
            order, expected,
            "thread {thread}'s writes were applied out of order"
        );
    }
    assert_eq!(applied.len(), THREADS * WRITES, "applied writes in all");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "queue after the final drain"
    );
}
