// SPDX-License-Identifier: Apache-2.0
//! The queue side of [`MemBackend`]: [`QueueBackend`].

use reedbase_concurrent_core::{
    MovedAside, PendingWrite, QueueBackend, ReedError, ReedResult, validate_queue_id,
    validate_write,
};

use super::{MemBackend, TableSlot, TableState, lock_ignoring_poison};
use crate::sync::Arc;

impl QueueBackend for MemBackend {
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        // The table name (in `slot`) first, then the rest: every backend
        // reports the same error for a call with more than one bad input.
        let slot = self.slot(table_name)?;
        validate_write(write)?;
        self.check_process("queue_write", table_name)?;
        let mut state = lock_ignoring_poison(&slot.state);
        if state.queue.len() >= self.shared.capacity {
            return Err(ReedError::queue_full(table_name, state.queue.len()));
        }
        let id = self.next_queue_id();
        state.queue.push_back((id.clone(), write.clone()));
        Ok(id)
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        let slot = self.slot(table_name)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(state.queue.front().cloned())
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let mut state = lock_ignoring_poison(&slot.state);
        let position = state.queue.iter().position(|(id, _)| id == queue_id);
        match position {
            Some(index) => {
                state.queue.remove(index);
                state.failures.remove(queue_id);
                Ok(())
            }
            None => Err(not_pending(&state, table_name, queue_id)),
        }
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        let slot = self.slot(table_name)?;
        let count = lock_ignoring_poison(&slot.state).queue.len();
        Ok(count)
    }

    fn capacity(&self) -> usize {
        self.shared.capacity
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        let slot = self.slot(table_name)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(state.queue.iter().take(max).cloned().collect())
    }

    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        let slot = self.slot(table_name)?;
        queue_ids.iter().try_for_each(|id| validate_queue_id(id))?;
        let mut state = lock_ignoring_poison(&slot.state);
        for queue_id in queue_ids {
            match state.queue.iter().position(|(id, _)| id == queue_id) {
                Some(index) => {
                    state.queue.remove(index);
                    state.failures.remove(queue_id);
                }
                None => return Err(not_pending(&state, table_name, queue_id)),
            }
        }
        Ok(())
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let state = lock_ignoring_poison(&slot.state);
        Ok(state.queue.iter().any(|(id, _)| id == queue_id))
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let mut state = lock_ignoring_poison(&slot.state);
        let Some(index) = state.queue.iter().position(|(id, _)| id == queue_id) else {
            return Err(not_pending(&state, table_name, queue_id));
        };
        state.queue.remove(index);
        state.failures.remove(queue_id);
        let moved = MovedAside::new(queue_id, reason, format!("memory:{table_name}/{queue_id}"));
        state.moved.push(moved.clone());
        Ok(moved)
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        let slot = self.slot(table_name)?;
        let mut moved = lock_ignoring_poison(&slot.state).moved.clone();
        moved.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(moved)
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        let slot = self.slot(table_name)?;
        validate_queue_id(queue_id)?;
        let mut state = lock_ignoring_poison(&slot.state);
        if !state.queue.iter().any(|(id, _)| id == queue_id) {
            return Err(ReedError::entry_not_found(table_name, queue_id));
        }
        let count = state.failures.entry(queue_id.to_string()).or_insert(0);
        *count = count.saturating_add(1);
        Ok(*count)
    }

    fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
        let slots: Vec<(String, Arc<TableSlot>)> = lock_ignoring_poison(&self.shared.tables)
            .iter()
            .map(|(name, slot)| (name.clone(), Arc::clone(slot)))
            .collect();
        let mut tables: Vec<String> = slots
            .into_iter()
            .filter(|(_, slot)| !lock_ignoring_poison(&slot.state).queue.is_empty())
            .map(|(name, _)| name)
            .collect();
        tables.sort();
        Ok(tables)
    }
}

/// The error for an id that is not pending: `CorruptEntry` if it was moved
/// aside, `QueueEntryNotFound` otherwise.
fn not_pending(state: &TableState, table_name: &str, queue_id: &str) -> ReedError {
    match state.moved.iter().find(|moved| moved.id == queue_id) {
        Some(moved) => ReedError::moved_aside(table_name, moved),
        None => ReedError::entry_not_found(table_name, queue_id),
    }
}
