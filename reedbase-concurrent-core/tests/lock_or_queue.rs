// SPDX-License-Identifier: Apache-2.0
//! How a `submit` whose lock is busy prepares its queue entry: during the
//! last part of the wait, as long before the timeout as preparing took
//! lately, then one more wait for the lock that takes the write directly if
//! the lock came free. Checked through a backend that records the waits the
//! coordinator asks for and takes a set time to prepare an entry.
//!
//! And when a `submit` that took the lock has applied what was queued
//! before it: after a batch shorter than asked for, the coordinator asks
//! `count_pending` only where the backend does not say that such a batch
//! holds every pending entry (`QueueBackend::short_batch_holds_all`),
//! checked through the same backend counting its `count_pending` calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reedbase_concurrent_core::{
    BatchItem, CsvRow, LockBackend, LockHolder, MovedAside, PendingWrite, QueueBackend, ReedResult,
    SubmitOutcome, WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_mem::MemBackend;

const TABLE: &str = "t";

type MemGuard = <MemBackend as LockBackend>::Guard;

/// `MemBackend` with a `queue_write_unless` that prepares: it first takes
/// `prepare` (and drops `release_while_preparing`, a guard of the same
/// backend), then asks `instead`; and which records the timeout of every
/// `acquire_lock`.
struct Recording {
    inner: MemBackend,
    prepare: Duration,
    release_while_preparing: Mutex<Option<MemGuard>>,
    waits: Mutex<Vec<Duration>>,
    /// Breaks the contract: queues the write whatever `instead` said.
    ignores_instead: bool,
    /// Batches as `MemBackend` makes them, and what to say of a short one;
    /// `None`: the trait's defaults (batches of one, not said).
    batches: Option<bool>,
    /// Calls of `count_pending`.
    counts: AtomicUsize,
}

impl Recording {
    fn new(prepare: Duration) -> Recording {
        Recording {
            inner: MemBackend::new(),
            prepare,
            release_while_preparing: Mutex::new(None),
            waits: Mutex::new(Vec::new()),
            ignores_instead: false,
            batches: None,
            counts: AtomicUsize::new(0),
        }
    }

    fn take_waits(&self) -> Vec<Duration> {
        std::mem::take(&mut *self.waits.lock().unwrap())
    }
}

impl LockBackend for Recording {
    type Guard = MemGuard;

    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<MemGuard> {
        self.waits.lock().unwrap().push(timeout);
        self.inner.acquire_lock(table_name, timeout)
    }

    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<MemGuard>> {
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

impl QueueBackend for Recording {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        self.inner.queue_write(table_name, write)
    }

    fn queue_write_unless(
        &self,
        table_name: &str,
        write: &PendingWrite,
        instead: &mut dyn FnMut() -> bool,
    ) -> ReedResult<Option<String>> {
        std::thread::sleep(self.prepare);
        drop(self.release_while_preparing.lock().unwrap().take());
        if instead() && !self.ignores_instead {
            return Ok(None);
        }
        self.inner.queue_write(table_name, write).map(Some)
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
        self.batches.unwrap_or(false)
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        match self.batches {
            Some(_) => self.inner.get_pending_batch(table_name, max),
            None => Ok(self
                .inner
                .get_next_pending(table_name)?
                .into_iter()
                .take(max)
                .collect()),
        }
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

/// What `apply` saw: whether the key was direct, and the row's key.
type Applied = Vec<(bool, String)>;

/// Submits `write("k")` with a 20 ms timeout through `coordinator` while
/// the table's lock is held and set to be released while the entry is
/// prepared; records what `apply` saw into `applied`.
fn submit_with_the_lock_freed_while_preparing(
    backend: &Recording,
    coordinator: &WriteCoordinator<&Recording>,
    applied: &mut Applied,
) -> SubmitOutcome {
    let held = backend.inner.acquire_lock(TABLE, Duration::ZERO).unwrap();
    *backend.release_while_preparing.lock().unwrap() = Some(held);
    coordinator
        .submit(TABLE, write("k"), Duration::from_millis(20), |key, w| {
            applied.push((key.is_direct(), w.rows[0].key.clone()));
            Ok(())
        })
        .unwrap()
}

#[test]
fn a_lock_freed_while_the_entry_is_prepared_takes_the_write_and_queues_nothing() {
    let backend = Recording::new(Duration::ZERO);
    let coordinator = WriteCoordinator::new(&backend);
    let mut applied = Applied::new();
    let outcome = submit_with_the_lock_freed_while_preparing(&backend, &coordinator, &mut applied);
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 0 });
    assert_eq!(applied, [(true, "k".to_string())], "applied once, directly");
    assert_eq!(backend.count_pending(TABLE).unwrap(), 0, "nothing queued");
    let waits = backend.take_waits();
    assert_eq!(
        waits.len(),
        2,
        "a wait, then one after preparing: {waits:?}"
    );
    assert_eq!(waits[0], Duration::from_millis(20), "nothing measured yet");
}

#[test]
fn the_entry_is_prepared_as_long_before_the_timeout_as_preparing_took() {
    let prepare = Duration::from_millis(30);
    let timeout = Duration::from_millis(100);
    let backend = Recording::new(prepare);
    let _held = backend.inner.acquire_lock(TABLE, Duration::ZERO).unwrap();
    let coordinator = WriteCoordinator::new(&backend);
    let never = |_: reedbase_concurrent_core::ApplyKey<'_>, _: &PendingWrite| {
        panic!("nothing is applied while the lock is held")
    };
    let first = coordinator
        .submit(TABLE, write("a"), timeout, never)
        .unwrap();
    assert!(matches!(first, SubmitOutcome::Queued(_)), "{first:?}");
    let waits = backend.take_waits();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert_eq!(
        waits[0], timeout,
        "the whole timeout before anything was measured"
    );
    assert_eq!(
        waits[1],
        Duration::ZERO,
        "the timeout is over after preparing"
    );

    let second = coordinator
        .submit(TABLE, write("b"), timeout, never)
        .unwrap();
    assert!(matches!(second, SubmitOutcome::Queued(_)), "{second:?}");
    let waits = backend.take_waits();
    assert_eq!(waits.len(), 2, "{waits:?}");
    assert!(
        waits[0] <= timeout - prepare,
        "preparing starts at least {prepare:?} before the timeout: {waits:?}"
    );
    assert!(waits[1] <= waits[0], "then what is left of it: {waits:?}");
    assert_eq!(backend.count_pending(TABLE).unwrap(), 2, "each queued once");
}

#[test]
fn a_zero_timeout_tries_the_lock_before_and_after_preparing() {
    let backend = Recording::new(Duration::from_millis(1));
    let _held = backend.inner.acquire_lock(TABLE, Duration::ZERO).unwrap();
    let coordinator = WriteCoordinator::new(&backend);
    for key in ["a", "b"] {
        let outcome = coordinator
            .submit(TABLE, write(key), Duration::ZERO, |_, _| Ok(()))
            .unwrap();
        assert!(matches!(outcome, SubmitOutcome::Queued(_)), "{outcome:?}");
        assert_eq!(backend.take_waits(), [Duration::ZERO, Duration::ZERO]);
    }
}

#[test]
fn a_backend_that_queues_although_told_not_to_gets_its_write_applied_once() {
    let mut backend = Recording::new(Duration::ZERO);
    backend.ignores_instead = true;
    let coordinator = WriteCoordinator::new(&backend);
    let mut applied = Applied::new();
    let outcome = submit_with_the_lock_freed_while_preparing(&backend, &coordinator, &mut applied);
    assert!(matches!(outcome, SubmitOutcome::Queued(_)), "{outcome:?}");
    assert!(applied.is_empty(), "not applied directly: {applied:?}");
    assert!(!backend.is_locked(TABLE).unwrap(), "the lock is released");
    let drained = coordinator
        .drain(TABLE, Duration::from_secs(1), |key, w| {
            applied.push((key.is_direct(), w.rows[0].key.clone()));
            Ok(())
        })
        .unwrap();
    assert_eq!(drained, 1);
    assert_eq!(
        applied,
        [(false, "k".to_string())],
        "applied once, from the queue"
    );
}

/// Queues `a`, `b`, `c` (with `batches` as `Recording::batches`), then
/// submits `own` per write and `batch` per batch (the queue empty again in
/// between); returns the keys each applied and how many times
/// `count_pending` was asked.
fn submit_after_three_queued(holds_all: bool) -> (Vec<String>, Vec<String>, usize) {
    let mut backend = Recording::new(Duration::ZERO);
    backend.batches = Some(holds_all);
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
