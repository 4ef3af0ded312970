// SPDX-License-Identifier: Apache-2.0
//! Cases for the queue capacity: a full queue refuses with `QueueFull`
//! naming the table and the size, and under concurrent producers exactly
//! `capacity()` writes succeed however many threads race for the places.

use std::collections::HashSet;
use std::sync::Barrier;
use std::thread;

use reedbase_concurrent_core::PendingWrite;
use reedbase_concurrent_core::ReedError;

use crate::Backend;
use crate::samples::{fill_queue, head, join, sequenced_write, tagged_write};

const TABLE: &str = "test_table";
const PRODUCERS: usize = 8;
const ROUNDS: usize = 5;
const BOUNDARY_ROUNDS: usize = 20;

/// A write tagged with its producer and its place in that producer's
/// sequence.
fn tagged(producer: usize, seq: usize) -> PendingWrite {
    sequenced_write("p", producer, seq)
}

/// Releases [`PRODUCERS`] threads together through a barrier, each trying
/// `per_thread` writes to `table`; returns the ids accepted and how many
/// writes were refused with `QueueFull`. Any other error fails the case.
fn race_producers<B: Backend>(
    backend: &B,
    table: &str,
    per_thread: usize,
    round: &str,
) -> (Vec<String>, usize) {
    let start = Barrier::new(PRODUCERS);
    let results: Vec<(Vec<String>, usize)> = thread::scope(|scope| {
        let producers: Vec<_> = (0..PRODUCERS)
            .map(|producer| {
                let start = &start;
                scope.spawn(move || {
                    let (mut ids, mut full) = (Vec::new(), 0);
                    start.wait();
                    for seq in 0..per_thread {
                        match backend.queue_write(table, &tagged(producer, seq)) {
                            Ok(id) => ids.push(id),
                            Err(ReedError::QueueFull { .. }) => full += 1,
                            Err(other) => panic!(
                                "{round}, producer {producer}: queue_write gave {other:?}, expected Ok or QueueFull"
                            ),
                        }
                    }
                    (ids, full)
                })
            })
            .collect();
        producers.into_iter().map(join).collect()
    });
    let refused = results.iter().map(|(_, full)| full).sum();
    let accepted = results.into_iter().flat_map(|(ids, _)| ids).collect();
    (accepted, refused)
}

/// Panics unless `accepted` holds exactly `expected` distinct ids, the rest
/// of `attempts` were refused, and the table holds `capacity()` entries.
#[track_caller]
fn assert_exactly<B: Backend>(
    backend: &B,
    table: &str,
    race: (Vec<String>, usize),
    expected: usize,
    attempts: usize,
    round: &str,
) {
    let (accepted, refused) = race;
    let capacity = backend.capacity();
    assert_eq!(
        accepted.len(),
        expected,
        "{round}: {attempts} writes from {PRODUCERS} threads with {expected} free places (capacity {capacity}): \
         {} accepted, {refused} refused",
        accepted.len()
    );
    assert_eq!(refused, attempts - expected, "{round}: QueueFull count");
    let distinct: HashSet<&String> = accepted.iter().collect();
    assert_eq!(
        distinct.len(),
        accepted.len(),
        "{round}: an id was handed out twice"
    );
    let count = backend.count_pending(table).expect("count_pending");
    assert_eq!(
        count, capacity,
        "{round}: count_pending after the producers"
    );
}

/// Capacity holds under concurrent producers: in each of five rounds (on
/// five tables), eight threads released together by a barrier each try
/// `2 * capacity / 8 + 1` writes; exactly `capacity()` succeed, with
/// distinct ids, the rest get `QueueFull`, and `count_pending` is
/// `capacity()`.
pub fn capacity_holds_under_concurrent_producers<B: Backend>(backend: &B) {
    let capacity = backend.capacity();
    let per_thread = 2 * capacity / PRODUCERS + 1;
    for round in 0..ROUNDS {
        let table = format!("capacity_round_{round}");
        let what = format!("round {round}");
        let race = race_producers(backend, &table, per_thread, &what);
        assert_exactly(
            backend,
            &table,
            race,
            capacity,
            PRODUCERS * per_thread,
            &what,
        );
    }
}

/// Capacity holds when producers race for the last few places, where an
/// unsynchronised count-then-write lets two through: with the queue full,
/// twenty times over, four entries are removed and eight threads released
/// together each try two writes; exactly four succeed.
pub fn capacity_holds_when_producers_race_for_last_places<B: Backend>(backend: &B) {
    let table = "capacity_boundary";
    let capacity = backend.capacity();
    let free = (PRODUCERS / 2).min(capacity);
    for seq in 0..capacity {
        let write = tagged(PRODUCERS, seq);
        backend
            .queue_write(table, &write)
            .expect("queue_write filling the queue");
    }
    for round in 0..BOUNDARY_ROUNDS {
        for _ in 0..free {
            let (id, _) = head(backend, table);
            backend
                .remove_from_queue(table, &id)
                .expect("remove_from_queue");
        }
        let what = format!("boundary round {round}");
        let race = race_producers(backend, table, 2, &what);
        assert_exactly(backend, table, race, free, 2 * PRODUCERS, &what);
    }
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
