// SPDX-License-Identifier: Apache-2.0
//! Cases for [`WriteCoordinator::submit_grouped`] (group commit through the
//! queue): the whole queue and the caller's write in one batch when the
//! lock is free, `Applied` once another holder applied it, `Queued` at the
//! timeout, a write moved aside reported, failures after queueing that
//! name the entry and never hand the write back, and several threads whose
//! writes are each applied once, in order.

use std::collections::HashMap;
use std::sync::{Barrier, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{ApplyError, BatchItem, ReedError, SubmitOutcome, WriteCoordinator};

use crate::Backend;
use crate::apply_journal::{Journal, Seen, handed_back, poisoned_write, queue_through, submitted};
use crate::samples::{LONG, fill_queue, join, sequenced_write, tagged_write};

const TABLE: &str = "test_table";

/// Waits until `table` holds `count` pending entries.
#[track_caller]
fn wait_for_pending<B: Backend>(backend: &B, table: &str, count: usize) {
    let start = Instant::now();
    while backend.count_pending(table).expect("count_pending") != count {
        assert!(start.elapsed() < LONG, "{count} pending never came");
        thread::sleep(Duration::from_millis(1));
    }
}

/// With the lock free, `submit_grouped` after two queued writes applies
/// them and its own in one batch, in FIFO order, its own last and under
/// its queue id; it reports `drained: 3` and leaves nothing queued.
pub fn grouped_submit_applies_the_queue_and_its_own_write<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let mut expected: Vec<Seen> = ["q1", "q2"]
        .iter()
        .map(|tag| {
            let write = tagged_write(tag);
            (Some(queue_through(&coordinator, TABLE, &write)), write)
        })
        .collect();
    let own = tagged_write("own");
    let journal = Journal::default();
    let outcome = coordinator.submit_grouped(TABLE, own.clone(), LONG, journal.batch());
    let outcome = submitted(outcome, "submit_grouped with the lock free");
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 3 });
    let calls = journal.calls();
    assert_eq!(calls.len(), 1, "one batch: {calls:?}");
    let (own_id, own_write) = calls[0].last().cloned().expect("a batch");
    assert_eq!(own_write, own, "its own write comes last");
    assert!(own_id.is_some(), "its own write has the key of its entry");
    expected.push((own_id, own));
    assert_eq!(calls[0], expected, "queued writes first, in order");
    assert_eq!(backend.count_pending(TABLE).expect("count_pending"), 0);
}

/// While another caller holds the lock, a grouped write waits; once that
/// holder applies the queue and removes it, the write is `Applied` with
/// `drained: 0`, and its own `apply` was never called.
pub fn grouped_submit_returns_once_another_holder_applied_it<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let write = tagged_write("waiting");
    let own_journal = Journal::default();
    let applied_elsewhere = thread::scope(|scope| {
        let submitter = scope
            .spawn(|| coordinator.submit_grouped(TABLE, write.clone(), LONG, own_journal.batch()));
        wait_for_pending(backend, TABLE, 1);
        let batch = backend
            .get_pending_batch(TABLE, 10)
            .expect("get_pending_batch");
        let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
        backend
            .remove_batch_from_queue(TABLE, &ids)
            .expect("remove_batch_from_queue");
        drop(held);
        (batch, join(submitter))
    });
    let (batch, outcome) = applied_elsewhere;
    assert_eq!(batch.len(), 1);
    assert_eq!(batch[0].1, write);
    let outcome = submitted(outcome, "submit_grouped applied by another holder");
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 0 });
    assert!(
        own_journal.calls().is_empty(),
        "applied by the other holder"
    );
}

/// A grouped write whose lock stays held past its timeout is `Queued`,
/// and stays pending for a later holder.
pub fn grouped_submit_is_queued_at_its_timeout<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let journal = Journal::default();
    let timeout = Duration::from_millis(50);
    let start = Instant::now();
    let outcome = coordinator.submit_grouped(TABLE, tagged_write("late"), timeout, journal.batch());
    let outcome = submitted(outcome, "submit_grouped while the lock is held");
    assert!(start.elapsed() >= timeout, "it waited its timeout");
    let SubmitOutcome::Queued(id) = outcome else {
        panic!("expected Queued, got {outcome:?}");
    };
    assert!(backend.is_pending(TABLE, &id).expect("is_pending"));
    assert!(journal.calls().is_empty());
}

/// A grouped write moved aside while it waits (as a dead letter) is an
/// error naming the entry as corrupt, not `Applied`.
pub fn grouped_submit_reports_a_write_moved_aside<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let journal = Journal::default();
    let result = thread::scope(|scope| {
        let submitter = scope.spawn(|| {
            coordinator.submit_grouped(TABLE, tagged_write("aside"), LONG, journal.batch())
        });
        wait_for_pending(backend, TABLE, 1);
        let (id, _) = backend
            .get_next_pending(TABLE)
            .expect("get_next_pending")
            .expect("the waiting write");
        backend
            .move_aside(TABLE, &id, "a case of the suite")
            .expect("move_aside");
        drop(held);
        join(submitter)
    });
    let error = result.expect_err("a write moved aside is not applied");
    assert!(
        matches!(error.backend_error(), Some(ReedError::CorruptEntry { .. })),
        "{error:?}"
    );
    assert!(error.handed_back().is_none());
    assert!(journal.calls().is_empty());
}

/// Before its write is queued, `submit_grouped` hands it back as `submit`
/// does: invalid input, a full queue.
pub fn grouped_submit_hands_back_what_it_could_not_queue<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let write = tagged_write("bad name");
    let result =
        coordinator.submit_grouped("../x", write.clone(), LONG, Journal::default().batch());
    let error = handed_back(result, "../x", &write, "submit_grouped to a bad table name");
    assert!(error.is_invalid_input(), "{error:?}");

    let _held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    fill_queue(backend, TABLE);
    let write = tagged_write("no room");
    let result = coordinator.submit_grouped(TABLE, write.clone(), LONG, Journal::default().batch());
    let error = handed_back(result, TABLE, &write, "submit_grouped to a full queue");
    assert!(error.is_queue_full(), "{error:?}");
    assert!(error.queued_as().is_none());
}

/// An `apply` that fails while the grouped writer holds the lock stops
/// the call: the error names the entry its write is queued as, hands
/// nothing back, and every entry stays queued in order.
pub fn grouped_submit_failure_after_queueing_names_the_entry<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let poisoned = queue_through(&coordinator, TABLE, &poisoned_write("first"));
    let journal = Journal::default();
    let result = coordinator.submit_grouped(TABLE, tagged_write("own"), LONG, journal.batch());
    let error = result.expect_err("the batch is refused");
    assert!(error.is_apply_failure(), "{error:?}");
    assert_eq!(error.blocking_entry(), Some(poisoned.as_str()));
    assert!(
        error.handed_back().is_none(),
        "queued writes are not handed back"
    );
    let own = error.queued_as().expect("names its entry").to_string();
    assert!(backend.is_pending(TABLE, &own).expect("is_pending"));
    assert!(backend.is_pending(TABLE, &poisoned).expect("is_pending"));
    assert_eq!(backend.count_pending(TABLE).expect("count_pending"), 2);
}

const THREADS: usize = 4;
const WRITES: usize = 20;

/// Four threads each submit 20 writes through `submit_grouped`: every
/// write is `Applied`, applied exactly once, and each thread's writes in
/// the order it submitted them.
pub fn grouped_threads_apply_each_write_once_in_order<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let table: Mutex<Vec<(usize, usize)>> = Mutex::new(Vec::new());
    let start = Barrier::new(THREADS);
    thread::scope(|scope| {
        let submitters: Vec<_> = (0..THREADS)
            .map(|thread| {
                let (coordinator, table, start) = (&coordinator, &table, &start);
                scope.spawn(move || {
                    start.wait();
                    for seq in 0..WRITES {
                        let write = sequenced_write("g", thread, seq);
                        let apply = |batch: &[BatchItem<'_>]| -> Result<(), ApplyError> {
                            let mut table = table.lock().unwrap_or_else(PoisonError::into_inner);
                            for item in batch {
                                let values = &item.write.rows[0].values;
                                table.push((values[0].parse()?, values[1].parse()?));
                            }
                            Ok(())
                        };
                        let outcome = coordinator.submit_grouped(TABLE, write, LONG, apply);
                        let outcome = submitted(outcome, "submit_grouped from a thread");
                        assert!(
                            matches!(outcome, SubmitOutcome::Applied { .. }),
                            "{outcome:?}"
                        );
                    }
                })
            })
            .collect();
        submitters.into_iter().for_each(join);
    });
    let table = table.into_inner().unwrap_or_else(PoisonError::into_inner);
    assert_eq!(table.len(), THREADS * WRITES, "each write applied once");
    let mut next: HashMap<usize, usize> = HashMap::new();
    for (thread, seq) in table {
        let expected = next.entry(thread).or_insert(0);
        assert_eq!(seq, *expected, "thread {thread}'s writes in order");
        *expected += 1;
    }
    assert_eq!(backend.count_pending(TABLE).expect("count_pending"), 0);
}
