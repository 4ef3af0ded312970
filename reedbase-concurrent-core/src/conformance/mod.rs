// SPDX-License-Identifier: Apache-2.0
//! The conformance suite: plain functions, each taking a backend, that check
//! the contracts of [`LockBackend`](crate::LockBackend) and [`QueueBackend`](crate::QueueBackend) (and the
//! [`WriteCoordinator`](crate::WriteCoordinator) flow over them).
//!
//! A backend crate's tests call [`run_all`] with a factory that makes a
//! fresh, empty backend; every case gets its own. A backend is done when it
//! passes the suite unchanged. Each case is also a public function, so a
//! test can run one alone, and [`cases`] lists them by name. A backend that
//! is a faithful copy of something older (`reedbase-last`) names the cases
//! it is known to fail in [`run_all_except`].
//!
//! A case fails by panicking with a message that says what was expected and
//! what happened. Cases that need several entries use
//! `min(backend.capacity(), n)` where they can; the suite needs a capacity
//! of at least [`MIN_CAPACITY`].
//!
//! ```
//! use reedbase_concurrent_core::conformance;
//! use reedbase_concurrent_mem::MemBackend;
//!
//! // A backend crate's test runs the whole suite: conformance::run_all(MemBackend::new).
//! // One case alone:
//! let case = conformance::case_named::<MemBackend>("fifo_without_sleeps").ok_or("no such case")?;
//! conformance::run_case(&case, MemBackend::new)?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # The cases
//!
//! The old module's lock tests (LAST-BEHAVIOUR.md), against the trait:
//!
//! | case | what it checks |
//! | --- | --- |
//! | [`acquire_lock_succeeds`] | a free lock is taken, is locked, is free after the guard drops |
//! | [`acquire_lock_times_out_against_held_lock`] | a 500 ms acquire against a held lock is `LockTimeout` |
//! | [`is_locked_false_without_lock`] | a table nobody locked is not locked |
//! | [`is_locked_true_while_held`] | a held lock is locked |
//! | [`wait_for_unlock_returns_after_release`] | `wait_for_unlock` returns when another thread releases after 200 ms |
//! | [`wait_for_unlock_times_out_while_held`] | `wait_for_unlock` (200 ms) on a held lock is `LockTimeout` |
//! | [`different_tables_lock_independently`] | two tables are held at once |
//! | [`lock_released_at_end_of_scope`] | RAII: the lock is free (and can be taken) once the guard's scope ends |
//! | [`second_thread_times_out_while_held`] | another thread's 300 ms acquire is `LockTimeout` |
//! | [`is_locked_false_for_unknown_table`] | `is_locked` on an unknown table is `Ok(false)` |
//!
//! The old module's queue tests, against the trait:
//!
//! | case | what it checks |
//! | --- | --- |
//! | [`queue_write_then_get_returns_it`] | `get_next_pending` returns the id and content queued |
//! | [`remove_from_queue_removes_entry`] | removing the one entry takes the count from 1 to 0 |
//! | [`count_pending_empty_is_zero`] | a never used queue counts 0 |
//! | [`count_pending_counts_writes`] | two writes count 2 |
//! | [`queue_write_beyond_capacity_is_queue_full`] | `capacity()` writes succeed, the next is `QueueFull` |
//! | [`fifo_two_writes_apart`] | of two writes 10 ms apart, the first comes out first |
//! | [`get_next_pending_empty_is_none`] | an empty queue gives `None` |
//! | [`every_operation_is_queued`] | Insert, Update and Delete are queued, counted, and kept |
//! | [`rows_keep_their_order`] | a write's three rows keep their order |
//! | [`tables_have_separate_queues`] | two tables' queues count and return separately |
//! | [`remove_missing_id_is_error`] | removing an id that is not queued is an error |
//! | [`drain_follows_timestamp_order`] | five writes 10 ms apart drain in the order (and timestamps) written |
//!
//! Lock contracts of the new design:
//!
//! | case | what it checks |
//! | --- | --- |
//! | [`try_acquire_lock_never_waits`] | `Some` when free, `None` when held, `Some` again after the drop |
//! | [`zero_timeout_tries_once`] | a zero timeout takes a free lock / returns for a free lock, times out on a held one |
//! | [`acquire_lock_timeout_reports_real_wait`] | `LockTimeout { table, waited }` with `waited >= 300 ms` and no more than the call took |
//! | [`wait_for_unlock_timeout_reports_real_wait`] | the same for `wait_for_unlock` |
//!
//! Queue contracts of the new design:
//!
//! | case | what it checks |
//! | --- | --- |
//! | [`remove_missing_id_is_not_found`] | a missing well-formed id is `QueueEntryNotFound { table, queue_id }` |
//! | [`remove_twice_is_not_found`] | the second removal of an id is `QueueEntryNotFound` |
//! | [`get_next_pending_does_not_remove`] | two gets return the same entry, the count stays |
//! | [`remove_non_head_keeps_order`] | removing entries behind the head keeps the rest in order |
//! | [`queue_full_names_table_and_size`] | `QueueFull` names the table, with `size == capacity()` |
//! | [`pending_write_survives_exactly`] | every field comes back exactly: operations, row order, empty values, Unicode, no rows, timestamps 0 to `u64::MAX` |
//! | [`fifo_without_sleeps`] | 50 writes back to back come out in order |
//! | [`queue_ids_are_distinct_and_valid`] | ids are distinct, pass `validate_queue_id`, and are not reused |
//! | [`tables_are_independent`] | a held lock, a full queue and ids of one table do not affect another |
//!
//! Input validation at the backend boundary:
//!
//! | case | what it checks |
//! | --- | --- |
//! | [`bad_table_names_are_rejected`] | all eight methods refuse `../x`, `/abs`, empty, `.`, `..`, `.hidden`, `a/b`, `a\b`, NUL, control characters, `C:x`, 129 bytes with `InvalidTableName`; nothing touched |
//! | [`bad_queue_ids_are_rejected`] | `remove_from_queue` refuses `../../x`, `a/b`, empty, `x.pending`, ... with `InvalidQueueId`; queue untouched |
//! | [`invalid_rows_are_rejected`] | `\|`, `\n`, `\r` or an empty key is `InvalidRow` naming the field; nothing queued |
//! | [`table_name_is_checked_first`] | a call with a bad table name and a bad row or id reports `InvalidTableName` |
//! | [`unusual_valid_names_work`] | valid names with a dot, a space, Unicode, or 128 bytes work with every method |
//!
//! Several threads:
//!
//! | case | what it checks |
//! | --- | --- |
//! | [`capacity_holds_under_concurrent_producers`] | 8 threads released by a barrier: exactly `capacity()` writes succeed, the rest `QueueFull`; 5 rounds |
//! | [`capacity_holds_when_producers_race_for_last_places`] | 20 times: 4 places free in a full queue, 8 threads x 2 writes; exactly 4 succeed |
//! | [`lock_excludes_other_threads`] | 4 threads x 100 lock rounds: never two inside, no lost counter update |
//! | [`acquire_lock_wakes_promptly`] | a waiting `acquire_lock` gets a released lock within 40 ms (best of 3) |
//! | [`wait_for_unlock_wakes_promptly`] | a waiting `wait_for_unlock` returns within 40 ms of the release (best of 3) |
//! | [`reader_racing_writer_sees_whole_entries`] | a reader polling while 100-row entries are queued always gets `Ok` and the whole oldest entry |
//! | [`reader_draining_while_writer_queues_sees_whole_entries`] | a reader removing as it reads sees every entry whole, once, in order |
//!
//! The [`WriteCoordinator`](crate::WriteCoordinator) over the backend:
//!
//! | case | what it checks |
//! | --- | --- |
//! | [`coordinator_applies_when_free`] | `Applied { drained: 0 }`, a direct key, applied under the lock, lock released |
//! | [`coordinator_queues_on_lock_timeout`] | against a held lock: `Queued(id)`, one entry under that id |
//! | [`coordinator_hands_back_write_when_queue_full`] | lock held and queue full: the write comes back unchanged with `Backend(QueueFull)` |
//! | [`coordinator_queued_write_not_overtaken`] | a later direct write applies the queued one first (under its queue id), `drained: 1` |
//! | [`coordinator_apply_failure_keeps_entry`] | a failing apply in `drain` is `Apply { queue_id: Some(id) }`, the entry stays first, a later drain applies it |
//! | [`coordinator_submit_stops_at_failed_queued_write`] | a failing apply of a queued write hands the submitted write back unapplied |
//! | [`coordinator_direct_apply_failure_hands_write_back`] | a failing apply of the direct write hands it back, `Apply { queue_id: None }` |
//! | [`coordinator_rejects_invalid_input`] | a bad table name or row is handed back, nothing applied or queued, lock held or not |
//! | [`coordinator_drain_waits_for_lock`] | `drain` against a held lock is `Backend(LockTimeout)` and applies nothing |
//! | [`coordinator_threads_apply_each_write_once_in_order`] | 4 threads x 25 writes, 1 ms timeouts: each applied exactly once, each thread's in order |
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod capacity_cases;
mod concurrency_cases;
mod coordinator_cases;
mod coordinator_concurrency_cases;
mod lock_cases;
mod queue_cases;
mod queue_contract_cases;
mod samples;
mod validation_cases;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use capacity_cases::*;
pub use concurrency_cases::*;
pub use coordinator_cases::*;
pub use coordinator_concurrency_cases::*;
pub use lock_cases::*;
pub use queue_cases::*;
pub use queue_contract_cases::*;
pub use validation_cases::*;

/// The smallest queue capacity the suite can check: some cases need five
/// entries in one queue.
pub const MIN_CAPACITY: usize = 5;

/// The bounds a backend needs to be run through the suite.
pub trait Backend: crate::Backend + Sync {}

impl<T: crate::Backend + Sync> Backend for T {}

/// One named case of the suite.
pub struct Case<B> {
    /// The case's name, which is also its function's name.
    pub name: &'static str,
    /// The check; panics on failure.
    pub run: fn(&B),
}

/// Builds a [`Case`] whose name is its function's name.
macro_rules! case {
    ($function:ident) => {
        Case {
            name: stringify!($function),
            run: $function::<B>,
        }
    };
}

/// Every case of the suite, in a stable order (the order of the tables in
/// the [module docs](self)).
pub fn cases<B: Backend>() -> Vec<Case<B>> {
    vec![
        // The old module's lock tests.
        case!(acquire_lock_succeeds),
        case!(acquire_lock_times_out_against_held_lock),
        case!(is_locked_false_without_lock),
        case!(is_locked_true_while_held),
        case!(wait_for_unlock_returns_after_release),
        case!(wait_for_unlock_times_out_while_held),
        case!(different_tables_lock_independently),
        case!(lock_released_at_end_of_scope),
        case!(second_thread_times_out_while_held),
        case!(is_locked_false_for_unknown_table),
        // The old module's queue tests.
        case!(queue_write_then_get_returns_it),
        case!(remove_from_queue_removes_entry),
        case!(count_pending_empty_is_zero),
        case!(count_pending_counts_writes),
        case!(queue_write_beyond_capacity_is_queue_full),
        case!(fifo_two_writes_apart),
        case!(get_next_pending_empty_is_none),
        case!(every_operation_is_queued),
        case!(rows_keep_their_order),
        case!(tables_have_separate_queues),
        case!(remove_missing_id_is_error),
        case!(drain_follows_timestamp_order),
        // Lock contracts.
        case!(try_acquire_lock_never_waits),
        case!(zero_timeout_tries_once),
        case!(acquire_lock_timeout_reports_real_wait),
        case!(wait_for_unlock_timeout_reports_real_wait),
        // Queue contracts.
        case!(remove_missing_id_is_not_found),
        case!(remove_twice_is_not_found),
        case!(get_next_pending_does_not_remove),
        case!(remove_non_head_keeps_order),
        case!(queue_full_names_table_and_size),
        case!(pending_write_survives_exactly),
        case!(fifo_without_sleeps),
        case!(queue_ids_are_distinct_and_valid),
        case!(tables_are_independent),
        // Input validation.
        case!(bad_table_names_are_rejected),
        case!(bad_queue_ids_are_rejected),
        case!(invalid_rows_are_rejected),
        case!(table_name_is_checked_first),
        case!(unusual_valid_names_work),
        // Several threads.
        case!(capacity_holds_under_concurrent_producers),
        case!(capacity_holds_when_producers_race_for_last_places),
        case!(lock_excludes_other_threads),
        case!(acquire_lock_wakes_promptly),
        case!(wait_for_unlock_wakes_promptly),
        case!(reader_racing_writer_sees_whole_entries),
        case!(reader_draining_while_writer_queues_sees_whole_entries),
        // The write coordinator.
        case!(coordinator_applies_when_free),
        case!(coordinator_queues_on_lock_timeout),
        case!(coordinator_hands_back_write_when_queue_full),
        case!(coordinator_queued_write_not_overtaken),
        case!(coordinator_apply_failure_keeps_entry),
        case!(coordinator_submit_stops_at_failed_queued_write),
        case!(coordinator_direct_apply_failure_hands_write_back),
        case!(coordinator_rejects_invalid_input),
        case!(coordinator_drain_waits_for_lock),
        case!(coordinator_threads_apply_each_write_once_in_order),
    ]
}

/// Runs every case, each on a fresh backend from `make`, and panics after
/// the last one if any failed, naming each failed case and its message.
pub fn run_all<B: Backend>(make: impl Fn() -> B) {
    run_all_except(make, &[]);
}

/// As [`run_all`], but skips the cases named in `skip`.
///
/// # Panics
///
/// If a name in `skip` is not a case of the suite (so that a list of
/// expected failures cannot go stale by a rename), or if a case fails.
pub fn run_all_except<B: Backend>(make: impl Fn() -> B, skip: &[&str]) {
    let all = cases::<B>();
    for name in skip {
        assert!(
            all.iter().any(|case| case.name == *name),
            "skip list names {name:?}, which is not a conformance case"
        );
    }
    let mut failures = Vec::new();
    for case in all.iter().filter(|case| !skip.contains(&case.name)) {
        if let Err(message) = run_case(case, &make) {
            failures.push(format!("{}: {message}", case.name));
        }
    }
    assert!(
        failures.is_empty(),
        "{} conformance case(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Runs one case on a fresh backend; returns the panic message if it fails.
///
/// # Errors
///
/// The case's panic message, or a message saying that the backend's
/// capacity is below [`MIN_CAPACITY`].
pub fn run_case<B: Backend>(case: &Case<B>, make: impl Fn() -> B) -> Result<(), String> {
    let backend = make();
    if backend.capacity() < MIN_CAPACITY {
        return Err(format!(
            "the backend's queue capacity is {}; the suite needs at least {MIN_CAPACITY}",
            backend.capacity()
        ));
    }
    catch_unwind(AssertUnwindSafe(|| (case.run)(&backend))).map_err(|payload| {
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
            .unwrap_or_else(|| "panicked with a non-string payload".to_string())
    })
}

/// Looks a case up by name.
pub fn case_named<B: Backend>(name: &str) -> Option<Case<B>> {
    cases::<B>().into_iter().find(|case| case.name == name)
}
