// SPDX-License-Identifier: Apache-2.0
//! Cases for the entries of [`QueueBackend`](reedbase_concurrent_core::QueueBackend):
//! a queued write comes back exactly, reads do not remove, removal of a
//! missing or removed id is `QueueEntryNotFound`, counts follow the queue,
//! and ids are distinct and valid.

use std::collections::HashSet;

use reedbase_concurrent_core::validate_queue_id;
use reedbase_concurrent_core::{CsvRow, PendingWrite, ReedError, WriteOperation};

use crate::Backend;
use crate::samples::{ABSENT_ID, drain_all, head, operation_write, queue_tagged, tagged_write};

const TABLE: &str = "test_table";

/// Old `test_queue_write_and_get`: the entry queued comes back from
/// `get_next_pending` under the same id with the same content.
pub fn queue_write_then_get_returns_it<B: Backend>(backend: &B) {
    let write = tagged_write("one");
    let id = backend.queue_write(TABLE, &write).expect("queue_write");
    assert_eq!(
        head(backend, TABLE),
        (id, write),
        "the entry comes back as queued"
    );
}

/// Old `test_remove_from_queue`: removing the one entry brings the count
/// from 1 to 0.
pub fn remove_from_queue_removes_entry<B: Backend>(backend: &B) {
    let id = backend
        .queue_write(TABLE, &tagged_write("one"))
        .expect("queue_write");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        1,
        "before remove"
    );
    backend
        .remove_from_queue(TABLE, &id)
        .expect("remove_from_queue");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "after remove"
    );
}

/// Old `test_count_pending_empty`: a never used queue counts 0.
pub fn count_pending_empty_is_zero<B: Backend>(backend: &B) {
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        0,
        "never used"
    );
}

/// Old `test_count_pending_multiple`: two writes count 2.
pub fn count_pending_counts_writes<B: Backend>(backend: &B) {
    backend
        .queue_write(TABLE, &tagged_write("one"))
        .expect("first queue_write");
    backend
        .queue_write(TABLE, &tagged_write("two"))
        .expect("second queue_write");
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        2,
        "two writes"
    );
}

/// Old `test_get_next_pending_empty`: an empty queue gives `None`.
pub fn get_next_pending_empty_is_none<B: Backend>(backend: &B) {
    let got = backend.get_next_pending(TABLE).expect("get_next_pending");
    assert!(got.is_none(), "an empty queue gives None, got {got:?}");
}

/// Old `test_different_operations`: Insert, Update and Delete writes are all
/// queued and counted, and come back with their operation.
pub fn every_operation_is_queued<B: Backend>(backend: &B) {
    for operation in [
        WriteOperation::Insert,
        WriteOperation::Update,
        WriteOperation::Delete,
    ] {
        let write = operation_write(operation, &format!("{operation:?}"));
        backend.queue_write(TABLE, &write).expect("queue_write");
    }
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        3,
        "three writes"
    );
    // What is checked here is that each operation is kept; order has cases
    // of its own (fifo_two_writes_apart, fifo_without_sleeps).
    let mut kept: Vec<String> = drain_all(backend, TABLE)
        .iter()
        .map(|(_, write)| format!("{:?}", write.operation))
        .collect();
    kept.sort();
    assert_eq!(
        kept,
        ["Delete", "Insert", "Update"],
        "each operation kept once"
    );
}

/// Old `test_remove_nonexistent`: removing an id that is not queued is an
/// error.
pub fn remove_missing_id_is_error<B: Backend>(backend: &B) {
    let error = backend
        .remove_from_queue(TABLE, ABSENT_ID)
        .expect_err("remove_from_queue of an id that was never queued");
    assert!(
        !error.is_invalid_input(),
        "a well-formed id that is not queued is no input error, got {error:?}"
    );
}

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
