// SPDX-License-Identifier: Apache-2.0
//! One apply step: the checks made before any file is touched
//! ([`check_write`]), and what the step writes once the journal is read
//! ([`Step::plan`]): the rows of the writes not applied before, their queue
//! ids, and the fencing token.

use std::collections::HashSet;
use std::path::Path;

use reedbase_concurrent_core::{
    BatchItem, PendingWrite, WriteOperation, validate_queue_id, validate_write,
};

use crate::error::TableError;
use crate::journal::{Journal, Record};

/// Checks that a write can be applied: an `Insert` with valid rows, and (for
/// a queued write) a queue id that the journal can record.
///
/// # Errors
///
/// [`TableError::InvalidWrite`] or [`TableError::Unsupported`].
pub(crate) fn check_write(
    table: &str,
    table_path: &Path,
    queue_id: Option<&str>,
    write: &PendingWrite,
) -> Result<(), TableError> {
    let invalid = |source| TableError::InvalidWrite {
        table: table.to_string(),
        queue_id: queue_id.map(str::to_string),
        source: Box::new(source),
    };
    if let Some(id) = queue_id {
        validate_queue_id(id).map_err(invalid)?;
    }
    if write.operation != WriteOperation::Insert {
        return Err(TableError::Unsupported {
            table: table.to_string(),
            path: table_path.to_path_buf(),
            operation: write.operation,
            queue_id: queue_id.map(str::to_string),
        });
    }
    validate_write(write).map_err(invalid)
}

/// What one step appends and records.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Step {
    /// The new rows, one line each.
    pub(crate) rows: String,
    pub(crate) row_count: u64,
    /// The queue ids of the writes applied now.
    pub(crate) new_ids: Vec<String>,
    /// Queued writes skipped: already recorded, or twice in the batch.
    pub(crate) skipped: u64,
    /// The token to record: the highest of the step's and the journal's.
    pub(crate) token: Option<u64>,
    /// Whether the step's token is higher than any recorded.
    raises_token: bool,
}

impl Step {
    /// Plans the step of `items` against the journal as read under the
    /// lock.
    ///
    /// # Errors
    ///
    /// [`TableError::Fenced`] when an item's fencing token is lower than the
    /// highest recorded (`journal_path` is named in it).
    pub(crate) fn plan(
        table: &str,
        journal_path: &Path,
        items: &[BatchItem<'_>],
        journal: &Journal,
    ) -> Result<Step, TableError> {
        let highest = journal.highest_token();
        let tokens = || items.iter().filter_map(|item| item.key.fencing_token());
        if let (Some(lowest), Some(highest)) = (tokens().min(), highest)
            && lowest < highest
        {
            return Err(TableError::Fenced {
                table: table.to_string(),
                path: journal_path.to_path_buf(),
                token: lowest,
                highest,
            });
        }
        let mut step = Step {
            rows: String::new(),
            row_count: 0,
            new_ids: Vec::new(),
            skipped: 0,
            token: tokens().max().max(highest),
            raises_token: tokens().max() > highest,
        };
        let mut in_batch: HashSet<&str> = HashSet::new();
        for item in items {
            if let Some(id) = item.key.queue_id() {
                if journal.remembers(id) || !in_batch.insert(id) {
                    step.skipped += 1;
                    continue;
                }
                step.new_ids.push(id.to_string());
            }
            for row in &item.write.rows {
                step.rows.push_str(&row.to_csv());
                step.rows.push('\n');
                step.row_count += 1;
            }
        }
        Ok(step)
    }

    /// True when the step has nothing to make durable: no row, no new id,
    /// no higher token.
    pub(crate) fn writes_nothing(&self) -> bool {
        self.rows.is_empty() && self.new_ids.is_empty() && !self.raises_token
    }

    /// The journal record of the step, its rows starting at `start`.
    pub(crate) fn record(&self, start: u64) -> Record {
        Record {
            start,
            end: start + self.rows.len() as u64,
            token: self.token,
            ids: self.new_ids.clone(),
        }
    }
}

#[cfg(test)]
#[path = "step_test.rs"]
mod tests;
