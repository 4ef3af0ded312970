// SPDX-License-Identifier: Apache-2.0
//! The API shapes the crate promises, each shown working from outside
//! the crate, as a ReedBase engineer writes it: rows from any string types,
//! one `Backend` bound, moved-aside entries from generic code, one small
//! error with predicates, `apply` closures without annotations and reused
//! through `&mut`, and messages that say what to do.

use std::time::Duration;

use reedbase_concurrent_core::{
    Backend, CsvRow, LockBackend, MovedAside, PendingWrite, QueueBackend, ReedResult,
    SubmitOutcome, WriteCoordinator, WriteError, WriteOperation, apply_each, validate_row,
    validate_table_name,
};
use reedbase_concurrent_mem::MemBackend;

const LONG: Duration = Duration::from_secs(5);

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

#[test]
fn csv_row_takes_key_and_values_of_different_string_types() {
    let n = 7;
    let formatted = CsvRow::new(format!("user:{n}"), ["Alice", "alice@example.com"]);
    assert_eq!(formatted.to_csv(), "user:7|Alice|alice@example.com");
    let owned_values = CsvRow::with_values("user:8", vec![String::from("Bob")]);
    assert_eq!(owned_values.to_csv(), "user:8|Bob");
    let owned_array = CsvRow::new("user:8", [String::from("Bob")]);
    assert_eq!(owned_array, owned_values);
    let from_iterator = CsvRow::with_values(String::from("user:9"), (1..=3).map(|v| v.to_string()));
    assert_eq!(from_iterator.to_csv(), "user:9|1|2|3");
}

/// The old module's signature still compiles: `vec![]` takes its element
/// type from the key, as it did when the values were `Vec<S>` of the key's
/// type `S`.
#[test]
fn csv_row_new_takes_an_empty_vec_as_the_old_module_did() {
    let bare = CsvRow::new("user:1", vec![]);
    assert_eq!(bare.to_csv(), "user:1|");
    let owned = CsvRow::new(String::from("user:2"), vec![]);
    assert!(owned.values.is_empty());
    let same_type = CsvRow::new("user:3", vec!["Alice"]);
    assert_eq!(same_type.values, ["Alice"]);
}

/// Locks, queues and moved-aside entries, all through the one bound.
fn queue_unless_locked<B: Backend>(backend: &B, table: &str) -> ReedResult<Vec<MovedAside>> {
    match backend.try_acquire_lock(table)? {
        Some(_guard) => {}
        None => {
            let id = backend.queue_write(table, &write("k"))?;
            backend.move_aside(table, &id, "set aside by generic code")?;
        }
    }
    backend.moved_aside(table)
}

#[test]
fn one_backend_bound_reaches_both_traits_and_moved_aside() {
    let backend = MemBackend::new();
    assert!(queue_unless_locked(&backend, "users").unwrap().is_empty());
    let _held = backend.acquire_lock("users", LONG).unwrap();
    let moved = queue_unless_locked(&backend, "users").unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].reason, "set aside by generic code");
}

#[test]
fn write_error_is_one_pointer_and_answers_predicates() {
    assert_eq!(size_of::<WriteError>(), size_of::<usize>());
    assert!(size_of::<Result<SubmitOutcome, WriteError>>() <= 4 * size_of::<usize>());

    let backend = MemBackend::with_capacity(1);
    let coordinator = WriteCoordinator::new(&backend);
    backend.queue_write("users", &write("first")).unwrap();
    let held = backend.acquire_lock("users", LONG).unwrap();
    let full = coordinator
        .submit("users", write("second"), Duration::ZERO, |_, _| Ok(()))
        .unwrap_err();
    assert!(full.is_queue_full() && !full.is_lock_timeout() && !full.is_apply_failure());
    let timeout = coordinator
        .drain("users", Duration::ZERO, |_, _| Ok(()))
        .unwrap_err();
    assert!(timeout.is_lock_timeout() && !timeout.is_queue_full());
    drop(held);
    let invalid = coordinator
        .submit("../x", write("k"), LONG, |_, _| Ok(()))
        .unwrap_err();
    assert!(invalid.is_invalid_input());
    let refused = coordinator
        .submit(
            "users",
            write("third"),
            LONG,
            |_, _| Err("disk full".into()),
        )
        .unwrap_err();
    assert!(refused.is_apply_failure() && refused.blocking_entry().is_some());
    assert!(!refused.is_lock_lost() && !refused.is_queue_busy());
}

#[test]
fn apply_closures_need_no_annotations_and_use_question_mark() {
    let coordinator = WriteCoordinator::new(MemBackend::new());
    let mut rows = Vec::new();
    // Straight into the call: neither `ApplyKey<'_>` nor the error type.
    coordinator
        .submit("users", write("a"), LONG, |key, write| {
            let parsed: u32 = "7".parse()?;
            assert!(key.is_direct());
            rows.push((parsed, write.rows[0].to_csv()));
            Ok(())
        })
        .unwrap();
    coordinator
        .submit_batch("users", write("b"), LONG, |batch| {
            std::fs::metadata(std::env::temp_dir())?;
            rows.extend(batch.iter().map(|item| (0, item.write.rows[0].to_csv())));
            Ok(())
        })
        .unwrap();
    assert_eq!(rows, [(7, "a|v".to_string()), (0, "b|v".to_string())]);
}

#[test]
fn one_apply_closure_is_reused_through_mut_ref() {
    let backend = MemBackend::new();
    let coordinator = WriteCoordinator::new(&backend);
    let mut table: Vec<(Option<String>, String)> = Vec::new();
    let mut apply = apply_each(|key, write| {
        table.push((key.queue_id().map(str::to_string), write.rows[0].to_csv()));
        Ok(())
    });
    let queued = {
        let _held = backend.acquire_lock("users", LONG).unwrap();
        match coordinator.submit("users", write("a"), Duration::ZERO, &mut apply) {
            Ok(SubmitOutcome::Queued(id)) => id,
            other => panic!("expected Queued, got {other:?}"),
        }
    };
    coordinator
        .submit("users", write("b"), LONG, &mut apply)
        .unwrap();
    coordinator.drain("users", LONG, &mut apply).unwrap();
    assert_eq!(
        table,
        [(Some(queued), "a|v".to_string()), (None, "b|v".to_string())]
    );
}

#[test]
fn messages_say_what_happened_and_what_to_do() {
    let backend = MemBackend::with_capacity(0);
    let coordinator = WriteCoordinator::new(&backend);
    let _held = backend.acquire_lock("users", LONG).unwrap();
    let full = coordinator
        .submit("users", write("k"), Duration::ZERO, |_, _| Ok(()))
        .unwrap_err()
        .to_string();
    for part in ["'users'", "retry later", "drain", "capacity"] {
        assert!(full.contains(part), "queue full: {full}");
    }

    let backend = MemBackend::new();
    let coordinator = WriteCoordinator::new(&backend);
    let refused = coordinator
        .submit("orders", write("k"), LONG, |_, _| Err("disk full".into()))
        .unwrap_err()
        .to_string();
    for part in ["'orders'", "applying it failed", "disk full", "handed back"] {
        assert!(refused.contains(part), "apply failure: {refused}");
    }

    let escape = validate_table_name("../x").unwrap_err().to_string();
    assert!(
        escape.contains("would leave the base directory"),
        "{escape}"
    );

    let row = validate_row(&CsvRow::new("user:1", ["ok", "a|b"]))
        .unwrap_err()
        .to_string();
    assert!(row.contains("value 2 (column 3)"), "{row}");
    let key = validate_row(&CsvRow::new("", ["v"]))
        .unwrap_err()
        .to_string();
    assert!(key.contains("key (column 1)"), "{key}");
}
