// SPDX-License-Identifier: Apache-2.0
//! Model test: random short sequences of queue and lock operations run
//! against [`FsBackend`] (each sequence on its own temporary base directory,
//! with a small capacity) and against a plain reference model; every result,
//! value or error, must agree.
//!
//! Beyond the contract every backend keeps, the model knows the fs queue's
//! own behaviour: writes in either codec share one queue, and an entry whose
//! file is damaged stays counted (and removable) until a `get_next_pending`
//! passes over it, which moves it aside; from then on `remove_from_queue`
//! of its id is `CorruptEntry` and `moved_aside` lists it.
//!
//! Expected errors are written out here by hand, not computed with core's
//! validation, so that the model shares no code with what it checks. Set
//! `PROPTEST_CASES` to run more cases than the default 256.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::fs;
use std::time::Duration;

use proptest::prelude::*;
use proptest::sample::Index;
use reedbase_concurrent_core::{
    CsvRow, LockBackend, NameRule, PendingWrite, QueueBackend, ReedError, ReedResult,
    WriteOperation,
};
use reedbase_concurrent_fs::{Codec, Durability, FsBackend, FsOptions, TableLock};

/// Small, so that `QueueFull` comes up often.
const CAPACITY: usize = 3;
const TABLES: [&str; 2] = ["users", "audit_log"];
const BAD_IDS: [(&str, NameRule); 4] = [
    ("", NameRule::Empty),
    ("../../x", NameRule::PathSeparator),
    ("a/b", NameRule::PathSeparator),
    ("x.pending", NameRule::InvalidCharacter),
];
/// Well formed, and never handed out by the backend.
const UNKNOWN_ID: &str = "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11";

#[derive(Debug, Clone)]
enum Op {
    /// A write through the JSON (false) or postcard (true) backend.
    QueueWrite(usize, bool, PendingWrite),
    GetNextPending(usize),
    RemoveHead(usize),
    /// Removes an id handed out earlier, maybe removed, moved, or of another table.
    RemoveIssued(usize, Index),
    RemoveUnknown(usize),
    RemoveMalformed(usize, usize),
    CountPending(usize),
    /// Overwrites a queued entry's file (chosen by `Index`) with garbage.
    DamageEntry(usize, Index),
    MovedAside(usize),
    TryAcquire(usize),
    AcquireNow(usize),
    Release(usize),
    IsLocked(usize),
}

fn pending_write() -> impl Strategy<Value = PendingWrite> {
    let row = (
        "[a-z]{1,4}:[0-9]{1,2}",
        prop::collection::vec("[a-zA-Z0-9 @.é]{0,6}", 0..3),
    )
        .prop_map(|(key, values)| CsvRow { key, values });
    let operation = prop_oneof![
        Just(WriteOperation::Insert),
        Just(WriteOperation::Update),
        Just(WriteOperation::Delete),
    ];
    (prop::collection::vec(row, 0..3), any::<u64>(), operation).prop_map(
        |(rows, timestamp, operation)| PendingWrite {
            rows,
            timestamp: u128::from(timestamp),
            operation,
        },
    )
}

fn op() -> impl Strategy<Value = Op> {
    let table = 0..TABLES.len();
    prop_oneof![
        6 => (table.clone(), any::<bool>(), pending_write()).prop_map(|(t, p, w)| Op::QueueWrite(t, p, w)),
        3 => table.clone().prop_map(Op::GetNextPending),
        3 => table.clone().prop_map(Op::RemoveHead),
        2 => (table.clone(), any::<Index>()).prop_map(|(t, i)| Op::RemoveIssued(t, i)),
        1 => table.clone().prop_map(Op::RemoveUnknown),
        1 => (table.clone(), 0..BAD_IDS.len()).prop_map(|(t, i)| Op::RemoveMalformed(t, i)),
        2 => table.clone().prop_map(Op::CountPending),
        1 => (table.clone(), any::<Index>()).prop_map(|(t, i)| Op::DamageEntry(t, i)),
        1 => table.clone().prop_map(Op::MovedAside),
        2 => table.clone().prop_map(Op::TryAcquire),
        1 => table.clone().prop_map(Op::AcquireNow),
        2 => table.clone().prop_map(Op::Release),
        1 => table.clone().prop_map(Op::IsLocked),
    ]
}

/// A queued entry of the model; `damaged` once its file was overwritten.
#[derive(Debug, Clone)]
struct Entry {
    id: String,
    write: PendingWrite,
    damaged: bool,
}

/// The reference: what each operation should return.
#[derive(Default)]
struct Model {
    queues: [VecDeque<Entry>; 2],
    /// Ids moved aside, per table.
    moved: [Vec<String>; 2],
    locked: [bool; 2],
    /// Every id handed out, in order.
    issued: Vec<String>,
}

/// The system under test: the same base directory through a JSON and a
/// postcard backend, and the guards held between operations.
struct Real {
    _dir: tempfile::TempDir,
    json: FsBackend,
    postcard: FsBackend,
    guards: [Option<TableLock>; 2],
}

impl Real {
    fn new() -> Real {
        let dir = tempfile::tempdir().unwrap();
        let options = FsOptions::new()
            .durability(Durability::Relaxed)
            .capacity(CAPACITY);
        Real {
            json: FsBackend::with_options(dir.path(), options),
            postcard: FsBackend::with_options(dir.path(), options.codec(Codec::Postcard)),
            _dir: dir,
            guards: Default::default(),
        }
    }
}

impl Model {
    /// The head as `get_next_pending` finds it, moving damaged entries aside.
    fn next_pending(&mut self, t: usize) -> Option<(String, PendingWrite)> {
        while let Some(entry) = self.queues[t].front() {
            if !entry.damaged {
                return Some((entry.id.clone(), entry.write.clone()));
            }
            let entry = self.queues[t].pop_front()?;
            self.moved[t].push(entry.id);
        }
        None
    }

    /// What `remove_from_queue` returns; the corrupt case is compared by variant.
    fn remove(&mut self, t: usize, id: &str) -> Result<(), &'static str> {
        if let Some(index) = self.queues[t].iter().position(|e| e.id == id) {
            self.queues[t].remove(index);
            Ok(())
        } else if self.moved[t].iter().any(|moved| moved == id) {
            Err("CorruptEntry")
        } else {
            Err("QueueEntryNotFound")
        }
    }
}

fn variant(
    result: ReedResult<()>,
    t: usize,
    id: &str,
) -> Result<Result<(), &'static str>, TestCaseError> {
    match result {
        Ok(()) => Ok(Ok(())),
        Err(ReedError::CorruptEntry {
            table, queue_id, ..
        }) if table == TABLES[t] && queue_id == id => Ok(Err("CorruptEntry")),
        Err(ReedError::QueueEntryNotFound { table, queue_id })
            if table == TABLES[t] && queue_id == id =>
        {
            Ok(Err("QueueEntryNotFound"))
        }
        Err(other) => Err(TestCaseError::fail(format!("unexpected error {other:?}"))),
    }
}

/// Runs one operation on both sides and checks that they agree.
fn step(model: &mut Model, real: &mut Real, op: &Op) -> Result<(), TestCaseError> {
    let backend = real.json.clone();
    match op {
        Op::QueueWrite(t, postcard, write) => {
            let through = if *postcard {
                &real.postcard
            } else {
                &real.json
            };
            let result = through.queue_write(TABLES[*t], write);
            let pending = model.queues[*t].len();
            if pending >= CAPACITY {
                let full = ReedError::QueueFull {
                    table: TABLES[*t].to_string(),
                    size: pending,
                };
                prop_assert_eq!(result, Err(full));
            } else {
                let id = result?;
                prop_assert!(!model.issued.contains(&id), "id {} reused", id);
                model.queues[*t].push_back(Entry {
                    id: id.clone(),
                    write: write.clone(),
                    damaged: false,
                });
                model.issued.push(id);
            }
        }
        Op::GetNextPending(t) => {
            let expected = model.next_pending(*t);
            prop_assert_eq!(backend.get_next_pending(TABLES[*t])?, expected);
        }
        Op::RemoveHead(t) => {
            // The consumer's pattern: get the head, then remove it.
            let expected = model.next_pending(*t);
            let head = backend.get_next_pending(TABLES[*t])?;
            prop_assert_eq!(&head, &expected);
            if let Some((id, _)) = head {
                let expected = model.remove(*t, &id);
                let result = backend.remove_from_queue(TABLES[*t], &id);
                prop_assert_eq!(variant(result, *t, &id)?, expected);
            }
        }
        Op::RemoveIssued(t, pick) => {
            if !model.issued.is_empty() {
                let id = model.issued[pick.index(model.issued.len())].clone();
                let expected = model.remove(*t, &id);
                prop_assert_eq!(
                    variant(backend.remove_from_queue(TABLES[*t], &id), *t, &id)?,
                    expected
                );
            }
        }
        Op::RemoveUnknown(t) => {
            let expected = ReedError::QueueEntryNotFound {
                table: TABLES[*t].to_string(),
                queue_id: UNKNOWN_ID.to_string(),
            };
            prop_assert_eq!(
                backend.remove_from_queue(TABLES[*t], UNKNOWN_ID),
                Err(expected)
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
        Op::DamageEntry(t, pick) => {
            let queue = &mut model.queues[*t];
            if !queue.is_empty() {
                let index = pick.index(queue.len());
                let entry = &mut queue[index];
                let path = real
                    .json
                    .base_path()
                    .join(format!("tables/{}/queue/{}.pending", TABLES[*t], entry.id));
                fs::write(path, b"{\"rows\":[{\"key\"").unwrap();
                entry.damaged = true;
            }
        }
        Op::MovedAside(t) => {
            let listed: Vec<String> = backend
                .moved_aside(TABLES[*t])?
                .into_iter()
                .map(|m| m.id)
                .collect();
            let mut expected = model.moved[*t].clone();
            expected.sort();
            prop_assert_eq!(listed, expected);
        }
        Op::TryAcquire(t) => {
            let guard = backend.try_acquire_lock(TABLES[*t])?;
            prop_assert_eq!(guard.is_some(), !model.locked[*t]);
            if guard.is_some() {
                model.locked[*t] = true;
                real.guards[*t] = guard;
            }
        }
        Op::AcquireNow(t) => {
            let result = backend.acquire_lock(TABLES[*t], Duration::ZERO);
            if model.locked[*t] {
                prop_assert!(
                    matches!(result, Err(ReedError::LockTimeout { .. })),
                    "{:?}",
                    result
                );
            } else {
                real.guards[*t] = Some(result?);
                model.locked[*t] = true;
            }
        }
        Op::Release(t) => {
            prop_assert_eq!(real.guards[*t].take().is_some(), model.locked[*t]);
            model.locked[*t] = false;
        }
        Op::IsLocked(t) => {
            prop_assert_eq!(backend.is_locked(TABLES[*t])?, model.locked[*t]);
        }
    }
    Ok(())
}

/// After the sequence: every queue drains in the model's order, damaged
/// entries end up moved aside, and every lock is free once its guard is gone.
fn check_final_state(model: &mut Model, real: &mut Real) -> Result<(), TestCaseError> {
    for (t, table) in TABLES.iter().enumerate() {
        let mut drained = Vec::new();
        while let Some((id, write)) = real.json.get_next_pending(table)? {
            real.json.remove_from_queue(table, &id)?;
            drained.push((id, write));
            prop_assert!(drained.len() <= CAPACITY, "the drain does not end");
        }
        let mut expected = Vec::new();
        while let Some((id, write)) = model.next_pending(t) {
            model.remove(t, &id).map_err(TestCaseError::fail)?;
            expected.push((id, write));
        }
        prop_assert_eq!(drained, expected);
        let mut moved = model.moved[t].clone();
        moved.sort();
        let listed: Vec<String> = real
            .json
            .moved_aside(table)?
            .into_iter()
            .map(|m| m.id)
            .collect();
        prop_assert_eq!(listed, moved);
        real.guards[t] = None;
        prop_assert!(!real.json.is_locked(table)?);
    }
    Ok(())
}

proptest! {
    #[test]
    fn fs_backend_agrees_with_the_model(ops in prop::collection::vec(op(), 1..40)) {
        let mut model = Model::default();
        let mut real = Real::new();
        for op in &ops {
            step(&mut model, &mut real, op)?;
        }
        check_final_state(&mut model, &mut real)?;
    }
}
