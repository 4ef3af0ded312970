// SPDX-License-Identifier: Apache-2.0
//! The inspection side of [`MemBackend`]: [`InspectBackend`]. Reading
//! creates nothing; every table that was ever used is listed. Entries carry
//! no time or size (the backend keeps neither), and a moved-aside entry
//! keeps no body, so there is no restore.

use reedbase_concurrent_core::{
    InspectBackend, LockHolder, QueuedEntry, ReedError, ReedResult, validate_queue_id,
    validate_table_name,
};

use crate::backend::MemBackend;
use crate::slot::{TableSlot, lock_ignoring_poison};
use crate::sync::Arc;

impl MemBackend {
    /// The slot of a table that exists, without creating one.
    fn existing_slot(&self, table_name: &str) -> ReedResult<Option<Arc<TableSlot>>> {
        validate_table_name(table_name)?;
        Ok(lock_ignoring_poison(&self.shared.tables)
            .get(table_name)
            .map(Arc::clone))
    }
}

impl InspectBackend for MemBackend {
    fn location(&self) -> String {
        format!("the memory of process {}", self.shared.owner)
    }

    fn tables(&self) -> ReedResult<Vec<String>> {
        let mut tables: Vec<String> = lock_ignoring_poison(&self.shared.tables)
            .keys()
            .cloned()
            .collect();
        tables.sort();
        Ok(tables)
    }

    fn queued_entries(&self, table_name: &str) -> ReedResult<Vec<QueuedEntry>> {
        let Some(slot) = self.existing_slot(table_name)? else {
            return Ok(Vec::new());
        };
        let state = lock_ignoring_poison(&slot.state);
        Ok(state
            .queue
            .iter()
            .map(|(id, write)| {
                let attempts = state.failures.get(id).copied().unwrap_or(0);
                QueuedEntry::new(id.clone(), Ok(write.clone()), None, 0, attempts)
            })
            .collect())
    }

    fn queued_entry(&self, table_name: &str, queue_id: &str) -> ReedResult<QueuedEntry> {
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        self.queued_entries(table_name)?
            .into_iter()
            .find(|entry| entry.id == queue_id)
            .ok_or_else(|| ReedError::entry_not_found(table_name, queue_id))
    }

    /// Always `Some(true)`: the holder is a thread of this process.
    fn holder_alive(&self, _holder: &LockHolder) -> Option<bool> {
        Some(true)
    }

    /// `mem-` and 20 digits.
    fn is_queue_id_form(&self, queue_id: &str) -> bool {
        queue_id
            .strip_prefix("mem-")
            .is_some_and(|digits| digits.len() == 20 && digits.bytes().all(|b| b.is_ascii_digit()))
    }
}
