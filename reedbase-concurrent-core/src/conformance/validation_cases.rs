// SPDX-License-Identifier: Apache-2.0
//! Cases for input validation at the backend boundary: bad table names,
//! bad queue ids and rows that would corrupt a table are refused before
//! anything is touched; good but unusual names work.

use std::time::Duration;

use super::Backend;
use super::samples::{
    ABSENT_ID, bad_queue_ids, bad_table_names, err, err_of_guard, head, ok, tagged_write,
};
use crate::error::{ReedError, ReedResult};
use crate::types::{CsvRow, PendingWrite, WriteOperation};
use crate::validation::{MAX_NAME_BYTES, RowField};

const TABLE: &str = "test_table";

/// Panics unless `error` is `InvalidTableName` for `name`.
#[track_caller]
fn assert_invalid_name(error: ReedError, name: &str, what: &str) {
    match error {
        ReedError::InvalidTableName { name: named, .. } => {
            assert_eq!(
                named, name,
                "{what}: InvalidTableName should carry the name as given"
            );
        }
        other => panic!("{what}: expected InvalidTableName, got {other:?}"),
    }
}

/// Every method of both traits rejects each bad table name (`../x`, `/abs`,
/// empty, `.`, `..`, `.hidden`, `a/b`, `a\b`, NUL, control characters, a
/// drive prefix, 129 bytes) with `InvalidTableName`, and a good table's lock
/// and queue are untouched afterwards.
pub fn bad_table_names_are_rejected<B: Backend>(backend: &B) {
    let bystander = tagged_write("bystander");
    ok(
        backend.queue_write(TABLE, &bystander),
        "queue_write on a good table",
    );
    let timeout = Duration::from_millis(20);
    for (name, kind) in bad_table_names() {
        let name = name.as_str();
        let what = |method: &str| format!("{method} with table name {name:?} ({kind})");
        let error = err_of_guard(backend.acquire_lock(name, timeout), &what("acquire_lock"));
        assert_invalid_name(error, name, &what("acquire_lock"));
        let error = err_of_guard(backend.try_acquire_lock(name), &what("try_acquire_lock"));
        assert_invalid_name(error, name, &what("try_acquire_lock"));
        let error = err(backend.is_locked(name), &what("is_locked"));
        assert_invalid_name(error, name, &what("is_locked"));
        let error = err(
            backend.wait_for_unlock(name, timeout),
            &what("wait_for_unlock"),
        );
        assert_invalid_name(error, name, &what("wait_for_unlock"));
        let error = err(
            backend.queue_write(name, &tagged_write("x")),
            &what("queue_write"),
        );
        assert_invalid_name(error, name, &what("queue_write"));
        let error = err(backend.get_next_pending(name), &what("get_next_pending"));
        assert_invalid_name(error, name, &what("get_next_pending"));
        let error = err(
            backend.remove_from_queue(name, ABSENT_ID),
            &what("remove_from_queue"),
        );
        assert_invalid_name(error, name, &what("remove_from_queue"));
        let error = err(backend.count_pending(name), &what("count_pending"));
        assert_invalid_name(error, name, &what("count_pending"));
    }
    // Tables a careless backend might have reached through the bad names.
    for near in ["x", "abs", "hidden", "a", "b", "ab", "test_table"] {
        let expected = usize::from(near == TABLE);
        assert_eq!(
            ok(backend.count_pending(near), "count_pending"),
            expected,
            "after the bad names, table {near:?} should hold {expected} entries"
        );
        assert!(
            !ok(backend.is_locked(near), "is_locked"),
            "table {near:?} should not be locked"
        );
    }
    let (_, got) = head(
        backend.get_next_pending(TABLE),
        "get_next_pending on the good table",
    );
    assert_eq!(got, bystander, "the good table's entry should be untouched");
}

/// `remove_from_queue` rejects ids that are not well formed (`../../x`,
/// `a/b`, empty, `x.pending`, ...) with `InvalidQueueId`, and the queue is
/// untouched: same count, same head.
pub fn bad_queue_ids_are_rejected<B: Backend>(backend: &B) {
    let first = tagged_write("first");
    let first_id = ok(backend.queue_write(TABLE, &first), "queue_write");
    ok(
        backend.queue_write(TABLE, &tagged_write("second")),
        "queue_write",
    );
    for (id, kind) in bad_queue_ids() {
        let what = format!("remove_from_queue with id {id:?} ({kind})");
        match err(backend.remove_from_queue(TABLE, &id), &what) {
            ReedError::InvalidQueueId { id: named, .. } => {
                assert_eq!(
                    named, id,
                    "{what}: InvalidQueueId should carry the id as given"
                );
            }
            other => panic!("{what}: expected InvalidQueueId, got {other:?}"),
        }
        assert_eq!(
            ok(backend.count_pending(TABLE), "count_pending"),
            2,
            "{what}: count changed"
        );
    }
    let got = head(backend.get_next_pending(TABLE), "get_next_pending");
    assert_eq!(
        got,
        (first_id, first),
        "the head should be untouched by rejected removals"
    );
}

/// `queue_write` rejects a write with a row that has `|`, `\n` or `\r` in
/// its key or a value, or an empty key, with `InvalidRow` naming the field,
/// and queues nothing (not even the write's good rows).
pub fn invalid_rows_are_rejected<B: Backend>(backend: &B) {
    let good = CsvRow::new("good", vec!["fine"]);
    let cases: Vec<(CsvRow, RowField)> = vec![
        (CsvRow::new("a|b", vec!["v"]), RowField::Key),
        (CsvRow::new("k", vec!["ok", "a|b"]), RowField::Value(1)),
        (CsvRow::new("k\n", vec!["v"]), RowField::Key),
        (CsvRow::new("k", vec!["line\nbreak"]), RowField::Value(0)),
        (
            CsvRow::new("k", vec!["carriage\rreturn"]),
            RowField::Value(0),
        ),
        (CsvRow::new("k\r", vec!["v"]), RowField::Key),
        (CsvRow::new("", vec!["v"]), RowField::Key),
    ];
    for (bad, field) in cases {
        let write = PendingWrite::new(WriteOperation::Insert, vec![good.clone(), bad.clone()]);
        let what = format!("queue_write with row {bad:?}");
        match err(backend.queue_write(TABLE, &write), &what) {
            ReedError::InvalidRow {
                key, field: named, ..
            } => {
                assert_eq!(
                    key, bad.key,
                    "{what}: InvalidRow should carry the row's key"
                );
                assert_eq!(named, field, "{what}: InvalidRow names the wrong field");
            }
            other => panic!("{what}: expected InvalidRow, got {other:?}"),
        }
        assert_eq!(
            ok(backend.count_pending(TABLE), "count_pending"),
            0,
            "{what}: something was queued"
        );
    }
    assert!(
        ok(backend.get_next_pending(TABLE), "get_next_pending").is_none(),
        "queue should be empty"
    );
}

/// A call with a bad table name and another bad input reports the table
/// name: every backend checks the table name first, so that the same call
/// gets the same error whichever backend runs it.
pub fn table_name_is_checked_first<B: Backend>(backend: &B) {
    let bad_row = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["a|b"])]);
    assert_invalid_name(
        err(
            backend.queue_write("../x", &bad_row),
            "queue_write with a bad table name and a bad row",
        ),
        "../x",
        "queue_write with a bad table name and a bad row",
    );
    assert_invalid_name(
        err(
            backend.remove_from_queue("../x", "../../x"),
            "remove_from_queue with a bad table name and a bad id",
        ),
        "../x",
        "remove_from_queue with a bad table name and a bad id",
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
        let what = |method: &str| format!("{method} with valid table name {name:?}");
        let checked: ReedResult<()> = (|| {
            let guard = backend.acquire_lock(name, Duration::from_secs(1))?;
            assert!(
                backend.is_locked(name)?,
                "{}: should be locked",
                what("is_locked")
            );
            assert!(
                backend.try_acquire_lock(name)?.is_none(),
                "{}: should be held",
                what("try_acquire_lock")
            );
            drop(guard);
            backend.wait_for_unlock(name, Duration::from_secs(1))?;
            let write = tagged_write(name);
            let id = backend.queue_write(name, &write)?;
            assert_eq!(backend.count_pending(name)?, 1, "{}", what("count_pending"));
            let got = backend.get_next_pending(name)?;
            assert_eq!(
                got,
                Some((id.clone(), write)),
                "{}",
                what("get_next_pending")
            );
            backend.remove_from_queue(name, &id)?;
            Ok(())
        })();
        ok(checked, &what("lock and queue round"));
    }
}
