// SPDX-License-Identifier: Apache-2.0
//! The interface every measured implementation has ([`Subject`]), the write
//! they are given ([`Payload`]), and the bench's queue capacity and lock
//! timeout.

use std::time::Duration;

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation, now_nanos};
use reedbase_last::concurrent as last;

/// Capacity of the queues in the benches, far above what any measurement
/// fills (the deep rows go to 100,000).
pub const CAPACITY: usize = 200_000;

/// The lock timeout of the uncontended operations; never reached.
pub const TIMEOUT: Duration = Duration::from_secs(1);

/// The same write in the new and in the old type.
#[derive(Debug, Clone)]
pub struct Payload {
    /// For the new backends and SQLite.
    pub core: PendingWrite,
    /// For the old module.
    pub last: last::PendingWrite,
}

impl Payload {
    /// A write of `rows` rows of about 125 bytes of JSON each (a 1-row
    /// write is 185 B, a 100-row write 12.4 KB: close to the old module's
    /// measured 182 B and 13.8 KB).
    pub fn rows(rows: usize) -> Payload {
        let fields = |index: usize| {
            (
                format!("user:{index:06}"),
                vec![
                    format!("Alice Example {index}"),
                    format!("alice.example.{index}@example.com"),
                    "London".to_string(),
                    "2024-05-01T12:00:00Z".to_string(),
                    "active".to_string(),
                ],
            )
        };
        let core = PendingWrite::new(
            WriteOperation::Insert,
            (0..rows)
                .map(|i| {
                    let (key, values) = fields(i);
                    CsvRow::new(key, values)
                })
                .collect(),
        );
        let last = last::PendingWrite {
            rows: (0..rows)
                .map(|i| {
                    let (key, values) = fields(i);
                    last::CsvRow::new(key, values)
                })
                .collect(),
            timestamp: u64::try_from(now_nanos()).unwrap_or(u64::MAX),
            operation: last::WriteOperation::Insert,
        };
        Payload { core, last }
    }

    /// Its size as JSON, for the tables' notes.
    pub fn json_size(&self) -> usize {
        serde_json::to_vec(&self.core).map_or(0, |bytes| bytes.len())
    }
}

/// One implementation under test. Methods it does not have return `None`.
pub trait Subject {
    /// Takes a free table's lock and releases it.
    fn acquire_release(&self, table: &str) -> Result<(), String>;
    /// One non-blocking attempt on a free lock, and release.
    fn try_acquire_release(&self, table: &str) -> Option<Result<(), String>>;
    /// Whether the table is locked.
    fn is_locked(&self, table: &str) -> Option<Result<bool, String>>;
    /// Whether a holder is recorded (the diagnostics call).
    fn has_holder(&self, table: &str) -> Option<Result<bool, String>>;
    /// Queues `payload`, timing only the call; the time and the id.
    fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String>;
    /// The id of the oldest entry (`get_next_pending`).
    fn next_id(&self, table: &str) -> Result<Option<String>, String>;
    /// Removes entry `id`.
    fn remove(&self, table: &str, id: &str) -> Result<(), String>;
    /// The number of entries.
    fn count(&self, table: &str) -> Result<usize, String>;

    /// Waits for a free lock (`wait_for_unlock`), which returns at once.
    fn wait_free(&self, _table: &str) -> Option<Result<(), String>> {
        None
    }

    /// Queues `count` copies of `payload`, untimed.
    fn fill(&self, table: &str, payload: &Payload, count: usize) -> Result<(), String> {
        (0..count).try_for_each(|_| self.queue_write_timed(table, payload).map(drop))
    }

    /// One pop: the oldest id, then its removal; `false` when empty.
    fn pop(&self, table: &str) -> Result<bool, String> {
        match self.next_id(table)? {
            Some(id) => self.remove(table, &id).map(|()| true),
            None => Ok(false),
        }
    }
}
