// SPDX-License-Identifier: Apache-2.0
//! The subjects that call free functions on a base directory: the old
//! module's, and the fs crate's with the same signatures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use reedbase_concurrent_fs::FsOptions;
use reedbase_last::concurrent as last;

use super::subject::{Payload, Subject, TIMEOUT};

/// The old module's free functions on a base directory.
pub(super) struct Last(pub(super) PathBuf);

impl Subject for Last {
    fn acquire_release(&self, table: &str) -> Result<(), String> {
        last::acquire_lock(&self.0, table, TIMEOUT)
            .map(drop)
            .map_err(|e| format!("last acquire_lock: {e}"))
    }

    fn try_acquire_release(&self, table: &str) -> Option<Result<(), String>> {
        // The old module has no try_acquire_lock; its nearest is one
        // attempt with a zero timeout.
        Some(
            last::acquire_lock(&self.0, table, Duration::ZERO)
                .map(drop)
                .map_err(|e| format!("last acquire_lock: {e}")),
        )
    }

    fn is_locked(&self, table: &str) -> Option<Result<bool, String>> {
        Some(last::is_locked(&self.0, table).map_err(|e| format!("last is_locked: {e}")))
    }

    fn has_holder(&self, _table: &str) -> Option<Result<bool, String>> {
        None
    }

    fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String> {
        let write = payload.last.clone();
        let start = Instant::now();
        let id = last::queue_write(&self.0, table, write);
        let took = start.elapsed();
        Ok((took, id.map_err(|e| format!("last queue_write: {e}"))?))
    }

    fn next_id(&self, table: &str) -> Result<Option<String>, String> {
        last::get_next_pending(&self.0, table)
            .map(|next| next.map(|(id, _)| id))
            .map_err(|e| format!("last get_next_pending: {e}"))
    }

    fn remove(&self, table: &str, id: &str) -> Result<(), String> {
        last::remove_from_queue(&self.0, table, id)
            .map_err(|e| format!("last remove_from_queue: {e}"))
    }

    fn count(&self, table: &str) -> Result<usize, String> {
        last::count_pending(&self.0, table).map_err(|e| format!("last count_pending: {e}"))
    }

    fn wait_free(&self, table: &str) -> Option<Result<(), String>> {
        Some(
            last::wait_for_unlock(&self.0, table, TIMEOUT)
                .map_err(|e| format!("last wait_for_unlock: {e}")),
        )
    }
}

/// The fs crate's free functions with the old module's signatures (queue
/// writes through `queue_write_with` and relaxed options, to compare with
/// the old module, which never fsyncs).
pub(super) struct Free(pub(super) PathBuf, pub(super) FsOptions);

impl Subject for Free {
    fn acquire_release(&self, table: &str) -> Result<(), String> {
        reedbase_concurrent_fs::acquire_lock(&self.0, table, TIMEOUT)
            .map(drop)
            .map_err(|e| format!("fs acquire_lock: {e}"))
    }

    fn try_acquire_release(&self, table: &str) -> Option<Result<(), String>> {
        Some(
            match reedbase_concurrent_fs::try_acquire_lock(&self.0, table) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err("fs try_acquire_lock: a free lock was busy".to_string()),
                Err(e) => Err(format!("fs try_acquire_lock: {e}")),
            },
        )
    }

    fn is_locked(&self, table: &str) -> Option<Result<bool, String>> {
        Some(
            reedbase_concurrent_fs::is_locked(&self.0, table)
                .map_err(|e| format!("fs is_locked: {e}")),
        )
    }

    fn has_holder(&self, table: &str) -> Option<Result<bool, String>> {
        Some(
            reedbase_concurrent_fs::lock_holder(&self.0, table)
                .map(|holder| holder.is_some())
                .map_err(|e| format!("fs lock_holder: {e}")),
        )
    }

    fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String> {
        let start = Instant::now();
        let id = reedbase_concurrent_fs::queue_write_with(&self.0, table, &payload.core, &self.1);
        let took = start.elapsed();
        Ok((took, id.map_err(|e| format!("fs queue_write_with: {e}"))?))
    }

    fn next_id(&self, table: &str) -> Result<Option<String>, String> {
        reedbase_concurrent_fs::get_next_pending(&self.0, table)
            .map(|next| next.map(|(id, _)| id))
            .map_err(|e| format!("fs get_next_pending: {e}"))
    }

    fn remove(&self, table: &str, id: &str) -> Result<(), String> {
        reedbase_concurrent_fs::remove_from_queue(&self.0, table, id)
            .map_err(|e| format!("fs remove_from_queue: {e}"))
    }

    fn count(&self, table: &str) -> Result<usize, String> {
        reedbase_concurrent_fs::count_pending(&self.0, table)
            .map_err(|e| format!("fs count_pending: {e}"))
    }

    fn wait_free(&self, table: &str) -> Option<Result<(), String>> {
        Some(
            reedbase_concurrent_fs::wait_for_unlock(&self.0, table, TIMEOUT)
                .map_err(|e| format!("fs wait_for_unlock: {e}")),
        )
    }
}
