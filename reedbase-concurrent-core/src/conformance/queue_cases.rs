// SPDX-License-Identifier: Apache-2.0
//! Cases for [`QueueBackend`](crate::QueueBackend) that the old module's
//! twelve queue tests checked, written against the trait.

use std::thread;
use std::time::Duration;

use super::Backend;
use super::samples::{ABSENT_ID, drain_all, fill_queue, head, operation_write, tagged_write};
use crate::types::{CsvRow, PendingWrite, WriteOperation};

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

/// Old `test_queue_full`: the queue takes `capacity()` writes (100 by
/// default) and refuses the next one with `QueueFull`.
pub fn queue_write_beyond_capacity_is_queue_full<B: Backend>(backend: &B) {
    let capacity = backend.capacity();
    fill_queue(backend, TABLE);
    let error = backend
        .queue_write(TABLE, &tagged_write("over"))
        .expect_err("queue_write past capacity");
    assert!(
        error.is_queue_full(),
        "past capacity: expected QueueFull, got {error:?}"
    );
    let count = backend.count_pending(TABLE).expect("count_pending");
    assert_eq!(count, capacity, "count after the refused write");
}

/// Old `test_fifo_order`: of two writes 10 ms apart, the first comes out
/// first.
pub fn fifo_two_writes_apart<B: Backend>(backend: &B) {
    let first = tagged_write("first");
    let first_id = backend
        .queue_write(TABLE, &first)
        .expect("first queue_write");
    thread::sleep(Duration::from_millis(10));
    let second = tagged_write("second");
    let second_id = backend
        .queue_write(TABLE, &second)
        .expect("second queue_write");
    assert_eq!(
        head(backend, TABLE),
        (first_id.clone(), first),
        "older first"
    );
    backend
        .remove_from_queue(TABLE, &first_id)
        .expect("remove_from_queue");
    assert_eq!(head(backend, TABLE), (second_id, second), "newer second");
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

/// Old `test_multiple_rows`: a write of three rows keeps their order.
pub fn rows_keep_their_order<B: Backend>(backend: &B) {
    let write = PendingWrite::new(
        WriteOperation::Insert,
        vec![
            CsvRow::new("user:1", ["Alice", "alice@example.com"]),
            CsvRow::new("user:2", ["Bob", "bob@example.com"]),
            CsvRow::new("user:3", ["Carol", "carol@example.com"]),
        ],
    );
    backend.queue_write(TABLE, &write).expect("queue_write");
    let (_, got) = head(backend, TABLE);
    let keys: Vec<&str> = got.rows.iter().map(|row| row.key.as_str()).collect();
    assert_eq!(
        keys,
        ["user:1", "user:2", "user:3"],
        "row order after the queue"
    );
    assert_eq!(got.rows, write.rows, "rows after the queue");
}

/// Old `test_different_tables`: two tables have separate queues.
pub fn tables_have_separate_queues<B: Backend>(backend: &B) {
    let one = tagged_write("table1");
    let two = [tagged_write("table2"), tagged_write("table2-b")];
    backend
        .queue_write("table1", &one)
        .expect("queue_write table1");
    for write in &two {
        backend
            .queue_write("table2", write)
            .expect("queue_write table2");
    }
    assert_eq!(
        backend.count_pending("table1").expect("count_pending"),
        1,
        "table1"
    );
    assert_eq!(
        backend.count_pending("table2").expect("count_pending"),
        2,
        "table2"
    );
    assert_eq!(head(backend, "table1").1, one, "head of table1");
    let mut table2: Vec<Vec<CsvRow>> = drain_all(backend, "table2")
        .into_iter()
        .map(|(_, write)| write.rows)
        .collect();
    table2.sort_by_key(|rows| format!("{rows:?}"));
    let mut expected: Vec<Vec<CsvRow>> = two.into_iter().map(|write| write.rows).collect();
    expected.sort_by_key(|rows| format!("{rows:?}"));
    assert_eq!(table2, expected, "table2 holds exactly its own two writes");
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

/// Old `test_queue_ordering`: five writes 10 ms apart drain (get, then
/// remove) in the order written, so in timestamp order.
pub fn drain_follows_timestamp_order<B: Backend>(backend: &B) {
    let mut written = Vec::new();
    for n in 0..5 {
        if n > 0 {
            thread::sleep(Duration::from_millis(10));
        }
        let write = tagged_write(&n.to_string());
        backend.queue_write(TABLE, &write).expect("queue_write");
        written.push(write);
    }
    let drained: Vec<PendingWrite> = drain_all(backend, TABLE)
        .into_iter()
        .map(|(_, write)| write)
        .collect();
    assert_eq!(drained, written, "entries drain in the order written");
    assert!(
        drained
            .windows(2)
            .all(|pair| pair[0].timestamp < pair[1].timestamp),
        "timestamps of the drained entries increase"
    );
}
