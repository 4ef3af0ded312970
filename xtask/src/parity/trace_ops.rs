// SPDX-License-Identifier: Apache-2.0
//! The operations of a sequential trace, the proptest strategy that
//! generates traces, and the fixed coverage trace that exercises every kind
//! of step once whatever the seed.

use std::fmt;

use proptest::prelude::*;
use proptest::sample::Index;
use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation, validate_write};

/// The valid tables a trace uses.
pub const VALID_TABLES: [&str; 2] = ["users", "orders"];

/// Invalid table names. None is absolute, and none climbs more than two
/// levels, so on the old module (base `<tmp>/a/b/c`) they stay inside its
/// temporary directory.
pub const INVALID_TABLES: [&str; 10] = [
    "../x",
    "../../escape",
    ".hidden",
    "",
    "..",
    ".",
    "a/b",
    "x:y",
    "bell\u{7}",
    "nul\0x",
];

/// Well-formed ids that no backend issues: an old-module UUID, an fs-style
/// sequenced id and a mem-style id.
pub const UNKNOWN_IDS: [&str; 3] = [
    "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11",
    "00000000000000000000-00000000000000000000000000000000",
    "mem-99999999999999999999",
];

/// Ids that are not well formed. With the old module's base three levels
/// deep, removing any of them stays inside its temporary directory.
pub const MALFORMED_IDS: [&str; 7] = ["../../x", "a/b", "", ".hidden", "..", "x.y", "with space"];

/// The table a step names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TableArg {
    /// `VALID_TABLES[i]`.
    Valid(usize),
    /// `INVALID_TABLES[i]`.
    Invalid(usize),
    /// An absolute path (inside the fs backend's temporary directory). Never
    /// given to the old module, which would create files there.
    Absolute,
}

impl TableArg {
    /// The name, with `absolute` standing for [`TableArg::Absolute`].
    pub fn name<'a>(&self, absolute: &'a str) -> &'a str {
        match self {
            TableArg::Valid(i) => VALID_TABLES[*i % VALID_TABLES.len()],
            TableArg::Invalid(i) => INVALID_TABLES[*i % INVALID_TABLES.len()],
            TableArg::Absolute => absolute,
        }
    }
}

impl fmt::Display for TableArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TableArg::Absolute => f.write_str("<absolute path>"),
            other => write!(f, "{:?}", other.name("")),
        }
    }
}

/// Which queue id a removal names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdArg {
    /// The id `get_next_pending` gives on this backend now.
    Head,
    /// The n-th id this backend issued (modulo how many it issued), which
    /// may belong to another table or be removed already.
    Known(usize),
    /// `UNKNOWN_IDS[i]`.
    Unknown(usize),
    /// `MALFORMED_IDS[i]`.
    Malformed(usize),
}

impl fmt::Display for IdArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdArg::Head => f.write_str("head"),
            IdArg::Known(n) => write!(f, "issued id n={n}"),
            IdArg::Unknown(i) => write!(f, "unknown {:?}", UNKNOWN_IDS[*i % UNKNOWN_IDS.len()]),
            IdArg::Malformed(i) => write!(f, "{:?}", MALFORMED_IDS[*i % MALFORMED_IDS.len()]),
        }
    }
}

/// One step of a trace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// `queue_write(table, write)`.
    QueueWrite(TableArg, PendingWrite),
    /// `get_next_pending(table)`.
    GetNext(TableArg),
    /// `remove_from_queue(table, id)`.
    Remove(TableArg, IdArg),
    /// `count_pending(table)`.
    Count(TableArg),
    /// `try_acquire_lock(table)`, keeping the guard.
    TryAcquire(TableArg),
    /// Drops the guard held for the table, if any.
    Release(TableArg),
    /// `is_locked(table)`.
    IsLocked(TableArg),
    /// `acquire_lock(table, 0 ms)`, keeping the guard.
    AcquireZero(TableArg),
    /// `wait_for_unlock(table, 0 ms)`.
    WaitZero(TableArg),
}

impl Op {
    /// The table the step names.
    pub fn table(&self) -> &TableArg {
        match self {
            Op::QueueWrite(t, _)
            | Op::GetNext(t)
            | Op::Remove(t, _)
            | Op::Count(t)
            | Op::TryAcquire(t)
            | Op::Release(t)
            | Op::IsLocked(t)
            | Op::AcquireZero(t)
            | Op::WaitZero(t) => t,
        }
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Op::QueueWrite(t, w) => write!(f, "queue_write({t}, {})", show_write(w)),
            Op::GetNext(t) => write!(f, "get_next_pending({t})"),
            Op::Remove(t, id) => write!(f, "remove_from_queue({t}, {id})"),
            Op::Count(t) => write!(f, "count_pending({t})"),
            Op::TryAcquire(t) => write!(f, "try_acquire_lock({t})"),
            Op::Release(t) => write!(f, "drop the guard of {t}"),
            Op::IsLocked(t) => write!(f, "is_locked({t})"),
            Op::AcquireZero(t) => write!(f, "acquire_lock({t}, 0 ms)"),
            Op::WaitZero(t) => write!(f, "wait_for_unlock({t}, 0 ms)"),
        }
    }
}

/// A write, briefly: `Insert[k|a|b; k2|]`, marked when it is invalid.
pub fn show_write(write: &PendingWrite) -> String {
    let rows: Vec<String> = write
        .rows
        .iter()
        .map(|r| format!("{:?}", r.to_csv()))
        .collect();
    let invalid = if validate_write(write).is_err() {
        " (invalid row)"
    } else {
        ""
    };
    format!("{:?}[{}]{invalid}", write.operation, rows.join("; "))
}

fn table_arg() -> BoxedStrategy<TableArg> {
    prop_oneof![
        90 => (0..VALID_TABLES.len()).prop_map(TableArg::Valid),
        8 => (0..INVALID_TABLES.len()).prop_map(TableArg::Invalid),
        2 => Just(TableArg::Absolute),
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
        "[a-z]{1,5}:[0-9]{1,3}",
        prop::collection::vec("[A-Za-z0-9 @.]{0,8}", 0..3),
    )
        .prop_map(|(key, values)| CsvRow { key, values });
    (operation, prop::collection::vec(row, 0..4), any::<u32>())
        .prop_map(|(operation, rows, jitter)| PendingWrite {
            rows,
            timestamp: 1_700_000_000_000_000_000 + u128::from(jitter),
            operation,
        })
        .boxed()
}

fn invalid_write() -> BoxedStrategy<PendingWrite> {
    (valid_write(), 0..4u8, any::<Index>())
        .prop_map(|(mut write, flaw, at)| {
            if write.rows.is_empty() {
                write.rows.push(CsvRow::new("k:1", vec!["v"]));
            }
            let at = at.index(write.rows.len());
            let row = &mut write.rows[at];
            match flaw {
                0 => row.key.clear(),
                1 => row.values.push("a|b".to_string()),
                2 => row.key.push('\n'),
                _ => row.values.push("carriage\rreturn".to_string()),
            }
            write
        })
        .boxed()
}

fn write_arg() -> BoxedStrategy<PendingWrite> {
    prop_oneof![9 => valid_write(), 1 => invalid_write()].boxed()
}

fn id_arg() -> BoxedStrategy<IdArg> {
    prop_oneof![
        10 => Just(IdArg::Head),
        6 => (0..8usize).prop_map(IdArg::Known),
        3 => (0..UNKNOWN_IDS.len()).prop_map(IdArg::Unknown),
        3 => (0..MALFORMED_IDS.len()).prop_map(IdArg::Malformed),
    ]
    .boxed()
}

/// One step.
fn op() -> BoxedStrategy<Op> {
    prop_oneof![
        30 => (table_arg(), write_arg()).prop_map(|(t, w)| Op::QueueWrite(t, w)),
        12 => table_arg().prop_map(Op::GetNext),
        22 => (table_arg(), id_arg()).prop_map(|(t, id)| Op::Remove(t, id)),
        10 => table_arg().prop_map(Op::Count),
        8 => table_arg().prop_map(Op::TryAcquire),
        6 => table_arg().prop_map(Op::Release),
        6 => table_arg().prop_map(Op::IsLocked),
        6 => table_arg().prop_map(Op::AcquireZero),
        4 => table_arg().prop_map(Op::WaitZero),
    ]
    .boxed()
}

/// A trace of 1 to 40 steps.
pub fn trace_strategy() -> BoxedStrategy<Vec<Op>> {
    prop::collection::vec(op(), 1..=40).boxed()
}

/// A fixed trace that takes every kind of step at least once, so that every
/// class of step is exercised (and every listed trace divergence checked)
/// whatever the seed and number of cases.
pub fn coverage_trace() -> Vec<Op> {
    let users = || TableArg::Valid(0);
    let orders = || TableArg::Valid(1);
    let write = |key: &str, n: u128| PendingWrite {
        rows: vec![CsvRow::new(key, vec!["Alice", "alice@example.com"])],
        timestamp: 1_700_000_000_000_000_000 + n,
        operation: WriteOperation::Insert,
    };
    let mut bad = write("user:9", 9);
    bad.rows[0].values.push("a|b".to_string());
    let bad_again = bad.clone();
    vec![
        Op::QueueWrite(users(), write("user:1", 1)),
        Op::QueueWrite(users(), bad),
        Op::QueueWrite(users(), write("user:2", 2)),
        Op::GetNext(users()),
        Op::Count(users()),
        Op::QueueWrite(orders(), write("order:1", 3)),
        Op::Remove(users(), IdArg::Known(2)),
        Op::Remove(users(), IdArg::Unknown(0)),
        Op::Remove(users(), IdArg::Malformed(0)),
        Op::Remove(users(), IdArg::Head),
        Op::Remove(users(), IdArg::Known(0)),
        Op::Remove(users(), IdArg::Known(1)),
        Op::Count(users()),
        Op::TryAcquire(users()),
        Op::IsLocked(users()),
        Op::WaitZero(users()),
        Op::AcquireZero(users()),
        Op::TryAcquire(users()),
        Op::Release(users()),
        Op::Release(users()),
        Op::AcquireZero(users()),
        Op::IsLocked(orders()),
        Op::WaitZero(orders()),
        Op::Release(users()),
        Op::QueueWrite(TableArg::Invalid(0), write("x:1", 4)),
        Op::Count(TableArg::Invalid(0)),
        Op::GetNext(TableArg::Invalid(2)),
        Op::TryAcquire(TableArg::Invalid(3)),
        Op::IsLocked(TableArg::Invalid(0)),
        Op::Remove(TableArg::Invalid(4), IdArg::Head),
        // Two bad inputs at once: every backend must name the same one.
        Op::Remove(TableArg::Invalid(0), IdArg::Malformed(0)),
        Op::QueueWrite(TableArg::Invalid(0), bad_again),
        Op::QueueWrite(TableArg::Absolute, write("abs:1", 5)),
        Op::Count(TableArg::Absolute),
        Op::GetNext(orders()),
    ]
}
