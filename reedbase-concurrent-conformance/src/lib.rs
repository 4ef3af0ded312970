// SPDX-License-Identifier: Apache-2.0
//! What every backend is checked with, in two parts:
//!
//! - the conformance suite: plain functions, each taking a backend, that
//!   check the contracts of [`LockBackend`](reedbase_concurrent_core::LockBackend) and
//!   [`QueueBackend`](reedbase_concurrent_core::QueueBackend) and the
//!   [`WriteCoordinator`](reedbase_concurrent_core::WriteCoordinator) flow over them;
//! - the one operation model ([`model`]): random sequences of operations run
//!   on a backend and on a plain reference, compared step by step (a
//!   backend's proptest, and `cargo xtask parity` across backends).
//!
//! Both use one list of bad inputs ([`bad_table_names`], [`bad_queue_ids`],
//! [`UNKNOWN_IDS`]). [`LosingLocks`] wraps any backend so that its locks can
//! be lost on purpose.
//!
//! A backend crate's tests call [`run_all`] with a factory that makes a
//! fresh, empty backend; every case gets its own. A backend is done when it
//! passes the suite and the model unchanged. Each case is also a public function, so a
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
//! use reedbase_concurrent_conformance as conformance;
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
//! Each case's own docs say what it checks; here they are by subject, one
//! file each. [`cases`] lists them in a stable order: the old module's own
//! lock and queue tests first (the ones `cargo xtask parity` labels as
//! such), then the rest.
//!
//! - Lock (`lock.rs`):
//!   [`acquire_lock_succeeds`], [`acquire_lock_times_out_against_held_lock`],
//!   [`is_locked_false_without_lock`], [`is_locked_true_while_held`],
//!   [`wait_for_unlock_returns_after_release`],
//!   [`wait_for_unlock_times_out_while_held`],
//!   [`different_tables_lock_independently`],
//!   [`lock_released_at_end_of_scope`], [`second_thread_times_out_while_held`],
//!   [`is_locked_false_for_unknown_table`], [`try_acquire_lock_never_waits`],
//!   [`try_acquire_lock_for_returns_none_on_timeout`],
//!   [`zero_timeout_tries_once`], [`acquire_lock_timeout_reports_real_wait`],
//!   [`wait_for_unlock_timeout_reports_real_wait`],
//!   [`lock_holder_tells_held_from_free`].
//! - Lock across threads (`lock_across_threads.rs`):
//!   [`lock_excludes_other_threads`], [`acquire_lock_wakes_promptly`],
//!   [`wait_for_unlock_wakes_promptly`].
//! - Queue entries (`queue_entries.rs`):
//!   [`queue_write_then_get_returns_it`], [`remove_from_queue_removes_entry`],
//!   [`count_pending_empty_is_zero`], [`count_pending_counts_writes`],
//!   [`get_next_pending_empty_is_none`], [`every_operation_is_queued`],
//!   [`remove_missing_id_is_error`], [`remove_missing_id_is_not_found`],
//!   [`remove_twice_is_not_found`], [`get_next_pending_does_not_remove`],
//!   [`pending_write_survives_exactly`], [`queue_ids_are_distinct_and_valid`].
//! - Queue order (`queue_order.rs`):
//!   [`fifo_two_writes_apart`], [`rows_keep_their_order`],
//!   [`tables_have_separate_queues`], [`drain_follows_timestamp_order`],
//!   [`remove_non_head_keeps_order`], [`fifo_without_sleeps`],
//!   [`tables_are_independent`].
//! - Queue races (`queue_races.rs`):
//!   [`reader_racing_writer_sees_whole_entries`],
//!   [`reader_draining_while_writer_queues_sees_whole_entries`].
//! - Capacity (`capacity.rs`):
//!   [`capacity_holds_under_concurrent_producers`],
//!   [`capacity_holds_when_producers_race_for_last_places`],
//!   [`queue_write_beyond_capacity_is_queue_full`],
//!   [`queue_full_names_table_and_size`].
//! - Input validation (`validation.rs`):
//!   [`bad_table_names_are_rejected`], [`bad_queue_ids_are_rejected`],
//!   [`invalid_rows_are_rejected`], [`table_name_is_checked_first`],
//!   [`unusual_valid_names_work`].
//! - Queue methods behind batches, dead letters and start-up (`queue_batch.rs`):
//!   [`get_pending_batch_returns_the_oldest_without_removing`],
//!   [`remove_batch_from_queue_stops_at_the_first_failure`],
//!   [`is_pending_follows_the_entry`],
//!   [`move_aside_takes_an_entry_out_of_the_queue`],
//!   [`record_failed_apply_counts_per_entry`],
//!   [`tables_with_pending_lists_tables_with_entries`].
//! - The coordinator, per write (`coordinator.rs`):
//!   [`coordinator_applies_when_free`], [`coordinator_queues_on_lock_timeout`],
//!   [`coordinator_hands_back_write_when_queue_full`],
//!   [`coordinator_queued_write_not_overtaken`],
//!   [`coordinator_apply_failure_keeps_entry`],
//!   [`coordinator_submit_stops_at_failed_queued_write`],
//!   [`coordinator_direct_apply_failure_hands_write_back`],
//!   [`coordinator_rejects_invalid_input`],
//!   [`coordinator_drain_waits_for_lock`].
//! - The coordinator across threads (`coordinator_threads.rs`):
//!   [`coordinator_threads_apply_each_write_once_in_order`].
//! - The coordinator in batches (`batch.rs`):
//!   [`batch_submit_applies_queued_writes_then_its_own`],
//!   [`batch_holds_at_most_max_batch`],
//!   [`failed_batch_removes_nothing_and_hands_write_back`],
//!   [`batch_and_per_write_paths_agree`],
//!   [`submit_applies_at_most_capacity_queued_writes_first`].
//! - Group commit through the queue (`grouped.rs`):
//!   [`grouped_submit_applies_the_queue_and_its_own_write`],
//!   [`grouped_submit_returns_once_another_holder_applied_it`],
//!   [`grouped_submit_is_queued_at_its_timeout`],
//!   [`grouped_submit_reports_a_write_moved_aside`],
//!   [`grouped_submit_hands_back_what_it_could_not_queue`],
//!   [`grouped_submit_failure_after_queueing_names_the_entry`],
//!   [`grouped_threads_apply_each_write_once_in_order`].
//! - Dead letters (`dead_letters.rs`):
//!   [`dead_letters_block_the_table_by_default`],
//!   [`dead_letters_move_aside_after_n_failures`],
//!   [`dead_letters_in_batches_are_tried_alone_first`].
//! - Queue entries prepared while a lock is busy (`prepared_entries.rs`):
//!   [`queue_write_unless_asks_at_most_once_and_obeys`],
//!   [`queue_write_unless_refuses_a_full_queue`],
//!   [`coordinator_prepared_entries_leave_nothing_behind`].
//! - A lost lock, through [`LosingLocks`] (`lost_lock.rs`):
//!   [`lost_lock_stops_a_drain_before_the_next_write`],
//!   [`lost_lock_stops_a_submit_and_hands_the_write_back`].
//! - What a service needs (`service.rs`):
//!   [`wait_applied_returns_once_applied`],
//!   [`wait_applied_reports_a_write_moved_aside`],
//!   [`wait_applied_times_out_while_pending`],
//!   [`drain_all_drains_every_table_and_reports_the_blocked`],
//!   [`drainer_drains_in_the_background`].
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod apply_journal;
mod bad_inputs;
mod batch;
mod capacity;
mod coordinator;
mod coordinator_threads;
mod dead_letters;
mod drain_reports;
mod grouped;
mod lock;
mod lock_across_threads;
mod losing_locks;
mod lost_lock;
pub mod model;
mod prepared_entries;
mod queue_batch;
mod queue_entries;
mod queue_order;
mod queue_races;
mod samples;
mod service;
mod validation;

use std::panic::{AssertUnwindSafe, catch_unwind};

pub use bad_inputs::{BadName, UNKNOWN_IDS, bad_queue_ids, bad_table_names};
pub use batch::*;
pub use capacity::*;
pub use coordinator::*;
pub use coordinator_threads::*;
pub use dead_letters::*;
pub use drain_reports::*;
pub use grouped::*;
pub use lock::*;
pub use lock_across_threads::*;
pub use losing_locks::{LosingGuard, LosingLocks, keys_applied_by_submit};
pub use lost_lock::*;
pub use prepared_entries::*;
pub use queue_batch::*;
pub use queue_entries::*;
pub use queue_order::*;
pub use queue_races::*;
pub use service::*;
pub use validation::*;

/// The smallest queue capacity the suite can check: some cases need five
/// entries in one queue.
pub const MIN_CAPACITY: usize = 5;

/// The bounds a backend needs to be run through the suite: shared between
/// threads, and cloned (a clone shares the state: the same locks and
/// queues) for a [`Drainer`](reedbase_concurrent_core::Drainer) on a thread of its own.
pub trait Backend: reedbase_concurrent_core::Backend + Clone + Send + Sync + 'static {}

impl<T: reedbase_concurrent_core::Backend + Clone + Send + Sync + 'static> Backend for T {}

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

/// Every case of the suite, in a stable order: the old module's own lock
/// and queue tests first, then the rest (the [module docs](self) list them
/// by subject).
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
        case!(try_acquire_lock_for_returns_none_on_timeout),
        case!(zero_timeout_tries_once),
        case!(acquire_lock_timeout_reports_real_wait),
        case!(wait_for_unlock_timeout_reports_real_wait),
        case!(lock_holder_tells_held_from_free),
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
        case!(queue_write_unless_asks_at_most_once_and_obeys),
        case!(queue_write_unless_refuses_a_full_queue),
        case!(coordinator_prepared_entries_leave_nothing_behind),
        case!(coordinator_drain_waits_for_lock),
        case!(coordinator_threads_apply_each_write_once_in_order),
        // The queue methods behind batches, dead letters and start-up.
        case!(get_pending_batch_returns_the_oldest_without_removing),
        case!(remove_batch_from_queue_stops_at_the_first_failure),
        case!(is_pending_follows_the_entry),
        case!(move_aside_takes_an_entry_out_of_the_queue),
        case!(record_failed_apply_counts_per_entry),
        case!(tables_with_pending_lists_tables_with_entries),
        // The coordinator in batches.
        case!(batch_submit_applies_queued_writes_then_its_own),
        case!(batch_holds_at_most_max_batch),
        case!(failed_batch_removes_nothing_and_hands_write_back),
        case!(batch_and_per_write_paths_agree),
        case!(submit_applies_at_most_capacity_queued_writes_first),
        // Group commit through the queue.
        case!(grouped_submit_applies_the_queue_and_its_own_write),
        case!(grouped_submit_returns_once_another_holder_applied_it),
        case!(grouped_submit_is_queued_at_its_timeout),
        case!(grouped_submit_reports_a_write_moved_aside),
        case!(grouped_submit_hands_back_what_it_could_not_queue),
        case!(grouped_submit_failure_after_queueing_names_the_entry),
        case!(grouped_threads_apply_each_write_once_in_order),
        // Dead letters.
        case!(dead_letters_block_the_table_by_default),
        case!(dead_letters_move_aside_after_n_failures),
        case!(dead_letters_in_batches_are_tried_alone_first),
        // A lost lock.
        case!(lost_lock_stops_a_drain_before_the_next_write),
        case!(lost_lock_stops_a_submit_and_hands_the_write_back),
        // What a service needs.
        case!(wait_applied_returns_once_applied),
        case!(wait_applied_reports_a_write_moved_aside),
        case!(wait_applied_times_out_while_pending),
        case!(drain_all_drains_every_table_and_reports_the_blocked),
        case!(drainer_drains_in_the_background),
        case!(drain_counts_writes_applied_before_a_failing_entry),
        case!(a_busy_table_is_not_a_failure),
        case!(a_full_queue_waits_for_room_when_asked),
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
