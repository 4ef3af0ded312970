// SPDX-License-Identifier: Apache-2.0
//! A shared reference or an `Arc` of a backend is a backend, so that a
//! coordinator and the code around it can share one without cloning it.

use std::time::Duration;

use super::{LockBackend, QueueBackend};
use crate::diagnostics::{LockHolder, MovedAside};
use crate::error::ReedResult;
use crate::types::PendingWrite;

macro_rules! forward_backends {
    ($($pointer:ty),*) => {$(
        impl<T: LockBackend + ?Sized> LockBackend for $pointer {
            type Guard = T::Guard;

            fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<Self::Guard> {
                (**self).acquire_lock(table_name, timeout)
            }

            fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<Self::Guard>> {
                (**self).try_acquire_lock(table_name)
            }

            fn try_acquire_lock_for(&self, table_name: &str, timeout: Duration) -> ReedResult<Option<Self::Guard>> {
                (**self).try_acquire_lock_for(table_name, timeout)
            }

            fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
                (**self).is_locked(table_name)
            }

            fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
                (**self).wait_for_unlock(table_name, timeout)
            }

            fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
                (**self).lock_holder(table_name)
            }
        }

        impl<T: QueueBackend + ?Sized> QueueBackend for $pointer {
            fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
                (**self).queue_write(table_name, write)
            }

            fn queue_write_unless(
                &self,
                table_name: &str,
                write: &PendingWrite,
                instead: &mut dyn FnMut() -> bool,
            ) -> ReedResult<Option<String>> {
                (**self).queue_write_unless(table_name, write, instead)
            }

            fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
                (**self).get_next_pending(table_name)
            }

            fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
                (**self).remove_from_queue(table_name, queue_id)
            }

            fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
                (**self).count_pending(table_name)
            }

            fn capacity(&self) -> usize {
                (**self).capacity()
            }

            fn get_pending_batch(&self, table_name: &str, max: usize) -> ReedResult<Vec<(String, PendingWrite)>> {
                (**self).get_pending_batch(table_name, max)
            }

            fn short_batch_holds_all(&self) -> bool {
                (**self).short_batch_holds_all()
            }

            fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
                (**self).remove_batch_from_queue(table_name, queue_ids)
            }

            fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
                (**self).is_pending(table_name, queue_id)
            }

            fn wait_while_pending(
                &self,
                table_name: &str,
                queue_id: &str,
                timeout: Duration,
            ) -> ReedResult<bool> {
                (**self).wait_while_pending(table_name, queue_id, timeout)
            }

            fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
                (**self).move_aside(table_name, queue_id, reason)
            }

            fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
                (**self).moved_aside(table_name)
            }

            fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
                (**self).record_failed_apply(table_name, queue_id)
            }

            fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
                (**self).tables_with_pending()
            }
        }
    )*};
}

forward_backends!(&T, std::sync::Arc<T>);
