// SPDX-License-Identifier: Apache-2.0
//! The conformance cases that the old behaviour fails, in one place.

/// The conformance cases [`LastBackend`](crate::LastBackend) fails, as
/// `(case name, reason)`, each observed failing against the old behaviour.
///
/// `tests/conformance.rs` runs the suite minus these, and checks that each
/// of these really fails, so the list cannot go stale.
pub const EXPECTED_FAILURES: &[(&str, &str)] = &[];
