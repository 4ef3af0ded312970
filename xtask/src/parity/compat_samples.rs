// SPDX-License-Identifier: Apache-2.0
//! What the compatibility checks share: the table they use, the sample
//! writes as core and the old module type them, and error wording.

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use reedbase_last::concurrent as last;

/// The table every check uses.
pub const TABLE: &str = "users";

/// The n-th sample write, as core and as the old module type it.
pub fn sample(n: u64) -> (PendingWrite, last::PendingWrite) {
    let key = format!("user:{n}");
    let name = format!("Name {n}");
    let core = PendingWrite {
        rows: vec![CsvRow::new(
            key.as_str(),
            vec![name.as_str(), "x@example.com"],
        )],
        timestamp: 1_700_000_000_000_000_000 + u128::from(n),
        operation: WriteOperation::Insert,
    };
    let old = last::PendingWrite {
        rows: vec![last::CsvRow::new(
            key.as_str(),
            vec![name.as_str(), "x@example.com"],
        )],
        timestamp: 1_700_000_000_000_000_000 + n,
        operation: last::WriteOperation::Insert,
    };
    (core, old)
}

/// Names `what` failed in an error message.
pub fn err<E: std::fmt::Display>(what: &str) -> impl FnOnce(E) -> String + '_ {
    move |e| format!("{what}: {e}")
}
