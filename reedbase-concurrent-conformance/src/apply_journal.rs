// SPDX-License-Identifier: Apache-2.0
//! What the coordinator cases' `apply` functions saw: a [`Journal`] of
//! calls, and writes that those functions refuse ([`poisoned_write`]).

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use reedbase_concurrent_core::{
    ApplyError, ApplyKey, BatchItem, SubmitOutcome, WriteCoordinator, WriteError,
};
use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};

use crate::Backend;
use crate::samples::LONG;

/// Short enough that a held lock makes `submit` queue at once.
pub(crate) const SHORT: Duration = Duration::from_millis(1);

/// One write as `apply` saw it: its queue id (`None` for the caller's own
/// write) and the write.
pub(crate) type Seen = (Option<String>, PendingWrite);

/// The error of an `apply` that refuses a write.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Refused;

/// What [`Refused`] says, which a dead letter's reason must carry.
pub(crate) const REFUSED: &str = "apply refused the write";

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REFUSED)
    }
}

impl std::error::Error for Refused {}

/// A one-row write that the journal's `apply` functions refuse.
pub(crate) fn poisoned_write(tag: &str) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(format!("poison-{tag}"), [tag])],
    )
}

fn is_poisoned(write: &PendingWrite) -> bool {
    write.rows.iter().any(|row| row.key.starts_with("poison-"))
}

/// Every `apply` call of a case, in order, each with the writes it was
/// given; a call holding a [`poisoned_write`] is recorded and refused.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    calls: Mutex<Vec<Vec<Seen>>>,
}

impl Journal {
    fn record(&self, call: Vec<Seen>) -> Result<(), ApplyError> {
        let refuse = call.iter().any(|(_, write)| is_poisoned(write));
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(call);
        if refuse { Err(Refused.into()) } else { Ok(()) }
    }

    /// A per-write `apply` that records into the journal.
    pub(crate) fn each(
        &self,
    ) -> impl FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError> + '_ {
        |key, write| self.record(vec![(key.queue_id().map(str::to_string), write.clone())])
    }

    /// A batch `apply` that records into the journal.
    pub(crate) fn batch(&self) -> impl FnMut(&[BatchItem<'_>]) -> Result<(), ApplyError> + '_ {
        |batch| {
            let call = batch
                .iter()
                .map(|item| (item.key.queue_id().map(str::to_string), item.write.clone()))
                .collect();
            self.record(call)
        }
    }

    /// The calls so far, each with its writes.
    pub(crate) fn calls(&self) -> Vec<Vec<Seen>> {
        self.calls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Every write applied so far, call after call.
    pub(crate) fn writes(&self) -> Vec<Seen> {
        self.calls().into_iter().flatten().collect()
    }
}

/// An `apply` that must not be called.
pub(crate) fn never_apply(key: ApplyKey<'_>, write: &PendingWrite) -> Result<(), ApplyError> {
    panic!("apply was called ({key:?}, {write:?}) where nothing should have been applied")
}

/// Unwraps a submit result, naming what was being done.
#[track_caller]
pub(crate) fn submitted(result: Result<SubmitOutcome, WriteError>, what: &str) -> SubmitOutcome {
    result.unwrap_or_else(|error| panic!("{what}: expected Ok, got {error:?}"))
}

/// The error of a call that must hand `write` back: panics if it succeeded
/// or the write came back changed or from another table.
#[track_caller]
pub(crate) fn handed_back<T: fmt::Debug>(
    result: Result<T, WriteError>,
    table: &str,
    write: &PendingWrite,
    what: &str,
) -> WriteError {
    let error = result.expect_err(what);
    assert_eq!(
        error.handed_back(),
        Some(write),
        "{what}: the write comes back unchanged"
    );
    assert_eq!(error.table(), table, "{what}: the error names the table");
    error
}

/// Holds `table`'s lock and submits `write` with a 1 ms timeout, so that it
/// is queued; returns its queue id.
#[track_caller]
pub(crate) fn queue_through<B: Backend>(
    coordinator: &WriteCoordinator<&B>,
    table: &str,
    write: &PendingWrite,
) -> String {
    let _held = coordinator
        .backend()
        .acquire_lock(table, LONG)
        .expect("acquire_lock");
    let result = coordinator.submit(table, write.clone(), SHORT, never_apply);
    match submitted(result, "submit while the lock is held") {
        SubmitOutcome::Queued(id) => id,
        other => panic!("submit while the lock is held: expected Queued, got {other:?}"),
    }
}
