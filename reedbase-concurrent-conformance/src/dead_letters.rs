// SPDX-License-Identifier: Apache-2.0
//! Cases for a queued write whose `apply` keeps failing: with
//! [`DeadLetterPolicy::Block`] it stays first and blocks the table, with
//! [`DeadLetterPolicy::MoveAsideAfter`] it is moved aside after that many
//! failures and the table goes on, per write and in batches.

use reedbase_concurrent_core::ReedError;
use reedbase_concurrent_core::{
    CoordinatorOptions, DeadLetterPolicy, SubmitOutcome, WriteCoordinator,
};

use crate::Backend;
use crate::apply_journal::{
    Journal, REFUSED, Seen, handed_back, poisoned_write, queue_through, submitted,
};
use crate::samples::{LONG, head, tagged_write};

const TABLE: &str = "test_table";

/// With the default policy ([`DeadLetterPolicy::Block`]) a queued write
/// whose apply fails stays first: every `drain` and `submit` of the table
/// stops at it with an error naming the table, the entry and how many
/// times it failed (counted across calls and paths), and hands a submitted
/// write back unapplied; the good write behind it waits.
pub fn dead_letters_block_the_table_by_default<B: Backend>(backend: &B) {
    let coordinator = WriteCoordinator::new(backend);
    let blocking = queue_through(&coordinator, TABLE, &poisoned_write("blocking"));
    let behind = queue_through(&coordinator, TABLE, &tagged_write("behind"));
    let journal = Journal::default();
    for attempt in 1..=2 {
        let error = coordinator
            .drain(TABLE, LONG, journal.each())
            .expect_err("drain");
        assert_eq!(
            error.blocking_entry(),
            Some(blocking.as_str()),
            "names the entry"
        );
        assert_eq!(error.attempts(), Some(attempt), "counts the failures");
        let message = error.to_string();
        for part in [TABLE, blocking.as_str(), REFUSED] {
            assert!(
                message.contains(part),
                "the message names {part:?}: {message}"
            );
        }
    }
    let direct = tagged_write("direct");
    let result = coordinator.submit(TABLE, direct.clone(), LONG, journal.each());
    let error = handed_back(result, TABLE, &direct, "submit behind a blocking entry");
    assert_eq!(
        error.blocking_entry(),
        Some(blocking.as_str()),
        "submit names it too"
    );
    assert_eq!(error.attempts(), Some(3), "the count goes on");
    let error = coordinator
        .drain_batch(TABLE, LONG, journal.batch())
        .expect_err("drain_batch");
    assert_eq!(
        error.attempts(),
        Some(4),
        "the batch path counts on the same entry"
    );
    let keys =
        |call: Vec<Seen>| -> Vec<Option<String>> { call.into_iter().map(|(key, _)| key).collect() };
    let calls: Vec<Vec<Option<String>>> = journal.calls().into_iter().map(keys).collect();
    let blocked = Some(blocking.clone());
    let expected = [
        vec![blocked.clone()],
        vec![blocked.clone()],
        vec![blocked.clone()],
        vec![blocked, Some(behind)],
    ];
    assert_eq!(
        calls, expected,
        "each call stops at the blocking entry; the direct write waits"
    );
    assert_eq!(head(backend, TABLE).0, blocking, "the entry stays first");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        2,
        "nothing skipped"
    );
    assert!(
        backend.moved_aside(TABLE).expect("moved_aside").is_empty(),
        "nothing moved"
    );
}

/// With [`DeadLetterPolicy::MoveAsideAfter`]`(2)`, the first failing submit
/// hands its write back; at the second failure the entry is moved aside
/// with the apply error in its reason, and the write behind it and the
/// submitted write are applied. `moved_aside` lists it, `remove_from_queue`
/// and `wait_applied` of it report `CorruptEntry`.
pub fn dead_letters_move_aside_after_n_failures<B: Backend>(backend: &B) {
    let options = CoordinatorOptions::new().dead_letters(DeadLetterPolicy::MoveAsideAfter(2));
    let coordinator = WriteCoordinator::with_options(backend, options);
    let dead = queue_through(&coordinator, TABLE, &poisoned_write("dead"));
    let behind = tagged_write("behind");
    let behind_id = queue_through(&coordinator, TABLE, &behind);
    let direct = tagged_write("direct");
    let journal = Journal::default();
    let first = coordinator.submit(TABLE, direct.clone(), LONG, journal.each());
    let error = handed_back(first, TABLE, &direct, "submit at the first failure");
    assert_eq!(error.attempts(), Some(1), "one failure so far");
    let second = coordinator.submit(TABLE, direct.clone(), LONG, journal.each());
    let outcome = submitted(second, "submit at the second failure");
    assert_eq!(
        outcome,
        SubmitOutcome::Applied { drained: 1 },
        "behind it, then its own"
    );
    let tried: Vec<Option<String>> = journal.writes().into_iter().map(|(key, _)| key).collect();
    assert_eq!(
        tried,
        [
            Some(dead.clone()),
            Some(dead.clone()),
            Some(behind_id),
            None
        ]
    );
    let moved = backend.moved_aside(TABLE).expect("moved_aside");
    assert_eq!(moved.len(), 1, "one dead letter: {moved:?}");
    assert_eq!(moved[0].id, dead, "the failing entry");
    assert!(
        moved[0].reason.contains(REFUSED),
        "the apply error in its reason: {moved:?}"
    );
    for (what, result) in [
        ("remove_from_queue", backend.remove_from_queue(TABLE, &dead)),
        ("wait_applied", coordinator.wait_applied(TABLE, &dead, LONG)),
    ] {
        match result {
            Err(ReedError::CorruptEntry { queue_id, .. }) => assert_eq!(queue_id, dead, "{what}"),
            other => panic!("{what} of a dead letter: expected CorruptEntry, got {other:?}"),
        }
    }
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "queue empty"
    );
}

/// In batches, a failing batch does not say which write is bad: with
/// [`DeadLetterPolicy::MoveAsideAfter`]`(1)` the batch's first write is
/// tried alone before it is condemned. Of `[good, bad, good]`, both good
/// writes are applied in order (each in a call that succeeded), the bad one
/// is moved aside, and the queue ends empty.
pub fn dead_letters_in_batches_are_tried_alone_first<B: Backend>(backend: &B) {
    let options = CoordinatorOptions::new().dead_letters(DeadLetterPolicy::MoveAsideAfter(1));
    let coordinator = WriteCoordinator::with_options(backend, options);
    let first = queue_through(&coordinator, TABLE, &tagged_write("first"));
    let bad = queue_through(&coordinator, TABLE, &poisoned_write("bad"));
    let last = queue_through(&coordinator, TABLE, &tagged_write("last"));
    let journal = Journal::default();
    let drained = coordinator
        .drain_batch(TABLE, LONG, journal.batch())
        .expect("drain_batch");
    assert_eq!(drained, 2, "the two good writes");
    let succeeded: Vec<Option<String>> = journal
        .calls()
        .into_iter()
        .filter(|call| {
            call.iter()
                .all(|(key, _)| key.as_deref() != Some(bad.as_str()))
        })
        .flatten()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(
        succeeded,
        [Some(first), Some(last)],
        "applied once each, in order"
    );
    let moved = backend.moved_aside(TABLE).expect("moved_aside");
    assert_eq!(
        moved.iter().map(|m| m.id.as_str()).collect::<Vec<_>>(),
        [bad.as_str()]
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "queue empty"
    );
}
