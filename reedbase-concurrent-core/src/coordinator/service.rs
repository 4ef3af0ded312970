// SPDX-License-Identifier: Apache-2.0
//! What a service calls besides `submit`: draining every table with pending
//! writes at start-up ([`WriteCoordinator::drain_all`]), and waiting until a
//! queued write is applied ([`WriteCoordinator::wait_applied`]). The
//! background [`Drainer`](super::Drainer) runs `drain_all` in rounds.

use std::time::{Duration, Instant};

use super::flow::{self, EachWriteOf, WholeBatchOf};
use super::{ApplyError, ApplyKey, BatchItem, WriteCoordinator, WriteError};
use crate::backend::Backend;
use crate::error::{ReedError, ReedResult};
use crate::types::PendingWrite;
use crate::validation::{validate_queue_id, validate_table_name};

/// What [`WriteCoordinator::drain_all`] did: how many writes it applied, in
/// how many tables, the tables another lock holder was busy with, and the
/// tables it could not drain.
#[derive(Debug, Default)]
pub struct DrainReport {
    /// Queued writes applied and removed, in every table, including those
    /// applied in a table whose drain then stopped at a failing entry.
    pub drained: usize,
    /// Tables that had pending writes when the drain began.
    pub tables: usize,
    /// Tables whose lock another holder kept past the timeout. Not a
    /// failure: that holder applies the table's queued writes before its
    /// own, and the next round tries again.
    pub busy: Vec<String>,
    /// One error per table whose drain failed (a blocking entry, a lost
    /// lock, I/O); [`WriteError::drained`] says how many of its writes were
    /// applied before it stopped (they are counted in `drained` too).
    pub failed: Vec<WriteError>,
}

impl<B: Backend> WriteCoordinator<B> {
    /// Drains every table that has pending writes
    /// ([`QueueBackend::tables_with_pending`](crate::QueueBackend::tables_with_pending)), one `apply` call per write
    /// with the table's name: the start-up drain of a service.
    ///
    /// A table whose lock is busy past `timeout` is reported in
    /// [`DrainReport::busy`], one whose drain fails in
    /// [`DrainReport::failed`], and the others are still drained.
    ///
    /// # Errors
    ///
    /// A backend error when the tables cannot be listed.
    pub fn drain_all<F>(&self, timeout: Duration, apply: F) -> ReedResult<DrainReport>
    where
        F: FnMut(&str, ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError>,
    {
        self.drain_all_through(timeout, &mut EachWriteOf(apply))
    }

    /// As [`drain_all`](Self::drain_all), one `apply` call per batch.
    ///
    /// # Errors
    ///
    /// As [`drain_all`](Self::drain_all).
    pub fn drain_all_batch<F>(&self, timeout: Duration, apply: F) -> ReedResult<DrainReport>
    where
        F: FnMut(&str, &[BatchItem<'_>]) -> Result<(), ApplyError>,
    {
        self.drain_all_through(timeout, &mut WholeBatchOf(apply))
    }

    /// Waits until the queued write `queue_id` of `table_name` has been
    /// applied (it is no longer pending), at most `timeout`.
    ///
    /// Something must drain the table meanwhile: another writer's `submit`,
    /// a [`Drainer`](super::Drainer), or this process's own `drain`.
    ///
    /// # Errors
    ///
    /// - [`ReedError::WaitTimeout`] when it is still pending after `timeout`;
    /// - [`ReedError::CorruptEntry`] when it was moved aside instead of
    ///   applied;
    /// - invalid table name or queue id, backend errors.
    pub fn wait_applied(
        &self,
        table_name: &str,
        queue_id: &str,
        timeout: Duration,
    ) -> ReedResult<()> {
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        let start = Instant::now();
        let mut pause = Duration::from_millis(1);
        loop {
            if !self.backend.is_pending(table_name, queue_id)? {
                let moved = self.backend.moved_aside(table_name)?;
                return match moved.iter().find(|moved| moved.id == queue_id) {
                    Some(moved) => Err(ReedError::moved_aside(table_name, moved)),
                    None => Ok(()),
                };
            }
            let waited = start.elapsed();
            let Some(left) = timeout.checked_sub(waited).filter(|left| !left.is_zero()) else {
                return Err(ReedError::WaitTimeout {
                    table: table_name.to_string(),
                    queue_id: queue_id.to_string(),
                    waited,
                });
            };
            std::thread::sleep(pause.min(left));
            pause = (pause * 2).min(Duration::from_millis(50));
        }
    }

    pub(super) fn drain_all_through<S: flow::Sink>(
        &self,
        timeout: Duration,
        sink: &mut S,
    ) -> ReedResult<DrainReport> {
        let tables = self.backend.tables_with_pending()?;
        let mut report = DrainReport {
            tables: tables.len(),
            ..DrainReport::default()
        };
        for table in &tables {
            match self.drain_through(table, timeout, sink) {
                Ok(drained) => report.drained += drained,
                Err(error) if error.is_lock_timeout() => report.busy.push(table.clone()),
                Err(error) => {
                    report.drained += error.drained();
                    report.failed.push(error);
                }
            }
        }
        Ok(report)
    }
}
