// SPDX-License-Identifier: Apache-2.0
//! Cases for the order of a queue: strict FIFO with and without time
//! between writes, rows in their order, removal of a non-head entry keeping
//! the others in order, and tables with queues of their own.

use std::thread;
use std::time::Duration;

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};

use crate::Backend;
use crate::queue_entries::assert_remove_not_found;
use crate::samples::{LONG, drain_all, fill_queue, head, queue_tagged, tagged_write};

const TABLE: &str = "test_table";

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
