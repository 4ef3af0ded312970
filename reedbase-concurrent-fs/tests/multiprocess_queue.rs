// SPDX-License-Identifier: Apache-2.0
//! The queue across real processes. This binary re-runs itself as child
//! processes (role in `REEDBASE_TEST_CHILD`, see `support`), so it has its
//! own `main` instead of libtest's, and prints libtest's lines; the
//! scenarios live in `multiprocess_queue/`, one file a subject.
//!
//! - 4 producers x 50 writes into a capacity-100 queue: exactly 100 accepted;
//! - a producer whose queue another process drained accepts exactly the
//!   capacity again;
//! - per-producer order and global enqueue order survive the drain;
//! - producers killed with SIGKILL mid-enqueue leave no partial entry, lose
//!   no acknowledged entry, and their temporaries are swept;
//! - entries cross between this crate and the old module both ways;
//! - an old-module producer (writing in place) racing a consumer here never
//!   gets an entry moved aside or delivered twice;
//! - a consumer that keeps its listing (`FsBackend`) delivers old-module
//!   entries written by another process first, shares the queue with a
//!   consumer process (each in order, together every entry once), and
//!   drains in enqueue order while four producer processes write;
//! - a temporary whose producer process is alive (its `flock` held) is never
//!   swept by another process's producer, and is swept once that process
//!   is killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod queue_producers;
use reedbase_concurrent_test_support as support;

/// The scenarios, by subject.
mod multiprocess_queue {
    pub(crate) mod kept_listing;
    pub(crate) mod killed_producers;
    pub(crate) mod old_module;
    pub(crate) mod producers;
}

use std::collections::HashMap;
use std::process::ExitCode;

use multiprocess_queue::{kept_listing, killed_producers, old_module, producers};
use queue_producers::run_child;
use support::{Runner, child_role};

type Outcome = Result<(), String>;

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        if role == "hold_temporary" {
            return killed_producers::hold_temporary();
        }
        return run_child(&role);
    }
    let mut runner = Runner::from_args();
    runner.run(
        "capacity_is_exact_across_four_processes",
        producers::capacity_is_exact,
    );
    runner.run(
        "capacity_is_exact_again_after_another_process_drained",
        producers::capacity_after_another_process_drained,
    );
    runner.run(
        "producer_and_global_enqueue_order_survive_the_drain",
        producers::order_survives,
    );
    runner.run(
        "sigkilled_producers_leave_no_partial_or_lost_entry",
        killed_producers::sigkilled_producers,
    );
    runner.run(
        "entries_cross_between_old_module_and_this_crate",
        old_module::cross_compat,
    );
    runner.run(
        "old_module_producer_racing_a_consumer_here",
        old_module::old_producer_racing_consumer,
    );
    runner.run(
        "a_kept_listing_meets_old_module_entries_written_by_another_process",
        kept_listing::kept_listing_meets_old_entries,
    );
    runner.run(
        "a_kept_listing_beside_a_consumer_process",
        kept_listing::kept_listing_beside_a_consumer,
    );
    runner.run(
        "a_kept_listing_while_producer_processes_write",
        kept_listing::kept_listing_while_producers_write,
    );
    runner.run(
        "a_live_producers_temporary_is_left_to_it_and_swept_once_it_dies",
        killed_producers::live_temporary_across_processes,
    );
    runner.finish()
}

/// Where each drained id came out: its index in the drain order.
fn drain_positions<T>(drained: &[(String, T)]) -> HashMap<&str, usize> {
    drained
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect()
}
