// SPDX-License-Identifier: Apache-2.0
//! When a submit that took the lock has applied what was queued before it:
//! after a batch shorter than asked for, the coordinator asks
//! `count_pending` only where the backend does not say that such a batch
//! holds every pending entry (`QueueBackend::short_batch_holds_all`).
//! Checked through the in-memory backend, counting its `count_pending`
//! calls, with the claim made and not made.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reedbase_concurrent_core::{
    BatchItem, CsvRow, LockBackend, LockHolder, MovedAside, PendingWrite, QueueBackend, ReedResult,
    SubmitOutcome, WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_mem::MemBackend;

const TABLE: &str = "t";

/// `MemBackend`, saying `holds_all` for `short_batch_holds_all` and
/// counting the calls of `count_pending`.
struct Counting {
    inner: MemBackend,
    holds_all: bool,
    counts: AtomicUsize,
}

impl LockBackend for Counting {
    type Guard = <MemBackend as LockBackend>::Guard;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<Self::Guard> {
        self.inner.acquire_lock(table_name, timeout)
    }

    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<Self::Guard>> {
        self.inner.try_acquire_lock(table_name)
    }

    fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
        self.inner.is_locked(table_name)
    }

    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        self.inner.wait_for_unlock(table_name, timeout)
    }

    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        self.inner.lock_holder(table_name)
    }
}

impl QueueBackend for Counting {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        self.inner.queue_write(table_name, write)
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        self.inner.get_next_pending(table_name)
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        self.inner.remove_from_queue(table_name, queue_id)
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        self.counts.fetch_add(1, Ordering::SeqCst);
        self.inner.count_pending(table_name)
    }

    fn capacity(&self) -> usize {
        self.inner.capacity()
    }

    fn short_batch_holds_all(&self) -> bool {
        self.holds_all
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        self.inner.get_pending_batch(table_name, max)
    }

    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        self.inner.remove_batch_from_queue(table_name, queue_ids)
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        self.inner.is_pending(table_name, queue_id)
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        self.inner.move_aside(table_name, queue_id, reason)
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        self.inner.moved_aside(table_name)
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        self.inner.record_failed_apply(table_name, queue_id)
    }

    fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
        self.inner.tables_with_pending()
    }
}

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

/// Queues `a`, `b`, `c`, then submits `own` per write and `batch` per
/// batch (the queue empty again in between); returns the keys each applied
/// and how many times `count_pending` was asked.
fn submit_after_three_queued(holds_all: bool) -> (Vec<String>, Vec<String>, usize) {
    let backend = Counting {
        inner: MemBackend::new(),
        holds_all,
        counts: AtomicUsize::new(0),
    };
    let coordinator = WriteCoordinator::new(&backend);
    let timeout = Duration::from_secs(1);
    for key in ["a", "b", "c"] {
        backend.inner.queue_write(TABLE, &write(key)).unwrap();
    }
    let mut each = Vec::new();
    let outcome = coordinator
        .submit(TABLE, write("own"), timeout, |_, w| {
            each.push(w.rows[0].key.clone());
            Ok(())
        })
        .unwrap();
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 3 });
    for key in ["d", "e"] {
        backend.inner.queue_write(TABLE, &write(key)).unwrap();
    }
    let mut batches = Vec::new();
    let outcome = coordinator
        .submit_batch(
            TABLE,
            write("batch"),
            timeout,
            |items: &[BatchItem<'_>]| {
                batches.extend(items.iter().map(|item| item.write.rows[0].key.clone()));
                Ok(())
            },
        )
        .unwrap();
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 2 });
    assert_eq!(backend.inner.count_pending(TABLE).unwrap(), 0);
    (each, batches, backend.counts.load(Ordering::SeqCst))
}

#[test]
fn a_short_batch_that_holds_all_ends_the_passes_without_a_count() {
    let (each, batches, counts) = submit_after_three_queued(true);
    assert_eq!(each, ["a", "b", "c", "own"], "queued first, in order");
    assert_eq!(batches, ["d", "e", "batch"], "queued first, in order");
    assert_eq!(counts, 0, "no count asked for");
}

#[test]
fn a_short_batch_that_may_not_hold_all_is_checked_by_a_count() {
    let (each, batches, counts) = submit_after_three_queued(false);
    assert_eq!(each, ["a", "b", "c", "own"], "queued first, in order");
    assert_eq!(batches, ["d", "e", "batch"], "queued first, in order");
    assert_eq!(counts, 2, "one count per submit, after its short batch");
}
