// SPDX-License-Identifier: Apache-2.0
//! Cases for [`QueueBackend::queue_write_unless`]: the queue entry a
//! coordinator prepares while it still waits for a busy lock.
//!
//! [`QueueBackend::queue_write_unless`]: reedbase_concurrent_core::QueueBackend::queue_write_unless

use std::time::Duration;

use reedbase_concurrent_core::{SubmitOutcome, WriteCoordinator};

use crate::Backend;
use crate::apply_journal::{Journal, submitted};
use crate::samples::{LONG, drain_all, fill_queue, head, tagged_write};

const TABLE: &str = "test_table";

/// `queue_write_unless` asks `instead` at most once (a backend with
/// nothing to prepare never asks). Asked and told `true`, it queues nothing
/// and leaves nothing a later reader sees; told `false`, or not asking, it
/// queues the write as `queue_write` does, under a fresh id, in FIFO order
/// after what was queued before.
pub fn queue_write_unless_asks_at_most_once_and_obeys<B: Backend>(backend: &B) {
    let first = tagged_write("first");
    let first_id = backend.queue_write(TABLE, &first).expect("queue_write");
    let mut queued = vec![(first_id, first)];
    for answer in [true, false] {
        let write = tagged_write(&format!("told {answer}"));
        let mut asked = 0;
        let result = backend.queue_write_unless(TABLE, &write, &mut || {
            asked += 1;
            answer
        });
        let got = result.expect("queue_write_unless");
        assert!(asked <= 1, "`instead` asked {asked} times");
        match got {
            None => assert!(
                asked == 1 && answer,
                "queued nothing without being told to (asked {asked} times, answer {answer})"
            ),
            Some(id) => {
                assert!(asked == 0 || !answer, "queued although `instead` said true");
                assert!(
                    queued.iter().all(|(other, _)| *other != id),
                    "a fresh id: {id}"
                );
                queued.push((id, write));
            }
        }
        assert_eq!(
            backend.count_pending(TABLE).expect("count_pending"),
            queued.len(),
            "told {answer}: only what was queued is pending"
        );
    }
    assert_eq!(
        drain_all(backend, TABLE),
        queued,
        "what was queued, in order; never a declined write"
    );
}

/// `queue_write_unless` on a full queue fails with `QueueFull` whatever
/// `instead` says when it is asked, and the queue stays at capacity.
pub fn queue_write_unless_refuses_a_full_queue<B: Backend>(backend: &B) {
    let capacity = backend.capacity();
    let ids = fill_queue(backend, TABLE);
    let result = backend.queue_write_unless(TABLE, &tagged_write("over"), &mut || false);
    let error = result.expect_err("queue_write_unless into a full queue");
    assert!(error.is_queue_full(), "expected QueueFull, got {error:?}");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        capacity,
        "still at capacity"
    );
    assert_eq!(head(backend, TABLE).0, ids[0], "the head is unchanged");
}

/// A coordinator whose write had to be queued and one that took the lock
/// after all leave the same queue a plain `queue_write` would: a `submit`
/// against a lock held throughout queues the write once (and `drain`
/// applies it once), and a `submit` on a free table queues nothing.
pub fn coordinator_prepared_entries_leave_nothing_behind<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let journal = Journal::default();
    let held = backend.acquire_lock(TABLE, LONG).expect("acquire_lock");
    let mut queued_ids = Vec::new();
    for n in 0..3 {
        let write = tagged_write(&format!("queued {n}"));
        let outcome = coordinator.submit(TABLE, write, Duration::from_millis(20), journal.each());
        match submitted(outcome, "submit against a held lock") {
            SubmitOutcome::Queued(id) => queued_ids.push(id),
            other => panic!("expected Queued with the lock held, got {other:?}"),
        }
    }
    drop(held);
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        3,
        "each write queued once"
    );
    let outcome = coordinator.submit(TABLE, tagged_write("direct"), LONG, journal.each());
    assert_eq!(
        submitted(outcome, "submit on a free table"),
        SubmitOutcome::Applied { drained: 3 }
    );
    let applied: Vec<_> = journal.writes().into_iter().map(|(key, _)| key).collect();
    let mut expected: Vec<_> = queued_ids.into_iter().map(Some).collect();
    expected.push(None);
    assert_eq!(
        applied, expected,
        "the queued writes in order, then the direct one"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "nothing left queued"
    );
}
