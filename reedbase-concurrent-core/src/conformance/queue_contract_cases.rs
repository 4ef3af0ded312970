// SPDX-License-Identifier: Apache-2.0
//! Cases for the queue contracts that the new design adds to the old
//! module's behaviour: exact errors, non-destructive reads, exact round
//! trips, strict FIFO without sleeps, unique ids and independent tables.

use std::collections::HashSet;

use super::Backend;
use super::samples::{ABSENT_ID, LONG, drain_all, fill_queue, head, queue_tagged, tagged_write};
use crate::error::ReedError;
use crate::types::{CsvRow, PendingWrite, WriteOperation};
use crate::validation::validate_queue_id;

const TABLE: &str = "test_table";

/// Removes `id` from `table` and panics unless that is `QueueEntryNotFound`
/// for `table` and `id`.
#[track_caller]
pub(crate) fn assert_remove_not_found<B: Backend>(backend: &B, table: &str, id: &str, what: &str) {
    match backend.remove_from_queue(table, id).expect_err(what) {
        ReedError::QueueEntryNotFound {
            table: named_table,
            queue_id,
        } => {
            assert_eq!(
                named_table, table,
                "{what}: QueueEntryNotFound names the wrong table"
            );
            assert_eq!(
                queue_id, id,
                "{what}: QueueEntryNotFound names the wrong id"
            );
        }
        other => panic!("{what}: expected QueueEntryNotFound, got {other:?}"),
    }
}

/// Removing a well-formed id that is not queued gives `QueueEntryNotFound`
/// naming the table and the id, on a never used queue and on one with
/// entries (which stay).
pub fn remove_missing_id_is_not_found<B: Backend>(backend: &B) {
    let what = "remove_from_queue of a missing id on a never used table";
    assert_remove_not_found(backend, TABLE, ABSENT_ID, what);
    backend
        .queue_write(TABLE, &tagged_write("stays"))
        .expect("queue_write");
    let what = "remove_from_queue of a missing id on a table with an entry";
    assert_remove_not_found(backend, TABLE, ABSENT_ID, what);
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "entry stays"
    );
}

/// Removing the same id twice: the second gives `QueueEntryNotFound`.
pub fn remove_twice_is_not_found<B: Backend>(backend: &B) {
    let ids = queue_tagged(backend, TABLE, 2);
    let id = &ids[0].0;
    backend
        .remove_from_queue(TABLE, id)
        .expect("first remove_from_queue");
    assert_remove_not_found(
        backend,
        TABLE,
        id,
        "second remove_from_queue of the same id",
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "other stays"
    );
}

/// `get_next_pending` does not remove: called twice, it returns the same
/// entry, and the count is unchanged.
pub fn get_next_pending_does_not_remove<B: Backend>(backend: &B) {
    queue_tagged(backend, TABLE, 2);
    let once = head(backend, TABLE);
    let twice = head(backend, TABLE);
    assert_eq!(
        once, twice,
        "two get_next_pending calls return the same entry"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        2,
        "after two gets"
    );
}

/// Removing an entry that is not the head works, and the others keep their
/// order.
pub fn remove_non_head_keeps_order<B: Backend>(backend: &B) {
    let entries = queue_tagged(backend, TABLE, 4);
    backend
        .remove_from_queue(TABLE, &entries[2].0)
        .expect("remove the third entry");
    backend
        .remove_from_queue(TABLE, &entries[1].0)
        .expect("remove the second entry");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        2,
        "two removed"
    );
    let rest: Vec<(String, PendingWrite)> = drain_all(backend, TABLE);
    assert_eq!(
        rest,
        [entries[0].clone(), entries[3].clone()],
        "the rest in order"
    );
}

/// `QueueFull` names the table and reports `size == capacity()`.
pub fn queue_full_names_table_and_size<B: Backend>(backend: &B) {
    let capacity = backend.capacity();
    fill_queue(backend, TABLE);
    let over = backend.queue_write(TABLE, &tagged_write("over"));
    match over.expect_err("queue_write past capacity") {
        ReedError::QueueFull { table, size } => {
            assert_eq!(table, TABLE, "QueueFull names the table");
            assert_eq!(size, capacity, "QueueFull reports size == capacity()");
        }
        other => panic!("queue_write past capacity: expected QueueFull, got {other:?}"),
    }
}

/// Writes come back exactly as queued: every operation, row order, rows
/// with no values and with empty values, Unicode, characters JSON escapes,
/// no rows at all, and timestamps from 0 to `u64::MAX`.
pub fn pending_write_survives_exactly<B: Backend>(backend: &B) {
    let writes = [
        PendingWrite {
            rows: vec![
                CsvRow::new("z-last", ["1"]),
                CsvRow::new("a-first", vec![]),
                CsvRow::new("m-middle", ["", "", ""]),
            ],
            timestamp: 0,
            operation: WriteOperation::Update,
        },
        PendingWrite {
            rows: vec![
                CsvRow::new("grüße", ["世界", "🚀 emoji", "naïve café"]),
                CsvRow::new(
                    "quote\"back\\slash",
                    ["tab\there", "{\"json\": [1]}", " spaced "],
                ),
            ],
            timestamp: u128::from(u64::MAX),
            operation: WriteOperation::Delete,
        },
        PendingWrite {
            rows: Vec::new(),
            timestamp: 1,
            operation: WriteOperation::Insert,
        },
        PendingWrite {
            rows: vec![CsvRow::new("user:1", ["Alice", "alice@example.com"])],
            timestamp: 1_732_600_000_000_000_000,
            operation: WriteOperation::Insert,
        },
    ];
    let ids: Vec<String> = writes
        .iter()
        .map(|write| backend.queue_write(TABLE, write).expect("queue_write"))
        .collect();
    // Matched by id: what is checked here is the content, not the order.
    let drained = drain_all(backend, TABLE);
    assert_eq!(drained.len(), writes.len(), "every write comes back once");
    for (id, got) in &drained {
        let index = ids
            .iter()
            .position(|queued| queued == id)
            .unwrap_or_else(|| panic!("get_next_pending returned unknown id {id:?}"));
        assert_eq!(
            got, &writes[index],
            "write {index} comes back exactly as queued"
        );
    }
}

/// Fifty writes back to back, with no sleep between them, come out in the
/// order written (fewer if `capacity()` is smaller).
pub fn fifo_without_sleeps<B: Backend>(backend: &B) {
    let count = backend.capacity().min(50);
    let written = queue_tagged(backend, TABLE, count);
    for (position, expected) in written.iter().enumerate() {
        let got = head(backend, TABLE);
        assert_eq!(
            &got, expected,
            "entry {position} of {count} written back to back came out of order"
        );
        backend
            .remove_from_queue(TABLE, &got.0)
            .expect("remove_from_queue");
    }
}

/// Ids from `queue_write` are distinct, pass `validate_queue_id`, and are
/// not reused after their entries are removed.
pub fn queue_ids_are_distinct_and_valid<B: Backend>(backend: &B) {
    let count = backend.capacity().min(20);
    let mut seen = HashSet::new();
    for round in 0..2 {
        let entries = queue_tagged(backend, TABLE, count);
        for (id, _) in &entries {
            if let Err(error) = validate_queue_id(id) {
                panic!("queue_write returned id {id:?}, which fails validate_queue_id: {error}");
            }
            assert!(
                seen.insert(id.clone()),
                "round {round}: id {id:?} handed out twice"
            );
        }
        for (id, _) in &entries {
            backend
                .remove_from_queue(TABLE, id)
                .expect("remove_from_queue");
        }
    }
}

/// Two tables' locks and queues do not affect each other: a held lock, a
/// full queue, a removal, and an id of the other table.
pub fn tables_are_independent<B: Backend>(backend: &B) {
    let held = backend
        .acquire_lock("alpha", LONG)
        .expect("acquire_lock alpha");
    assert!(
        !backend.is_locked("beta").expect("is_locked beta"),
        "beta not locked"
    );
    let beta_guard = backend
        .try_acquire_lock("beta")
        .expect("try_acquire_lock beta");
    assert!(
        beta_guard.is_some(),
        "beta's lock is free while alpha's is held"
    );
    drop(beta_guard);
    drop(held);

    let capacity = backend.capacity();
    let alpha_ids = fill_queue(backend, "alpha");
    let beta_id = backend
        .queue_write("beta", &tagged_write("beta"))
        .expect("queue_write beta while alpha is full");
    let what = "remove_from_queue on beta of an id queued on alpha";
    assert_remove_not_found(backend, "beta", &alpha_ids[0], what);
    assert_eq!(
        backend.count_pending("alpha").expect("count alpha"),
        capacity,
        "alpha"
    );
    backend
        .remove_from_queue("beta", &beta_id)
        .expect("remove_from_queue beta");
    assert_eq!(
        backend.count_pending("alpha").expect("count alpha"),
        capacity,
        "alpha"
    );
    assert_eq!(
        backend.count_pending("beta").expect("count beta"),
        0,
        "beta"
    );
}
