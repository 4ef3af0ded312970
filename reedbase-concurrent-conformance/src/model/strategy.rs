// SPDX-License-Identifier: Apache-2.0
//! The proptest strategies that generate traces, the fixed coverage trace
//! that takes every kind of step whatever the seed, and the epilogue that
//! ends every checked trace.

use std::fmt::Debug;

use proptest::prelude::*;
use proptest::sample::Index;
use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};

use super::op::{IdArg, Mode, Op, POISON, TABLES, TableArg};
use crate::bad_inputs::{UNKNOWN_IDS, bad_queue_ids, bad_table_names};

/// A table: one of [`TABLES`] mostly, a bad name sometimes.
pub fn table_arg() -> BoxedStrategy<TableArg> {
    prop_oneof![
        90 => (0..TABLES.len()).prop_map(TableArg::Valid),
        10 => (0..bad_table_names().len()).prop_map(TableArg::Bad),
    ]
    .boxed()
}

fn valid_write() -> BoxedStrategy<PendingWrite> {
    let operation = prop_oneof![
        Just(WriteOperation::Insert),
        Just(WriteOperation::Update),
        Just(WriteOperation::Delete),
    ];
    let row = (
        "[a-z]{1,4}:[0-9]{1,2}",
        prop::collection::vec("[a-zA-Z0-9 @.é]{0,6}", 0..3),
    )
        .prop_map(|(key, values)| CsvRow { key, values });
    (operation, prop::collection::vec(row, 0..3), any::<u64>())
        .prop_map(|(operation, rows, timestamp)| PendingWrite {
            rows,
            timestamp: u128::from(timestamp),
            operation,
        })
        .boxed()
}

/// A valid write whose first row the trace's `apply` refuses.
fn refused_write() -> BoxedStrategy<PendingWrite> {
    (valid_write(), 0..100u8)
        .prop_map(|(mut write, n)| {
            let row = CsvRow::new(format!("{POISON}{n}"), ["refused"]);
            write.rows.insert(0, row);
            write
        })
        .boxed()
}

/// A write with one row that breaks a row rule, at any place.
fn invalid_write() -> BoxedStrategy<PendingWrite> {
    (valid_write(), 0..6u8, any::<Index>())
        .prop_map(|(mut write, flaw, at)| {
            if write.rows.is_empty() {
                write.rows.push(CsvRow::new("k:1", ["v"]));
            }
            let at = at.index(write.rows.len());
            let row = &mut write.rows[at];
            match flaw {
                0 => row.key.clear(),
                1 => row.values.push("a|b".to_string()),
                2 => row.key.push('\n'),
                3 => row.values.push("carriage\rreturn".to_string()),
                4 => row.key.push_str("|1"),
                _ => row.values.push("escape\u{1b}".to_string()),
            }
            write
        })
        .boxed()
}

/// A write: valid mostly, sometimes one the trace's `apply` refuses
/// ([`is_refused`](super::is_refused)) or one with an invalid row.
pub fn write_arg() -> BoxedStrategy<PendingWrite> {
    prop_oneof![8 => valid_write(), 1 => refused_write(), 1 => invalid_write()].boxed()
}

fn id_arg() -> BoxedStrategy<IdArg> {
    prop_oneof![
        4 => any::<u8>().prop_map(IdArg::Issued),
        6 => any::<u8>().prop_map(IdArg::Pending),
        1 => (0..UNKNOWN_IDS.len()).prop_map(IdArg::Unknown),
        1 => (0..bad_queue_ids().len()).prop_map(IdArg::Malformed),
    ]
    .boxed()
}

fn mode() -> BoxedStrategy<Mode> {
    let dead_letters = prop_oneof![2 => Just(None), 1 => (1..=2u32).prop_map(Some)];
    (any::<bool>(), 1..=3usize, dead_letters)
        .prop_map(|(batch, max_batch, move_aside_after)| Mode {
            batch,
            max_batch,
            move_aside_after,
        })
        .boxed()
}

/// One step of the model's own operations.
fn generic_op<X: Clone + Debug + 'static>() -> BoxedStrategy<Op<X>> {
    let t = table_arg;
    prop_oneof![
        14 => (t(), write_arg()).prop_map(|(t, w)| Op::QueueWrite(t, w)),
        4 => t().prop_map(Op::GetNext),
        3 => (t(), 0..=4usize).prop_map(|(t, max)| Op::GetBatch(t, max)),
        4 => t().prop_map(Op::RemoveHead),
        4 => (t(), id_arg()).prop_map(|(t, id)| Op::Remove(t, id)),
        2 => (t(), prop::collection::vec(id_arg(), 0..=3)).prop_map(|(t, ids)| Op::RemoveBatch(t, ids)),
        3 => t().prop_map(Op::Count),
        2 => (t(), id_arg()).prop_map(|(t, id)| Op::IsPending(t, id)),
        2 => (t(), id_arg()).prop_map(|(t, id)| Op::MoveAside(t, id)),
        2 => t().prop_map(Op::MovedAside),
        2 => (t(), id_arg()).prop_map(|(t, id)| Op::RecordFailedApply(t, id)),
        1 => Just(Op::TablesWithPending),
        3 => t().prop_map(Op::TryAcquire),
        2 => t().prop_map(Op::AcquireNow),
        4 => t().prop_map(Op::Release),
        2 => t().prop_map(Op::IsLocked),
        1 => t().prop_map(Op::WaitForUnlockNow),
        2 => t().prop_map(Op::LockHolder),
        8 => (t(), write_arg(), mode()).prop_map(|(t, w, m)| Op::Submit(t, w, m)),
        3 => (t(), mode()).prop_map(|(t, m)| Op::Drain(t, m)),
        1 => mode().prop_map(Op::DrainAll),
        2 => (t(), id_arg()).prop_map(|(t, id)| Op::WaitApplied(t, id)),
    ]
    .boxed()
}

/// Traces of 1 to `max_len` steps of the model's operations.
pub fn ops(max_len: usize) -> BoxedStrategy<Vec<Op>> {
    prop::collection::vec(generic_op(), 1..=max_len.max(1)).boxed()
}

/// Traces of 1 to `max_len` steps, a backend's own operations from `own`
/// among them with `weight` against the model's 75.
pub fn ops_with<X: Clone + Debug + 'static>(
    own: impl Strategy<Value = X> + 'static,
    weight: u32,
    max_len: usize,
) -> BoxedStrategy<Vec<Op<X>>> {
    let step = prop_oneof![weight => own.prop_map(Op::Own), 75 => generic_op()];
    prop::collection::vec(step, 1..=max_len.max(1)).boxed()
}

/// The steps that end every checked trace: for each table, drop its guard,
/// look at its lock, its moved-aside entries and its whole queue, then take
/// every entry off with get and remove; then list the tables.
pub fn epilogue<X>(capacity: usize) -> Vec<Op<X>> {
    let mut steps = Vec::new();
    for table in 0..TABLES.len() {
        let t = TableArg::Valid(table);
        steps.extend([
            Op::Release(t),
            Op::IsLocked(t),
            Op::LockHolder(t),
            Op::MovedAside(t),
            Op::GetBatch(t, capacity + 1),
        ]);
        steps.extend((0..=capacity).map(|_| Op::RemoveHead(t)));
        steps.push(Op::Count(t));
    }
    steps.push(Op::TablesWithPending);
    steps
}

/// A fixed trace that takes every kind of step, on good and bad input, so
/// that every class of step is exercised whatever the seed. It is ordered
/// for comparing backends with the old module: the steps where the old
/// module differs without its state drifting apart come first, and the one
/// that moves an entry aside (which the old module cannot) comes last.
pub fn coverage_trace() -> Vec<Op> {
    let (users, orders) = (TableArg::Valid(0), TableArg::Valid(1));
    let write = |key: &str, n: u128| PendingWrite {
        rows: vec![CsvRow::new(key, ["Alice", "alice@example.com"])],
        timestamp: 1_700_000_000_000_000_000 + n,
        operation: WriteOperation::Insert,
    };
    let mut invalid = write("user:0", 0);
    invalid.rows[0].values.push("a|b".to_string());
    let refused = |n| write(&format!("{POISON}{n}"), n);
    let batches = |max_batch, move_aside_after| Mode {
        batch: true,
        max_batch,
        move_aside_after,
    };
    let each = Mode {
        batch: false,
        ..batches(3, None)
    };
    let (pending, issued) = (IdArg::Pending, IdArg::Issued);
    use Op::*;
    vec![
        // The queue, by hand.
        QueueWrite(users, write("user:1", 1)),
        QueueWrite(users, invalid.clone()),
        QueueWrite(users, write("user:2", 2)),
        GetNext(users),
        GetBatch(users, 2),
        Count(users),
        QueueWrite(orders, write("order:1", 3)),
        IsPending(users, issued(0)),
        Remove(users, issued(2)),
        Remove(users, IdArg::Unknown(0)),
        Remove(users, IdArg::Malformed(0)),
        RemoveHead(users),
        RemoveBatch(users, vec![issued(1), IdArg::Unknown(1)]),
        QueueWrite(users, write("user:3", 4)),
        Remove(users, pending(0)),
        RemoveBatch(orders, vec![]),
        Count(users),
        // Locks, and the coordinator around a held lock.
        TryAcquire(users),
        IsLocked(users),
        LockHolder(users),
        WaitForUnlockNow(users),
        AcquireNow(users),
        TryAcquire(users),
        Submit(users, write("user:4", 5), each),
        Submit(users, write("user:5", 6), batches(3, None)),
        Drain(users, each),
        Release(users),
        Release(users),
        LockHolder(users),
        // The coordinator, in batches and per write.
        Submit(users, write("user:6", 7), batches(3, None)),
        QueueWrite(users, write("user:7", 8)),
        QueueWrite(users, write("user:8", 9)),
        TablesWithPending,
        DrainAll(batches(3, None)),
        QueueWrite(users, write("user:9", 10)),
        QueueWrite(users, write("user:10", 11)),
        Drain(users, batches(2, None)),
        QueueWrite(users, write("user:11", 12)),
        Submit(users, write("user:12", 13), each),
        QueueWrite(users, write("user:13", 14)),
        Drain(users, each),
        DrainAll(each),
        // Writes that apply refuses, blocking their table.
        QueueWrite(orders, refused(15)),
        QueueWrite(orders, write("order:2", 16)),
        Drain(orders, each),
        RecordFailedApply(orders, pending(0)),
        Drain(orders, batches(2, None)),
        MovedAside(orders),
        WaitApplied(orders, pending(0)),
        WaitApplied(orders, IdArg::Unknown(2)),
        Submit(users, refused(17), each),
        // Bad tables and ids.
        Submit(TableArg::Bad(0), write("x:1", 18), each),
        Drain(TableArg::Bad(3), each),
        QueueWrite(TableArg::Bad(0), write("x:1", 19)),
        Count(TableArg::Bad(0)),
        GetNext(TableArg::Bad(6)),
        TryAcquire(TableArg::Bad(4)),
        IsLocked(TableArg::Bad(0)),
        RemoveHead(TableArg::Bad(5)),
        // Two bad inputs at once: every backend names the table first.
        Remove(TableArg::Bad(0), IdArg::Malformed(0)),
        QueueWrite(TableArg::Bad(0), invalid),
        IsPending(orders, IdArg::Malformed(1)),
        // Absolute names, which a backend that validates nothing would use.
        QueueWrite(TableArg::Bad(2), write("abs:1", 20)),
        Count(TableArg::Bad(2)),
        IsPending(users, IdArg::Malformed(9)),
        // Dead letters, which the old module cannot set aside.
        MoveAside(orders, pending(0)),
        MovedAside(orders),
        WaitApplied(orders, issued(200)),
        Drain(orders, batches(2, Some(1))),
        GetNext(orders),
        TablesWithPending,
    ]
}
