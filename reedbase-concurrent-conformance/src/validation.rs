// SPDX-License-Identifier: Apache-2.0
//! Cases for input validation at the backend boundary: bad table names,
//! bad queue ids and rows that would corrupt a table are refused before
//! anything is touched; good but unusual names work.

use std::time::Duration;

use reedbase_concurrent_core::validation::{MAX_NAME_BYTES, NameRule, RowField};
use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use reedbase_concurrent_core::{ReedError, ReedResult};

use crate::Backend;
use crate::bad_inputs::{bad_queue_ids, bad_table_names};
use crate::samples::{ABSENT_ID, head, tagged_write};

const TABLE: &str = "test_table";

/// Panics unless `result` is `InvalidTableName` for `name` and `rule`.
#[track_caller]
fn assert_invalid_name<T>(result: ReedResult<T>, name: &str, rule: NameRule, what: &str) {
    match result {
        Err(ReedError::InvalidTableName {
            name: named,
            rule: broken,
        }) => {
            assert_eq!(
                named, name,
                "{what}: InvalidTableName carries the name as given"
            );
            assert_eq!(
                broken, rule,
                "{what}: InvalidTableName names the wrong rule"
            );
        }
        Err(other) => panic!("{what}: expected InvalidTableName, got {other:?}"),
        Ok(_) => panic!("{what}: expected InvalidTableName, got Ok"),
    }
}

/// Panics unless `result` is `InvalidQueueId` for `id` and `rule`.
#[track_caller]
fn assert_invalid_id<T>(result: ReedResult<T>, id: &str, rule: NameRule, what: &str) {
    match result {
        Err(ReedError::InvalidQueueId {
            id: named,
            rule: broken,
        }) => {
            assert_eq!(named, id, "{what}: InvalidQueueId carries the id as given");
            assert_eq!(broken, rule, "{what}: InvalidQueueId names the wrong rule");
        }
        Err(other) => panic!("{what}: expected InvalidQueueId, got {other:?}"),
        Ok(_) => panic!("{what}: expected InvalidQueueId, got Ok"),
    }
}

/// Every method of both traits that names a table rejects each bad table
/// name (`../x`, `/abs`, empty, `.`, `..`, `.hidden`, separators, NUL,
/// control and invisible characters, `:`, surrounding space, 129 bytes)
/// with `InvalidTableName` naming the rule it breaks, and a good table's
/// lock and queue are untouched afterwards.
pub fn bad_table_names_are_rejected<B: Backend>(backend: &B) {
    let bystander = tagged_write("bystander");
    backend
        .queue_write(TABLE, &bystander)
        .expect("queue_write on a good table");
    let timeout = Duration::from_millis(20);
    let ids = [ABSENT_ID.to_string()];
    for bad in bad_table_names() {
        let (name, rule) = (bad.name.as_str(), bad.rule);
        let what = |method: &str| format!("{method} with table name {name:?} ({})", bad.what);
        let check = |result: ReedResult<()>, method: &str| {
            assert_invalid_name(result, name, rule, &what(method));
        };
        check(
            backend.acquire_lock(name, timeout).map(drop),
            "acquire_lock",
        );
        check(backend.try_acquire_lock(name).map(drop), "try_acquire_lock");
        check(
            backend.try_acquire_lock_for(name, timeout).map(drop),
            "try_acquire_lock_for",
        );
        check(backend.is_locked(name).map(drop), "is_locked");
        check(backend.wait_for_unlock(name, timeout), "wait_for_unlock");
        check(backend.lock_holder(name).map(drop), "lock_holder");
        check(
            backend.queue_write(name, &tagged_write("x")).map(drop),
            "queue_write",
        );
        check(
            backend
                .queue_write_unless(name, &bystander, &mut || false)
                .map(drop),
            "queue_write_unless",
        );
        check(backend.get_next_pending(name).map(drop), "get_next_pending");
        check(
            backend.get_pending_batch(name, 0).map(drop),
            "get_pending_batch (0)",
        );
        check(
            backend.get_pending_batch(name, 3).map(drop),
            "get_pending_batch (3)",
        );
        check(
            backend.remove_from_queue(name, ABSENT_ID),
            "remove_from_queue",
        );
        check(
            backend.remove_batch_from_queue(name, &[]),
            "remove_batch_from_queue ([])",
        );
        check(
            backend.remove_batch_from_queue(name, &ids),
            "remove_batch_from_queue",
        );
        check(backend.count_pending(name).map(drop), "count_pending");
        check(backend.is_pending(name, ABSENT_ID).map(drop), "is_pending");
        check(
            backend.move_aside(name, ABSENT_ID, "why").map(drop),
            "move_aside",
        );
        check(backend.moved_aside(name).map(drop), "moved_aside");
        check(
            backend.record_failed_apply(name, ABSENT_ID).map(drop),
            "record_failed_apply",
        );
    }
    // Tables a careless backend might have reached through the bad names.
    let near = [
        "x",
        "escape",
        "abs",
        "hidden",
        "a",
        "b",
        "ab",
        "users",
        "zerowidth",
        "xy",
    ];
    for table in near.into_iter().chain([TABLE]) {
        let expected = usize::from(table == TABLE);
        let count = backend.count_pending(table).expect("count_pending");
        assert_eq!(
            count, expected,
            "after the bad names, table {table:?} holds {count}"
        );
        assert!(
            !backend.is_locked(table).expect("is_locked"),
            "{table:?} not locked"
        );
    }
    assert_eq!(
        head(backend, TABLE).1,
        bystander,
        "the good table's entry is untouched"
    );
    let tables = backend.tables_with_pending().expect("tables_with_pending");
    assert_eq!(tables, [TABLE], "only the good table has pending writes");
}

/// Every method that takes a queue id rejects ids that are not well formed
/// (`../../x`, `a/b`, empty, `x.pending`, ...) with `InvalidQueueId`
/// naming the rule, and the queue is untouched: same count, same head. A
/// batch removal with one bad id among good ones removes nothing.
pub fn bad_queue_ids_are_rejected<B: Backend>(backend: &B) {
    let first = tagged_write("first");
    let first_id = backend.queue_write(TABLE, &first).expect("queue_write");
    backend
        .queue_write(TABLE, &tagged_write("second"))
        .expect("queue_write");
    for bad in bad_queue_ids() {
        let (id, rule) = (bad.name.as_str(), bad.rule);
        let what = |method: &str| format!("{method} with id {id:?} ({})", bad.what);
        let check = |result: ReedResult<()>, method: &str| {
            assert_invalid_id(result, id, rule, &what(method));
            let count = backend.count_pending(TABLE).expect("count_pending");
            assert_eq!(count, 2, "{}: the count changed", what(method));
        };
        check(backend.remove_from_queue(TABLE, id), "remove_from_queue");
        let batch = [first_id.clone(), id.to_string()];
        check(
            backend.remove_batch_from_queue(TABLE, &batch),
            "remove_batch_from_queue",
        );
        check(backend.is_pending(TABLE, id).map(drop), "is_pending");
        check(backend.move_aside(TABLE, id, "why").map(drop), "move_aside");
        check(
            backend.record_failed_apply(TABLE, id).map(drop),
            "record_failed_apply",
        );
    }
    assert_eq!(
        head(backend, TABLE),
        (first_id, first),
        "the head is untouched"
    );
    assert!(
        backend.moved_aside(TABLE).expect("moved_aside").is_empty(),
        "nothing moved"
    );
}

/// `queue_write` rejects a write with a row that has `|`, `\n` or `\r` in
/// its key or a value, or an empty key, with `InvalidRow` naming the field,
/// and queues nothing (not even the write's good rows).
pub fn invalid_rows_are_rejected<B: Backend>(backend: &B) {
    let good = CsvRow::new("good", ["fine"]);
    let cases: Vec<(CsvRow, RowField)> = vec![
        (CsvRow::new("a|b", ["v"]), RowField::Key),
        (CsvRow::new("k", ["ok", "a|b"]), RowField::Value(1)),
        (CsvRow::new("k\n", ["v"]), RowField::Key),
        (CsvRow::new("k", ["line\nbreak"]), RowField::Value(0)),
        (CsvRow::new("k", ["carriage\rreturn"]), RowField::Value(0)),
        (CsvRow::new("k\r", ["v"]), RowField::Key),
        (CsvRow::new("", ["v"]), RowField::Key),
    ];
    for (bad, field) in cases {
        let write = PendingWrite::new(WriteOperation::Insert, vec![good.clone(), bad.clone()]);
        let what = format!("queue_write with row {bad:?}");
        match backend.queue_write(TABLE, &write).expect_err(&what) {
            ReedError::InvalidRow {
                key, field: named, ..
            } => {
                assert_eq!(key, bad.key, "{what}: InvalidRow carries the row's key");
                assert_eq!(named, field, "{what}: InvalidRow names the wrong field");
            }
            other => panic!("{what}: expected InvalidRow, got {other:?}"),
        }
        let count = backend.count_pending(TABLE).expect("count_pending");
        assert_eq!(count, 0, "{what}: something was queued");
    }
}

/// A call with a bad table name and another bad input reports the table
/// name: every backend checks the table name first, so that the same call
/// gets the same error whichever backend runs it.
pub fn table_name_is_checked_first<B: Backend>(backend: &B) {
    let bad_row = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["a|b"])]);
    let rule = NameRule::PathSeparator;
    let what = "with a bad table name and a bad row or id";
    assert_invalid_name(backend.queue_write("../x", &bad_row), "../x", rule, what);
    assert_invalid_name(
        backend.remove_from_queue("../x", "../../x"),
        "../x",
        rule,
        what,
    );
    assert_invalid_name(backend.is_pending("../x", "../../x"), "../x", rule, what);
    assert_invalid_name(
        backend.move_aside("../x", "../../x", "why"),
        "../x",
        rule,
        what,
    );
    assert_invalid_name(
        backend.record_failed_apply("../x", "../../x"),
        "../x",
        rule,
        what,
    );
}

/// Names that are unusual but valid (a dot inside, a space, `-` and `_`,
/// Unicode, exactly 128 bytes) work with every method.
pub fn unusual_valid_names_work<B: Backend>(backend: &B) {
    let long = "n".repeat(MAX_NAME_BYTES);
    let names = [
        "users",
        "a.b",
        "with space",
        "user-data_2",
        "名前",
        "ÄÖÜ",
        long.as_str(),
    ];
    for name in names {
        let round = || -> ReedResult<()> {
            let guard = backend.acquire_lock(name, Duration::from_secs(1))?;
            assert!(backend.is_locked(name)?, "{name:?}: locked while held");
            assert!(backend.try_acquire_lock(name)?.is_none(), "{name:?}: held");
            assert!(
                backend.lock_holder(name)?.is_some(),
                "{name:?}: has a holder"
            );
            drop(guard);
            backend.wait_for_unlock(name, Duration::from_secs(1))?;
            let write = tagged_write(name);
            let id = backend.queue_write(name, &write)?;
            assert_eq!(backend.count_pending(name)?, 1, "{name:?}: count_pending");
            assert!(backend.is_pending(name, &id)?, "{name:?}: is_pending");
            assert_eq!(
                backend.get_next_pending(name)?,
                Some((id.clone(), write)),
                "{name:?}"
            );
            assert!(
                backend.tables_with_pending()?.iter().any(|t| t == name),
                "{name:?}"
            );
            backend.remove_from_queue(name, &id)?;
            Ok(())
        };
        round().unwrap_or_else(|e| panic!("lock and queue round with valid name {name:?}: {e}"));
    }
}
