// SPDX-License-Identifier: Apache-2.0
//! The conformance suite: plain functions, each taking a backend, that check
//! the contracts of [`LockBackend`] and [`QueueBackend`] (and the
//! [`WriteCoordinator`](crate::WriteCoordinator) flow over them).
//!
//! A backend crate's tests call [`run_all`] with a factory that makes a
//! fresh, empty backend; every case gets its own. A backend is done when it
//! passes the suite unchanged. Each case is also a public function, so a
//! test can run one alone, and [`cases`] lists them by name.
//!
//! A case fails by panicking with a message that says what was expected.
//!
//! ```
//! use reedbase_concurrent_core::conformance;
//! use reedbase_concurrent_mem::MemBackend;
//!
//! conformance::run_all(MemBackend::new);
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::backend::{LockBackend, QueueBackend};

/// The bounds a backend needs to be run through the suite.
pub trait Backend: LockBackend + QueueBackend + Sync {}

impl<T: LockBackend + QueueBackend + Sync> Backend for T {}

/// One named case of the suite.
pub struct Case<B> {
    /// The case's name, which is also its function's name.
    pub name: &'static str,
    /// The check; panics on failure.
    pub run: fn(&B),
}

/// Every case of the suite, in a stable order.
pub fn cases<B: Backend>() -> Vec<Case<B>> {
    vec![
        // Filled in by the suite's modules.
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
pub fn run_case<B: Backend>(case: &Case<B>, make: impl Fn() -> B) -> Result<(), String> {
    let backend = make();
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
