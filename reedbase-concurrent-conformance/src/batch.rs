// SPDX-License-Identifier: Apache-2.0
//! Cases for the batch path of the [`WriteCoordinator`] (group commit):
//! queued writes in FIFO order and the caller's write last, at most
//! `max_batch` per call, removal only after `Ok`, and the same table as the
//! per-write path; and the bound on what a submit drains before its own
//! write, on both paths.

use reedbase_concurrent_core::{CoordinatorOptions, SubmitOutcome, WriteCoordinator};

use crate::Backend;
use crate::apply_journal::{Journal, Seen, handed_back, poisoned_write, queue_through, submitted};
use crate::samples::{LONG, fill_queue, head, tagged_write};

const TABLE: &str = "test_table";

/// Queues `tags` through the coordinator (lock held, so that each is
/// queued); returns what `apply` should see for each, in order.
fn queue_all<B: Backend>(coordinator: &WriteCoordinator<&B>, tags: &[&str]) -> Vec<Seen> {
    tags.iter()
        .map(|tag| {
            let write = tagged_write(tag);
            (Some(queue_through(coordinator, TABLE, &write)), write)
        })
        .collect()
}

/// `submit_batch` after three queued writes calls `apply` once, with the
/// queued writes in FIFO order, each under its queue id, and the caller's
/// write last under a direct key; it reports `drained: 3` and removes them.
pub fn batch_submit_applies_queued_writes_then_its_own<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let mut expected = queue_all(&coordinator, &["q1", "q2", "q3"]);
    let direct = tagged_write("direct");
    let journal = Journal::default();
    let outcome = coordinator.submit_batch(TABLE, direct.clone(), LONG, journal.batch());
    let outcome = submitted(outcome, "submit_batch after three queued writes");
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 3 });
    expected.push((None, direct));
    assert_eq!(
        journal.calls(),
        [expected],
        "one call: queued writes in order, then its own"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "all removed"
    );
}

/// With `max_batch(2)`, `drain_batch` of five queued writes makes calls of
/// 2, 2 and 1 in FIFO order; `submit_batch` after three makes calls of
/// `[q1, q2]` and `[q3, own write]`.
pub fn batch_holds_at_most_max_batch<B: Backend>(backend: &B) {
    let options = CoordinatorOptions::new().max_batch(2);
    let coordinator = WriteCoordinator::with_options(backend, options);
    let queued = queue_all(&coordinator, &["a", "b", "c", "d", "e"]);
    let journal = Journal::default();
    let drained = coordinator
        .drain_batch(TABLE, LONG, journal.batch())
        .expect("drain_batch");
    assert_eq!(drained, 5, "drain_batch applies all five");
    let expected: Vec<Vec<Seen>> = queued.chunks(2).map(<[Seen]>::to_vec).collect();
    assert_eq!(
        journal.calls(),
        expected,
        "batches of at most two, in FIFO order"
    );

    let mut queued = queue_all(&coordinator, &["f", "g", "h"]);
    let direct = tagged_write("direct");
    let journal = Journal::default();
    let outcome = coordinator.submit_batch(TABLE, direct.clone(), LONG, journal.batch());
    let outcome = submitted(outcome, "submit_batch after three queued writes");
    assert_eq!(outcome, SubmitOutcome::Applied { drained: 3 });
    queued.push((None, direct));
    let expected: Vec<Vec<Seen>> = queued.chunks(2).map(<[Seen]>::to_vec).collect();
    assert_eq!(journal.calls(), expected, "[f, g], then [h, own write]");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "all removed"
    );
}

/// A batch whose `apply` fails removes nothing: `submit_batch` hands the
/// caller's write back, reporting the failure against the first queued
/// write, and the queue keeps every entry in order; a `drain_batch` that
/// fails the same way removes nothing either.
pub fn failed_batch_removes_nothing_and_hands_write_back<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let first = tagged_write("first");
    let first_id = queue_through(&coordinator, TABLE, &first);
    queue_through(&coordinator, TABLE, &poisoned_write("second"));
    let direct = tagged_write("direct");
    let journal = Journal::default();
    let result = coordinator.submit_batch(TABLE, direct.clone(), LONG, journal.batch());
    let error = handed_back(result, TABLE, &direct, "submit_batch whose batch fails");
    assert!(
        error.is_apply_failure(),
        "expected an apply failure, got {error:?}"
    );
    assert_eq!(
        error.blocking_entry(),
        Some(first_id.as_str()),
        "the batch's first write"
    );
    assert_eq!(journal.calls().len(), 1, "one batch, refused");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        2,
        "none removed"
    );
    assert_eq!(
        head(backend, TABLE),
        (first_id.clone(), first),
        "order kept"
    );
    let error = coordinator
        .drain_batch(TABLE, LONG, journal.batch())
        .expect_err("drain_batch");
    assert!(
        error.handed_back().is_none(),
        "a drain has no write to hand back"
    );
    assert_eq!(
        error.blocking_entry(),
        Some(first_id.as_str()),
        "the batch's first write"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        2,
        "none removed"
    );
}

/// The same writes through the per-write path on one table and the batch
/// path (batches of two) on another leave the same rows in the same order:
/// queued writes, a submit, more queued writes, a drain.
pub fn batch_and_per_write_paths_agree<B: Backend>(backend: &B) {
    let mut tables: Vec<Vec<String>> = Vec::new();
    for (table, batched) in [("per_write", false), ("batched", true)] {
        let options = CoordinatorOptions::new().max_batch(2);
        let coordinator = WriteCoordinator::with_options(backend, options);
        let journal = Journal::default();
        let submit = |tag: &str| {
            let write = tagged_write(tag);
            let outcome = match batched {
                true => coordinator.submit_batch(table, write, LONG, journal.batch()),
                false => coordinator.submit(table, write, LONG, journal.each()),
            };
            submitted(outcome, &format!("submit {tag} to {table}"));
        };
        for tag in ["a", "b", "c"] {
            queue_through(&coordinator, table, &tagged_write(tag));
        }
        submit("d");
        for tag in ["e", "f", "g"] {
            queue_through(&coordinator, table, &tagged_write(tag));
        }
        let drained = match batched {
            true => coordinator.drain_batch(table, LONG, journal.batch()),
            false => coordinator.drain(table, LONG, journal.each()),
        };
        assert_eq!(
            drained.expect("drain"),
            3,
            "{table}: the drain applies three"
        );
        let rows = journal
            .writes()
            .into_iter()
            .flat_map(|(_, write)| write.rows);
        tables.push(rows.map(|row| row.to_csv()).collect());
        assert_eq!(
            backend.count_pending(table).expect("count_pending"),
            0,
            "{table}"
        );
    }
    let expected = ["a", "b", "c", "d", "e", "f", "g"].map(|tag| format!("key-{tag}|{tag}"));
    assert_eq!(tables[0], expected, "the per-write path's table");
    assert_eq!(tables[0], tables[1], "the batch path leaves the same table");
}

/// A submit applies at most `capacity()` queued writes before its own,
/// even while `apply` keeps queueing new ones (a steady stream of writers):
/// with a full queue and batches of three, per write and in batches, it
/// reports `drained == capacity()`, its own write comes right after, and
/// the stream's writes stay queued for the next holder.
pub fn submit_applies_at_most_capacity_queued_writes_first<B: Backend>(backend: &B) {
    let capacity = backend.capacity();
    for batched in [false, true] {
        let options = CoordinatorOptions::new().max_batch(3);
        let coordinator = WriteCoordinator::with_options(backend, options);
        fill_queue(backend, TABLE);
        let journal = Journal::default();
        let mut fed = 0;
        let mut feed = |queued: usize| {
            for _ in 0..queued {
                // Full while the fetched writes are not yet removed: ignored.
                let _ = backend.queue_write(TABLE, &tagged_write(&format!("stream-{fed}")));
                fed += 1;
            }
        };
        let direct = tagged_write("direct");
        let mut each = journal.each();
        let mut batch = journal.batch();
        let outcome = match batched {
            true => coordinator.submit_batch(TABLE, direct.clone(), LONG, |items| {
                feed(items.iter().filter(|item| !item.key.is_direct()).count());
                batch(items)
            }),
            false => coordinator.submit(TABLE, direct.clone(), LONG, |key, write| {
                feed(usize::from(!key.is_direct()));
                each(key, write)
            }),
        };
        let what = format!("submit (batches: {batched}) to a full queue fed by apply");
        let outcome = submitted(outcome, &what);
        assert_eq!(
            outcome,
            SubmitOutcome::Applied { drained: capacity },
            "{what}"
        );
        let writes = journal.writes();
        assert_eq!(writes.len(), capacity + 1, "{what}: applied writes");
        assert_eq!(
            writes.last(),
            Some(&(None, direct)),
            "{what}: its own write comes last"
        );
        let left = backend.count_pending(TABLE).expect("count_pending");
        assert!(
            left > 0,
            "{what}: the stream's writes wait for the next holder"
        );
        let drained = coordinator
            .drain(TABLE, LONG, |_, _| Ok(()))
            .expect("drain");
        assert_eq!(drained, left, "{what}: the next drain applies what is left");
    }
}
