// SPDX-License-Identifier: Apache-2.0
//! How the caller's `apply` takes writes ([`Sink`]): one `apply` call per
//! write or per batch, with or without the table's name, and why a sink
//! stopped before the end of its items ([`SinkStop`]).

use super::error::ApplyError;
use super::{ApplyKey, BatchItem};
use crate::error::{ReedError, ReedResult};
use crate::types::PendingWrite;

/// Why a [`Sink`] stopped before the end of its items.
pub(super) enum SinkStop {
    /// `apply` failed for `items[index]`; the items before it were applied.
    Apply { index: usize, source: ApplyError },
    /// The lock was lost before `items[index]`; the items before it were
    /// applied.
    Lost { index: usize, error: ReedError },
}

impl SinkStop {
    /// How many items were applied before the stop.
    pub(super) fn applied(&self) -> usize {
        match self {
            SinkStop::Apply { index, .. } | SinkStop::Lost { index, .. } => *index,
        }
    }
}

/// How the caller's `apply` takes writes: one at a time or a batch at once.
pub(super) trait Sink {
    /// Applies `items` of `table`; `held` checks the lock before every item
    /// after the first (the caller checked before the first).
    fn apply(
        &mut self,
        table: &str,
        items: &[BatchItem<'_>],
        held: &mut dyn FnMut() -> ReedResult<()>,
    ) -> Result<(), SinkStop>;

    /// True when `apply` sees the whole batch at once, so that a failure
    /// cannot be pinned on one item.
    fn whole_batches(&self) -> bool;
}

fn each_write(
    items: &[BatchItem<'_>],
    held: &mut dyn FnMut() -> ReedResult<()>,
    mut apply_one: impl FnMut(&BatchItem<'_>) -> Result<(), ApplyError>,
) -> Result<(), SinkStop> {
    for (index, item) in items.iter().enumerate() {
        if index > 0 {
            held().map_err(|error| SinkStop::Lost { index, error })?;
        }
        apply_one(item).map_err(|source| SinkStop::Apply { index, source })?;
    }
    Ok(())
}

/// One `apply(key, write)` call per write.
pub(super) struct EachWrite<F>(pub(super) F);

impl<F> Sink for EachWrite<F>
where
    F: FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError>,
{
    fn apply(
        &mut self,
        _table: &str,
        items: &[BatchItem<'_>],
        held: &mut dyn FnMut() -> ReedResult<()>,
    ) -> Result<(), SinkStop> {
        each_write(items, held, |item| (self.0)(item.key, item.write))
    }

    fn whole_batches(&self) -> bool {
        false
    }
}

/// One `apply(table, key, write)` call per write, for calls over many tables.
pub(super) struct EachWriteOf<F>(pub(super) F);

impl<F> Sink for EachWriteOf<F>
where
    F: FnMut(&str, ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError>,
{
    fn apply(
        &mut self,
        table: &str,
        items: &[BatchItem<'_>],
        held: &mut dyn FnMut() -> ReedResult<()>,
    ) -> Result<(), SinkStop> {
        each_write(items, held, |item| (self.0)(table, item.key, item.write))
    }

    fn whole_batches(&self) -> bool {
        false
    }
}

/// One `apply(batch)` call per batch.
pub(super) struct WholeBatch<F>(pub(super) F);

impl<F> Sink for WholeBatch<F>
where
    F: FnMut(&[BatchItem<'_>]) -> Result<(), ApplyError>,
{
    fn apply(
        &mut self,
        _table: &str,
        items: &[BatchItem<'_>],
        _held: &mut dyn FnMut() -> ReedResult<()>,
    ) -> Result<(), SinkStop> {
        (self.0)(items).map_err(|source| SinkStop::Apply { index: 0, source })
    }

    fn whole_batches(&self) -> bool {
        true
    }
}

/// One `apply(table, batch)` call per batch, for calls over many tables.
pub(super) struct WholeBatchOf<F>(pub(super) F);

impl<F> Sink for WholeBatchOf<F>
where
    F: FnMut(&str, &[BatchItem<'_>]) -> Result<(), ApplyError>,
{
    fn apply(
        &mut self,
        table: &str,
        items: &[BatchItem<'_>],
        _held: &mut dyn FnMut() -> ReedResult<()>,
    ) -> Result<(), SinkStop> {
        (self.0)(table, items).map_err(|source| SinkStop::Apply { index: 0, source })
    }

    fn whole_batches(&self) -> bool {
        true
    }
}
