// SPDX-License-Identifier: Apache-2.0
//! Behavioural reference of ReedBase's old concurrent module, flaws
//! included, for parity tests and benchmarks. Not for production.
//!
//! - [`concurrent`]: the old free functions and types, reproduced as they
//!   behaved (100 ms polling, creation-time ordering, count-then-write,
//!   `fs::write` without fsync, no name validation, whole-second timeouts).
//! - [`error`]: the old module's own error type.
//! - [`LastBackend`]: core's backend traits over those functions, converting
//!   types without fixing behaviour.
//! - [`EXPECTED_FAILURES`] and [`INTERMITTENT_FAILURES`]: the conformance
//!   cases the old behaviour fails (always, or only in some runs), each
//!   with its reason.

mod adaptor;
pub mod concurrent;
pub mod error;
mod expected_failures;

pub use adaptor::{LastBackend, LastGuard};
pub use expected_failures::{EXPECTED_FAILURES, INTERMITTENT_FAILURES};
