// SPDX-License-Identifier: Apache-2.0
//! Cases for a queue read by one thread while another writes it: a reader
//! sees each entry whole or not at all, never a torn one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};

use crate::Backend;
use crate::samples::{SetOnDrop, join};

const TABLE: &str = "test_table";

const RACING_ROWS: usize = 100;

/// Entry `n` of the racing cases: 100 rows, fully determined by `n`.
fn racing_write(n: usize) -> PendingWrite {
    let payload = format!("entry {n} ").repeat(12);
    let rows = (0..RACING_ROWS)
        .map(|row| {
            CsvRow::new(
                format!("entry-{n}-row-{row:03}"),
                vec![n.to_string(), payload.clone()],
            )
        })
        .collect();
    PendingWrite {
        rows,
        timestamp: 1_700_000_000_000_000_000 + n as u128,
        operation: WriteOperation::Insert,
    }
}

/// The entry number of `write` if it is exactly one of `written`; panics
/// naming what is wrong with it otherwise.
#[track_caller]
fn whole_racing_entry(write: &PendingWrite, written: &[PendingWrite], what: &str) -> usize {
    let n = write
        .rows
        .first()
        .and_then(|row| row.values.first())
        .and_then(|value| value.parse::<usize>().ok())
        .filter(|n| *n < written.len())
        .unwrap_or_else(|| {
            panic!(
                "{what}: entry with {} rows is not one that was written",
                write.rows.len()
            )
        });
    assert_eq!(
        write.rows.len(),
        RACING_ROWS,
        "{what}: entry {n} has {} rows",
        write.rows.len()
    );
    assert!(
        *write == written[n],
        "{what}: entry {n} differs from what was written"
    );
    n
}

/// Races one writer against `reader`: a thread queues `min(capacity, 60)`
/// entries of [`racing_write`] and sets the flag it hands the reader once it
/// is done (or failed), while `reader` runs in another thread with the
/// entries written; returns them and what the reader returned.
fn race_writer<B: Backend, R: Send>(
    backend: &B,
    reader: impl FnOnce(&[PendingWrite], &AtomicBool) -> R + Send,
) -> (Vec<PendingWrite>, R) {
    let count = backend.capacity().min(60);
    let written: Vec<PendingWrite> = (0..count).map(racing_write).collect();
    let done = AtomicBool::new(false);
    let result = thread::scope(|scope| {
        scope.spawn(|| {
            let _done = SetOnDrop(&done);
            for (n, write) in written.iter().enumerate() {
                backend
                    .queue_write(TABLE, write)
                    .unwrap_or_else(|e| panic!("queue_write {n}: {e}"));
            }
        });
        let reader = scope.spawn(|| reader(&written, &done));
        join(reader)
    });
    (written, result)
}

/// A reader racing a writer never sees a partial entry: while one thread
/// queues `min(capacity, 60)` entries of 100 rows, another calls
/// `get_next_pending` in a loop; every call is `Ok`, and every entry it sees
/// is the first one written, whole.
pub fn reader_racing_writer_sees_whole_entries<B: Backend>(backend: &B) {
    let (written, seen) = race_writer(backend, |written, done| {
        let mut seen = 0;
        loop {
            let finished = done.load(Ordering::SeqCst);
            let got = backend
                .get_next_pending(TABLE)
                .expect("get_next_pending racing the writer");
            if let Some((_, write)) = got {
                let n = whole_racing_entry(&write, written, "get_next_pending racing the writer");
                assert_eq!(
                    n, 0,
                    "get_next_pending returned entry {n}, not the oldest (0)"
                );
                seen += 1;
            }
            if finished {
                return seen;
            }
            // Let the writer in: a reader that takes the backend's lock
            // back at once can starve it on a small machine.
            thread::yield_now();
        }
    });
    assert!(
        seen > 0,
        "the reader never saw an entry, even after the writer finished"
    );
    assert_eq!(
        backend.count_pending(TABLE).expect("count_pending"),
        written.len(),
        "count after the race"
    );
}

/// As [`reader_racing_writer_sees_whole_entries`], but the reader also
/// removes each entry it sees, so that it reads every entry as soon as it
/// appears: every entry is whole, each is seen once, in the order written.
pub fn reader_draining_while_writer_queues_sees_whole_entries<B: Backend>(backend: &B) {
    let (written, order) = race_writer(backend, |written, done| {
        let mut order = Vec::new();
        loop {
            let finished = done.load(Ordering::SeqCst);
            match backend
                .get_next_pending(TABLE)
                .expect("get_next_pending racing the writer")
            {
                Some((id, write)) => {
                    order.push(whole_racing_entry(
                        &write,
                        written,
                        "get_next_pending racing the writer",
                    ));
                    backend
                        .remove_from_queue(TABLE, &id)
                        .expect("remove_from_queue racing the writer");
                    thread::yield_now();
                }
                None if finished => return order,
                None => thread::yield_now(),
            }
        }
    });
    let expected: Vec<usize> = (0..written.len()).collect();
    assert_eq!(
        order, expected,
        "entries seen by the draining reader, in order"
    );
}
