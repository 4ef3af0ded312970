// SPDX-License-Identifier: Apache-2.0
//! Cases for the queue methods behind batches, dead letters and service
//! start-up: `get_pending_batch`, `remove_batch_from_queue`, `is_pending`,
//! `move_aside` / `moved_aside`, `record_failed_apply` and
//! `tables_with_pending`.

use reedbase_concurrent_core::ReedError;

use crate::Backend;
use crate::queue_entries::assert_remove_not_found;
use crate::samples::{ABSENT_ID, LONG, drain_all, head, queue_tagged};

const TABLE: &str = "test_table";

/// `get_pending_batch` returns the oldest `min(max, pending)` entries in
/// FIFO order without removing them: none for `max == 0` or a never used
/// table, the head first, all of them for a `max` past the count.
pub fn get_pending_batch_returns_the_oldest_without_removing<B: Backend>(backend: &B) {
    let none = backend
        .get_pending_batch("never_used", 3)
        .expect("get_pending_batch");
    assert!(none.is_empty(), "a never used table gives an empty batch");
    let entries = queue_tagged(backend, TABLE, 4);
    let zero = backend
        .get_pending_batch(TABLE, 0)
        .expect("get_pending_batch (0)");
    assert!(zero.is_empty(), "max 0 gives an empty batch");
    let two = backend
        .get_pending_batch(TABLE, 2)
        .expect("get_pending_batch (2)");
    assert_eq!(two, entries[..2], "max 2 gives the two oldest, in order");
    assert_eq!(
        two[0],
        head(backend, TABLE),
        "the batch starts with the head"
    );
    let all = backend
        .get_pending_batch(TABLE, 10)
        .expect("get_pending_batch (10)");
    assert_eq!(all, entries, "max 10 gives all four, in order");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        4,
        "none removed"
    );
}

/// `remove_batch_from_queue` removes the ids given, in order, and stops at
/// the first one that is not queued: the entries before it are removed,
/// those after it stay. An empty batch removes nothing.
pub fn remove_batch_from_queue_stops_at_the_first_failure<B: Backend>(backend: &B) {
    let entries = queue_tagged(backend, TABLE, 4);
    let id = |n: usize| entries[n].0.clone();
    backend
        .remove_batch_from_queue(TABLE, &[])
        .expect("empty batch");
    backend
        .remove_batch_from_queue(TABLE, &[id(0), id(2)])
        .expect("remove a and c");
    assert_eq!(head(backend, TABLE), entries[1], "b is first");
    let count = backend.count_pending(TABLE).expect("count_pending");
    assert_eq!(count, 2, "a and c removed, b and d stay");
    let batch = [id(1), ABSENT_ID.to_string(), id(3)];
    match backend.remove_batch_from_queue(TABLE, &batch) {
        Err(ReedError::QueueEntryNotFound { table, queue_id }) => {
            assert_eq!(
                (table.as_str(), queue_id.as_str()),
                (TABLE, ABSENT_ID),
                "names it"
            );
        }
        other => panic!("a batch with a missing id: expected QueueEntryNotFound, got {other:?}"),
    }
    assert_eq!(
        drain_all(backend, TABLE),
        [entries[3].clone()],
        "b removed, d stays"
    );
}

/// `is_pending` is true from `queue_write` until the entry is removed, and
/// false for an id never queued or queued on another table.
pub fn is_pending_follows_the_entry<B: Backend>(backend: &B) {
    let pending = |table: &str, id: &str| backend.is_pending(table, id).expect("is_pending");
    assert!(!pending(TABLE, ABSENT_ID), "an id never queued");
    let entries = queue_tagged(backend, TABLE, 2);
    let (first, second) = (&entries[0].0, &entries[1].0);
    assert!(
        pending(TABLE, first) && pending(TABLE, second),
        "both queued"
    );
    assert!(
        !pending("other_table", first),
        "not pending on another table"
    );
    backend
        .remove_from_queue(TABLE, first)
        .expect("remove_from_queue");
    assert!(!pending(TABLE, first), "removed");
    assert!(pending(TABLE, second), "the other stays");
}

/// `move_aside` takes a pending entry out of the queue with its reason:
/// the others keep their order, `is_pending` is false, `moved_aside` lists
/// it, and removing or moving it again is `CorruptEntry`; moving an id
/// that was never queued is `QueueEntryNotFound`.
pub fn move_aside_takes_an_entry_out_of_the_queue<B: Backend>(backend: &B) {
    let entries = queue_tagged(backend, TABLE, 3);
    let id = &entries[1].0;
    let moved = backend
        .move_aside(TABLE, id, "checked by hand")
        .expect("move_aside");
    assert_eq!(moved.id, *id, "move_aside names the entry");
    assert!(
        moved.reason.contains("checked by hand"),
        "keeps the reason: {moved:?}"
    );
    assert!(
        !backend.is_pending(TABLE, id).expect("is_pending"),
        "no longer pending"
    );
    let listed = backend.moved_aside(TABLE).expect("moved_aside");
    assert_eq!(listed.len(), 1, "moved_aside lists one entry: {listed:?}");
    assert_eq!(listed[0], moved, "moved_aside lists it as move_aside said");
    match backend.remove_from_queue(TABLE, id) {
        Err(ReedError::CorruptEntry {
            queue_id, reason, ..
        }) => {
            assert_eq!(queue_id, *id, "remove_from_queue of it: names the entry");
            assert!(
                reason.contains("checked by hand"),
                "gives the reason: {reason}"
            );
        }
        other => panic!("remove_from_queue of it: expected CorruptEntry, got {other:?}"),
    }
    match backend.move_aside(TABLE, id, "again") {
        Err(ReedError::CorruptEntry { queue_id, .. }) => assert_eq!(queue_id, *id, "names it"),
        other => panic!("move_aside again: expected CorruptEntry, got {other:?}"),
    }
    match backend.move_aside(TABLE, ABSENT_ID, "never queued") {
        Err(error) if error.is_not_found() => {}
        other => panic!("move_aside of an id never queued: expected not found, got {other:?}"),
    }
    let rest = drain_all(backend, TABLE);
    assert_eq!(
        rest,
        [entries[0].clone(), entries[2].clone()],
        "the others, in order"
    );
    let other = backend
        .moved_aside("other_table")
        .expect("moved_aside of another table");
    assert!(other.is_empty(), "another table has nothing moved aside");
}

/// `record_failed_apply` counts the failures of each pending entry on its
/// own, from 1; an entry that is not pending (never queued, removed, or
/// moved aside) is `QueueEntryNotFound`.
pub fn record_failed_apply_counts_per_entry<B: Backend>(backend: &B) {
    let entries = queue_tagged(backend, TABLE, 3);
    let (a, b) = (&entries[0].0, &entries[1].0);
    let record = |id: &str| {
        backend
            .record_failed_apply(TABLE, id)
            .expect("record_failed_apply")
    };
    assert_eq!(
        [record(a), record(a), record(b), record(a)],
        [1, 2, 1, 3],
        "per entry"
    );
    match backend.record_failed_apply(TABLE, ABSENT_ID) {
        Err(error) if error.is_not_found() => {}
        other => panic!("an id never queued: expected QueueEntryNotFound, got {other:?}"),
    }
    backend
        .remove_from_queue(TABLE, a)
        .expect("remove_from_queue");
    match backend.record_failed_apply(TABLE, a) {
        Err(error) if error.is_not_found() => {}
        other => panic!("a removed entry: expected QueueEntryNotFound, got {other:?}"),
    }
    assert_eq!(
        head(backend, TABLE).0,
        *b,
        "counting changes nothing in the queue"
    );
    assert_remove_not_found(backend, TABLE, a, "remove_from_queue after removal");
    let moved = &entries[2].0;
    backend
        .move_aside(TABLE, moved, "a dead letter")
        .expect("move_aside");
    match backend.record_failed_apply(TABLE, moved) {
        Err(error) if error.is_not_found() => {}
        other => panic!("a moved-aside entry: expected QueueEntryNotFound, got {other:?}"),
    }
}

/// `tables_with_pending` lists, sorted by name, exactly the tables with a
/// pending entry: not one that is only locked, nor one whose entries were
/// all removed or moved aside.
pub fn tables_with_pending_lists_tables_with_entries<B: Backend>(backend: &B) {
    let tables = || backend.tables_with_pending().expect("tables_with_pending");
    assert!(tables().is_empty(), "nothing pending anywhere at first");
    let b = queue_tagged(backend, "b_table", 2);
    let a = queue_tagged(backend, "a_table", 1);
    queue_tagged(backend, "c_table", 1);
    let _held = backend
        .acquire_lock("d_table", LONG)
        .expect("acquire_lock d_table");
    assert_eq!(
        tables(),
        ["a_table", "b_table", "c_table"],
        "sorted, the locked one not"
    );
    for (id, _) in &b {
        backend
            .remove_from_queue("b_table", id)
            .expect("remove_from_queue");
    }
    backend
        .move_aside("a_table", &a[0].0, "checked")
        .expect("move_aside");
    assert_eq!(
        tables(),
        ["c_table"],
        "emptied and moved-aside tables drop out"
    );
}
