// SPDX-License-Identifier: Apache-2.0
//! A table's queue in memory: a FIFO of `(id, write)` in the table's slot,
//! the entries moved aside and the failed applies per entry, all changed
//! under the slot's mutex.
//!
//! Invariants: the queue never holds more than the backend's capacity; an
//! entry leaves it only by removal or by being moved aside, and its failure
//! count leaves with it; an id is pending, moved aside or unknown, never two
//! of these.

use reedbase_concurrent_core::{MovedAside, PendingWrite, ReedError, ReedResult};

use crate::slot::TableState;

/// Appends `write` under the id `next_id` makes, unless the queue already
/// holds `capacity` entries (`QueueFull`; no id is taken then).
pub(crate) fn push(
    state: &mut TableState,
    table_name: &str,
    capacity: usize,
    write: &PendingWrite,
    next_id: impl FnOnce() -> String,
) -> ReedResult<String> {
    if state.queue.len() >= capacity {
        return Err(ReedError::queue_full(table_name, state.queue.len()));
    }
    let id = next_id();
    state.queue.push_back((id.clone(), write.clone()));
    Ok(id)
}

/// The oldest `max` entries, without removing them.
pub(crate) fn oldest(state: &TableState, max: usize) -> Vec<(String, PendingWrite)> {
    state.queue.iter().take(max).cloned().collect()
}

/// Whether `queue_id` is pending.
pub(crate) fn contains(state: &TableState, queue_id: &str) -> bool {
    state.queue.iter().any(|(id, _)| id == queue_id)
}

/// Removes the entry `queue_id` and its failure count.
pub(crate) fn remove(state: &mut TableState, table_name: &str, queue_id: &str) -> ReedResult<()> {
    match state.queue.iter().position(|(id, _)| id == queue_id) {
        Some(index) => {
            state.queue.remove(index);
            state.failures.remove(queue_id);
            Ok(())
        }
        None => Err(not_pending(state, table_name, queue_id)),
    }
}

/// Removes the entries in order; stops at the first that is not pending,
/// keeping the removals before it.
pub(crate) fn remove_each(
    state: &mut TableState,
    table_name: &str,
    queue_ids: &[String],
) -> ReedResult<()> {
    queue_ids
        .iter()
        .try_for_each(|queue_id| remove(state, table_name, queue_id))
}

/// Takes the entry `queue_id` out of the queue and keeps it as moved aside.
pub(crate) fn move_aside(
    state: &mut TableState,
    table_name: &str,
    queue_id: &str,
    reason: &str,
) -> ReedResult<MovedAside> {
    let Some(index) = state.queue.iter().position(|(id, _)| id == queue_id) else {
        return Err(not_pending(state, table_name, queue_id));
    };
    state.queue.remove(index);
    state.failures.remove(queue_id);
    let moved = MovedAside::new(queue_id, reason, format!("memory:{table_name}/{queue_id}"));
    state.moved.push(moved.clone());
    Ok(moved)
}

/// The entries moved aside, by id.
pub(crate) fn moved_aside(state: &TableState) -> Vec<MovedAside> {
    let mut moved = state.moved.clone();
    moved.sort_by(|a, b| a.id.cmp(&b.id));
    moved
}

/// Counts one more failed apply of the pending entry `queue_id`.
pub(crate) fn record_failure(
    state: &mut TableState,
    table_name: &str,
    queue_id: &str,
) -> ReedResult<u32> {
    if !contains(state, queue_id) {
        return Err(ReedError::entry_not_found(table_name, queue_id));
    }
    let count = state.failures.entry(queue_id.to_string()).or_insert(0);
    *count = count.saturating_add(1);
    Ok(*count)
}

/// The error for an id that is not pending: `CorruptEntry` if it was moved
/// aside, `QueueEntryNotFound` otherwise.
fn not_pending(state: &TableState, table_name: &str, queue_id: &str) -> ReedError {
    match state.moved.iter().find(|moved| moved.id == queue_id) {
        Some(moved) => ReedError::moved_aside(table_name, moved),
        None => ReedError::entry_not_found(table_name, queue_id),
    }
}
