// SPDX-License-Identifier: Apache-2.0
//! Cases for [`QueueBackend`](crate::QueueBackend) that the old module's
//! twelve queue tests checked, written against the trait.

use std::thread;
use std::time::Duration;

use super::Backend;
use super::samples::{
    ABSENT_ID, drain_all, err, fill_queue, head, ok, operation_write, tagged_write,
};
use crate::types::{CsvRow, PendingWrite, WriteOperation};

const TABLE: &str = "test_table";

/// Old `test_queue_write_and_get`: the entry queued comes back from
/// `get_next_pending` under the same id with the same content.
pub fn queue_write_then_get_returns_it<B: Backend>(backend: &B) {
    let write = tagged_write("one");
    let id = ok(backend.queue_write(TABLE, &write), "queue_write");
    let (got_id, got) = head(backend.get_next_pending(TABLE), "get_next_pending");
    assert_eq!(
        got_id, id,
        "get_next_pending should return the id queue_write gave"
    );
    assert_eq!(
        got, write,
        "get_next_pending should return the write as queued"
    );
}

/// Old `test_remove_from_queue`: removing the one entry brings the count
/// from 1 to 0.
pub fn remove_from_queue_removes_entry<B: Backend>(backend: &B) {
    let id = ok(
        backend.queue_write(TABLE, &tagged_write("one")),
        "queue_write",
    );
    assert_eq!(
        ok(backend.count_pending(TABLE), "count_pending"),
        1,
        "count before remove"
    );
    ok(backend.remove_from_queue(TABLE, &id), "remove_from_queue");
    assert_eq!(
        ok(backend.count_pending(TABLE), "count_pending"),
        0,
        "count after remove"
    );
}

/// Old `test_count_pending_empty`: a never used queue counts 0.
pub fn count_pending_empty_is_zero<B: Backend>(backend: &B) {
    assert_eq!(
        ok(
            backend.count_pending(TABLE),
            "count_pending on a never used table"
        ),
        0,
        "count_pending of a never used queue"
    );
}

/// Old `test_count_pending_multiple`: two writes count 2.
pub fn count_pending_counts_writes<B: Backend>(backend: &B) {
    ok(
        backend.queue_write(TABLE, &tagged_write("one")),
        "first queue_write",
    );
    ok(
        backend.queue_write(TABLE, &tagged_write("two")),
        "second queue_write",
    );
    assert_eq!(
        ok(backend.count_pending(TABLE), "count_pending"),
        2,
        "count after two writes"
    );
}

/// Old `test_queue_full`: the queue takes `capacity()` writes (100 by
/// default) and refuses the next one with `QueueFull`.
pub fn queue_write_beyond_capacity_is_queue_full<B: Backend>(backend: &B) {
    let capacity = backend.capacity();
    fill_queue(backend, TABLE, "queue_write");
    let error = err(
        backend.queue_write(TABLE, &tagged_write("over")),
        &format!("queue_write {} with capacity {capacity}", capacity + 1),
    );
    assert!(
        error.is_queue_full(),
        "write past capacity: expected QueueFull, got {error:?}"
    );
    assert_eq!(
        ok(backend.count_pending(TABLE), "count_pending"),
        capacity,
        "count after the refused write"
    );
}

/// Old `test_fifo_order`: of two writes 10 ms apart, the first comes out
/// first.
pub fn fifo_two_writes_apart<B: Backend>(backend: &B) {
    let first = tagged_write("first");
    let first_id = ok(backend.queue_write(TABLE, &first), "first queue_write");
    thread::sleep(Duration::from_millis(10));
    let second = tagged_write("second");
    let second_id = ok(backend.queue_write(TABLE, &second), "second queue_write");
    let got = head(backend.get_next_pending(TABLE), "get_next_pending");
    assert_eq!(
        got,
        (first_id.clone(), first),
        "the older write should come out first"
    );
    ok(
        backend.remove_from_queue(TABLE, &first_id),
        "remove_from_queue",
    );
    let got = head(
        backend.get_next_pending(TABLE),
        "get_next_pending after removing the first",
    );
    assert_eq!(
        got,
        (second_id, second),
        "the newer write should come out second"
    );
}

/// Old `test_get_next_pending_empty`: an empty queue gives `None`.
pub fn get_next_pending_empty_is_none<B: Backend>(backend: &B) {
    let got = ok(
        backend.get_next_pending(TABLE),
        "get_next_pending on a never used table",
    );
    assert!(
        got.is_none(),
        "get_next_pending on an empty queue should be None, got {got:?}"
    );
}

/// Old `test_different_operations`: Insert, Update and Delete writes are all
/// queued and counted, and come back with their operation.
pub fn every_operation_is_queued<B: Backend>(backend: &B) {
    let operations = [
        WriteOperation::Insert,
        WriteOperation::Update,
        WriteOperation::Delete,
    ];
    for operation in operations {
        ok(
            backend.queue_write(
                TABLE,
                &operation_write(operation, &format!("{operation:?}")),
            ),
            &format!("queue_write of an {operation:?}"),
        );
    }
    assert_eq!(
        ok(backend.count_pending(TABLE), "count_pending"),
        3,
        "count after three writes"
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
        vec!["Delete", "Insert", "Update"],
        "each operation should be queued and kept once"
    );
}

/// Old `test_multiple_rows`: a write of three rows keeps their order.
pub fn rows_keep_their_order<B: Backend>(backend: &B) {
    let write = PendingWrite::new(
        WriteOperation::Insert,
        vec![
            CsvRow::new("user:1", vec!["Alice", "alice@example.com"]),
            CsvRow::new("user:2", vec!["Bob", "bob@example.com"]),
            CsvRow::new("user:3", vec!["Carol", "carol@example.com"]),
        ],
    );
    ok(backend.queue_write(TABLE, &write), "queue_write");
    let (_, got) = head(backend.get_next_pending(TABLE), "get_next_pending");
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
    let two = tagged_write("table2");
    ok(backend.queue_write("table1", &one), "queue_write table1");
    ok(backend.queue_write("table2", &two), "queue_write table2");
    ok(
        backend.queue_write("table2", &tagged_write("table2-b")),
        "queue_write table2",
    );
    assert_eq!(
        ok(backend.count_pending("table1"), "count_pending table1"),
        1,
        "count of table1"
    );
    assert_eq!(
        ok(backend.count_pending("table2"), "count_pending table2"),
        2,
        "count of table2"
    );
    assert_eq!(
        head(backend.get_next_pending("table1"), "get table1").1,
        one,
        "head of table1"
    );
    let mut table2: Vec<PendingWrite> = drain_all(backend, "table2")
        .into_iter()
        .map(|(_, write)| write)
        .collect();
    table2.sort_by_key(|w| format!("{:?}", w.rows));
    let mut expected = [two, tagged_write("table2-b")];
    expected.sort_by_key(|w| format!("{:?}", w.rows));
    assert_eq!(
        table2.iter().map(|w| &w.rows).collect::<Vec<_>>(),
        expected.iter().map(|w| &w.rows).collect::<Vec<_>>(),
        "table2 should hold exactly its own two writes"
    );
}

/// Old `test_remove_nonexistent`: removing an id that is not queued is an
/// error.
pub fn remove_missing_id_is_error<B: Backend>(backend: &B) {
    let error = err(
        backend.remove_from_queue(TABLE, ABSENT_ID),
        "remove_from_queue of an id that was never queued",
    );
    assert!(
        !error.is_invalid_input(),
        "a well-formed id that is not queued should not be an input error, got {error:?}"
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
        ok(
            backend.queue_write(TABLE, &write),
            &format!("queue_write {n}"),
        );
        written.push(write);
    }
    let mut drained = Vec::new();
    while let Some((id, write)) = ok(backend.get_next_pending(TABLE), "get_next_pending") {
        ok(backend.remove_from_queue(TABLE, &id), "remove_from_queue");
        drained.push(write);
        assert!(
            drained.len() <= written.len(),
            "drained more entries than were written"
        );
    }
    assert_eq!(
        drained, written,
        "entries should drain in the order written"
    );
    assert!(
        drained
            .windows(2)
            .all(|pair| pair[0].timestamp < pair[1].timestamp),
        "timestamps of the drained entries should increase"
    );
}
