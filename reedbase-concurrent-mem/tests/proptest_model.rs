// SPDX-License-Identifier: Apache-2.0
//! Model test: random sequences of lock and queue operations run against a
//! [`MemBackend`] and against a plain reference model (a `VecDeque` per
//! table, a lock flag per table, a capacity); every result, value or error,
//! must agree.
//!
//! The expected validation errors are written out here by hand (which rule
//! each bad name breaks), not computed with the core's validation functions,
//! so the model does not share code with what it checks. Set
//! `PROPTEST_CASES` to run more cases than the default 256.
#![cfg(not(loom))]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{HashSet, VecDeque};
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use reedbase_concurrent_core::{
    CsvRow, LockBackend, NameRule, PendingWrite, QueueBackend, ReedError, ReedResult, RowField,
    RowRule, WriteOperation, validate_queue_id,
};
use reedbase_concurrent_mem::{MemBackend, MemGuard};

/// Small, so that `QueueFull` comes up often.
const CAPACITY: usize = 3;
const TABLES: [&str; 3] = ["users", "orders", "audit_log"];
const BAD_TABLES: [(&str, NameRule); 7] = [
    ("", NameRule::Empty),
    ("..", NameRule::DotOrDotDot),
    ("../x", NameRule::PathSeparator),
    ("/abs", NameRule::PathSeparator),
    ("a:b", NameRule::DriveOrStream),
    ("x\0y", NameRule::Nul),
    ("tab\tname", NameRule::ControlCharacter),
];
const BAD_IDS: [(&str, NameRule); 6] = [
    ("", NameRule::Empty),
    ("..", NameRule::DotOrDotDot),
    ("../../x", NameRule::PathSeparator),
    ("a/b", NameRule::PathSeparator),
    ("x:y", NameRule::DriveOrStream),
    ("id with space", NameRule::InvalidCharacter),
];
/// Well formed, and never handed out by the backend.
const UNKNOWN_IDS: [&str; 2] = ["6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11", "never_issued"];

#[derive(Debug, Clone)]
enum Op {
    QueueWrite(usize, PendingWrite),
    /// A write whose first row breaks a row rule, with the error it must get.
    QueueBadWrite(usize, PendingWrite, ReedError),
    GetNextPending(usize),
    RemoveHead(usize),
    /// Removes an id handed out earlier (chosen by `Index`), maybe already
    /// removed, maybe from another table.
    RemoveIssued(usize, Index),
    RemoveUnknown(usize, usize),
    RemoveMalformed(usize, usize),
    CountPending(usize),
    TryAcquire(usize),
    /// `acquire_lock` with a zero timeout: succeeds at once or times out.
    AcquireNow(usize),
    Release(usize),
    IsLocked(usize),
    /// `wait_for_unlock` with a zero timeout.
    WaitForUnlockNow(usize),
    /// Any operation, on a table name that breaks a rule.
    OnBadTable(usize, usize),
}

fn row() -> impl Strategy<Value = CsvRow> {
    (
        "[a-z]{1,4}:[0-9]{1,2}",
        prop::collection::vec("[a-zA-Z0-9 @.]{0,6}", 0..3),
    )
        .prop_map(|(key, values)| CsvRow { key, values })
}

fn pending_write() -> impl Strategy<Value = PendingWrite> {
    let operation = prop_oneof![
        Just(WriteOperation::Insert),
        Just(WriteOperation::Update),
        Just(WriteOperation::Delete),
    ];
    (prop::collection::vec(row(), 1..3), any::<u64>(), operation).prop_map(
        |(rows, timestamp, operation)| PendingWrite {
            rows,
            timestamp: u128::from(timestamp),
            operation,
        },
    )
}

/// A write with a bad first row, and the error the backend must report.
fn bad_write() -> impl Strategy<Value = (PendingWrite, ReedError)> {
    let bad_row = prop_oneof![
        Just((CsvRow::new("", vec!["v"]), RowField::Key, RowRule::EmptyKey)),
        Just((
            CsvRow::new("k|1", Vec::<String>::new()),
            RowField::Key,
            RowRule::ContainsDelimiter
        )),
        Just((
            CsvRow::new("k", vec!["ok", "a\nb"]),
            RowField::Value(1),
            RowRule::ContainsLineBreak
        )),
        Just((
            CsvRow::new("k", vec!["a|b"]),
            RowField::Value(0),
            RowRule::ContainsDelimiter
        )),
    ];
    (bad_row, pending_write()).prop_map(|((row, field, rule), mut write)| {
        let error = ReedError::InvalidRow {
            key: row.key.clone(),
            field,
            rule,
        };
        write.rows.insert(0, row);
        (write, error)
    })
}

fn op() -> impl Strategy<Value = Op> {
    let table = 0..TABLES.len();
    prop_oneof![
        6 => (table.clone(), pending_write()).prop_map(|(t, w)| Op::QueueWrite(t, w)),
        1 => (table.clone(), bad_write()).prop_map(|(t, (w, e))| Op::QueueBadWrite(t, w, e)),
        3 => table.clone().prop_map(Op::GetNextPending),
        3 => table.clone().prop_map(Op::RemoveHead),
        2 => (table.clone(), any::<Index>()).prop_map(|(t, i)| Op::RemoveIssued(t, i)),
        1 => (table.clone(), 0..UNKNOWN_IDS.len()).prop_map(|(t, i)| Op::RemoveUnknown(t, i)),
        1 => (table.clone(), 0..BAD_IDS.len()).prop_map(|(t, i)| Op::RemoveMalformed(t, i)),
        2 => table.clone().prop_map(Op::CountPending),
        2 => table.clone().prop_map(Op::TryAcquire),
        2 => table.clone().prop_map(Op::AcquireNow),
        3 => table.clone().prop_map(Op::Release),
        2 => table.clone().prop_map(Op::IsLocked),
        1 => table.clone().prop_map(Op::WaitForUnlockNow),
        1 => (0..BAD_TABLES.len(), 0..10usize).prop_map(|(t, which)| Op::OnBadTable(t, which)),
    ]
}

/// The reference: what each operation should return.
#[derive(Default)]
struct Model {
    queues: [VecDeque<(String, PendingWrite)>; 3],
    locked: [bool; 3],
    /// Every id handed out, with its table, in order.
    issued: Vec<(usize, String)>,
}

/// What the system under test holds between operations.
struct Real {
    backend: MemBackend,
    guards: [Option<MemGuard>; 3],
}

/// A `LockTimeout` with its wait set to zero, the only field that depends on
/// the clock.
fn without_wait<T>(result: ReedResult<T>) -> ReedResult<T> {
    result.map_err(|error| match error {
        ReedError::LockTimeout { table, .. } => ReedError::lock_timeout(&table, Duration::ZERO),
        other => other,
    })
}

fn timeout(table: usize) -> ReedError {
    ReedError::lock_timeout(TABLES[table], Duration::ZERO)
}

fn not_found(table: usize, id: &str) -> ReedError {
    ReedError::QueueEntryNotFound {
        table: TABLES[table].to_string(),
        queue_id: id.to_string(),
    }
}

impl Model {
    fn remove(&mut self, table: usize, id: &str) -> ReedResult<()> {
        let queue = &mut self.queues[table];
        let index = queue.iter().position(|(queued, _)| queued == id);
        match index {
            Some(index) => {
                queue.remove(index);
                Ok(())
            }
            None => Err(not_found(table, id)),
        }
    }

    fn take_lock(&mut self, table: usize) -> bool {
        !std::mem::replace(&mut self.locked[table], true)
    }
}

/// Runs one operation on both sides and checks that they agree.
fn step(model: &mut Model, real: &mut Real, op: &Op) -> Result<(), TestCaseError> {
    let backend = real.backend.clone();
    match op {
        Op::QueueWrite(t, write) => {
            let result = backend.queue_write(TABLES[*t], write);
            if model.queues[*t].len() >= CAPACITY {
                let full = ReedError::QueueFull {
                    table: TABLES[*t].to_string(),
                    size: CAPACITY,
                };
                prop_assert_eq!(result, Err(full));
            } else {
                let id = result?;
                prop_assert!(validate_queue_id(&id).is_ok(), "malformed id {}", id);
                prop_assert!(
                    model.issued.iter().all(|(_, old)| *old != id),
                    "id {} reused",
                    id
                );
                model.queues[*t].push_back((id.clone(), write.clone()));
                model.issued.push((*t, id));
            }
        }
        Op::QueueBadWrite(t, write, error) => {
            prop_assert_eq!(backend.queue_write(TABLES[*t], write), Err(error.clone()));
        }
        Op::GetNextPending(t) => {
            let expected = model.queues[*t].front().cloned();
            prop_assert_eq!(backend.get_next_pending(TABLES[*t])?, expected);
        }
        Op::RemoveHead(t) => {
            // With an empty queue, there is no head to remove.
            if let Some((id, _)) = model.queues[*t].front().cloned() {
                prop_assert_eq!(
                    backend.remove_from_queue(TABLES[*t], &id),
                    model.remove(*t, &id)
                );
            }
        }
        Op::RemoveIssued(t, pick) => {
            if !model.issued.is_empty() {
                let id = model.issued[pick.index(model.issued.len())].1.clone();
                prop_assert_eq!(
                    backend.remove_from_queue(TABLES[*t], &id),
                    model.remove(*t, &id)
                );
            }
        }
        Op::RemoveUnknown(t, i) => {
            let id = UNKNOWN_IDS[*i];
            prop_assert_eq!(
                backend.remove_from_queue(TABLES[*t], id),
                Err(not_found(*t, id))
            );
        }
        Op::RemoveMalformed(t, i) => {
            let (id, rule) = BAD_IDS[*i];
            let expected = ReedError::InvalidQueueId {
                id: id.to_string(),
                rule,
            };
            prop_assert_eq!(backend.remove_from_queue(TABLES[*t], id), Err(expected));
        }
        Op::CountPending(t) => {
            prop_assert_eq!(backend.count_pending(TABLES[*t])?, model.queues[*t].len());
        }
        Op::TryAcquire(t) => {
            let guard = backend.try_acquire_lock(TABLES[*t])?;
            prop_assert_eq!(guard.is_some(), model.take_lock(*t));
            if guard.is_some() {
                real.guards[*t] = guard;
            }
        }
        Op::AcquireNow(t) => {
            let result = without_wait(backend.acquire_lock(TABLES[*t], Duration::ZERO));
            if model.take_lock(*t) {
                real.guards[*t] = Some(result?);
            } else {
                prop_assert_eq!(result.map(drop), Err(timeout(*t)));
            }
        }
        Op::Release(t) => {
            prop_assert_eq!(real.guards[*t].take().is_some(), model.locked[*t]);
            model.locked[*t] = false;
        }
        Op::IsLocked(t) => {
            prop_assert_eq!(backend.is_locked(TABLES[*t])?, model.locked[*t]);
        }
        Op::WaitForUnlockNow(t) => {
            let result = without_wait(backend.wait_for_unlock(TABLES[*t], Duration::ZERO));
            let expected = if model.locked[*t] {
                Err(timeout(*t))
            } else {
                Ok(())
            };
            prop_assert_eq!(result, expected);
        }
        Op::OnBadTable(t, which) => on_bad_table(&backend, BAD_TABLES[*t], *which)?,
    }
    Ok(())
}

/// One of the eight table operations on a bad name: each must be refused
/// with the rule the name breaks, even when the write or the queue id is bad
/// as well (the table name is checked first, in every backend).
fn on_bad_table(
    backend: &MemBackend,
    (name, rule): (&str, NameRule),
    which: usize,
) -> Result<(), TestCaseError> {
    let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["v"])]);
    let bad_write = PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new("k|1", Vec::<String>::new())],
    );
    let error = match which {
        0 => backend.queue_write(name, &write).err(),
        1 => backend.queue_write(name, &bad_write).err(),
        2 => backend.get_next_pending(name).err(),
        3 => backend.remove_from_queue(name, UNKNOWN_IDS[0]).err(),
        4 => backend.remove_from_queue(name, BAD_IDS[2].0).err(),
        5 => backend.count_pending(name).err(),
        6 => backend.try_acquire_lock(name).err(),
        7 => backend.acquire_lock(name, Duration::ZERO).err(),
        8 => backend.wait_for_unlock(name, Duration::ZERO).err(),
        _ => backend.is_locked(name).err(),
    };
    prop_assert_eq!(
        error,
        Some(ReedError::InvalidTableName {
            name: name.to_string(),
            rule
        })
    );
    Ok(())
}

/// After the sequence: every queue drains in the model's order, and every
/// lock is free once its guard is gone.
fn check_final_state(model: &Model, real: &mut Real) -> Result<(), TestCaseError> {
    for (t, table) in TABLES.iter().enumerate() {
        let mut drained = Vec::new();
        while let Some((id, write)) = real.backend.get_next_pending(table)? {
            real.backend.remove_from_queue(table, &id)?;
            drained.push((id, write));
        }
        prop_assert_eq!(
            &drained,
            &model.queues[t].iter().cloned().collect::<Vec<_>>()
        );
        real.guards[t] = None;
        prop_assert!(!real.backend.is_locked(table)?);
    }
    let unique: HashSet<_> = model.issued.iter().map(|(_, id)| id).collect();
    prop_assert_eq!(unique.len(), model.issued.len());
    Ok(())
}

proptest! {
    #[test]
    fn mem_backend_agrees_with_the_model(ops in prop::collection::vec(op(), 1..80)) {
        let mut model = Model::default();
        let mut real = Real { backend: MemBackend::with_capacity(CAPACITY), guards: Default::default() };
        for op in &ops {
            step(&mut model, &mut real, op)?;
        }
        check_final_state(&model, &mut real)?;
    }
}
