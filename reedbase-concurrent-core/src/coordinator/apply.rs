// SPDX-License-Identifier: Apache-2.0
//! What `apply` is given ([`ApplyKey`], [`BatchItem`]), and two functions
//! that give a closure stored for reuse the signature `apply` needs.

use super::error::ApplyError;
use crate::types::PendingWrite;

/// What `apply` is told about each write: its idempotency key (the queue id
/// of a queued write) and the lock's fencing token.
///
/// A queued write may be applied again after a crash between its apply and
/// its removal, always under the same queue id; a table writer records the
/// ids it has applied in the same durable step as the rows and skips one it
/// has seen. A direct write ([`is_direct`](Self::is_direct)) never entered
/// the queue and is applied at most once.
///
/// The fencing token, from backends that hand one out
/// ([`LockGuard::fencing_token`](crate::LockGuard::fencing_token)), grows with
/// every acquisition of the table's lock: a table writer that stores the
/// highest token it has seen can refuse a write carrying a lower one, from a
/// holder whose lock has since been taken over.
///
/// ```
/// use reedbase_concurrent_core::ApplyKey;
///
/// let key = ApplyKey::queued("00000000000000000007-ab", Some(42));
/// assert_eq!(key.queue_id(), Some("00000000000000000007-ab"));
/// assert!(!key.is_direct());
/// assert_eq!(key.fencing_token(), Some(42));
/// assert!(ApplyKey::direct(None).is_direct());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ApplyKey<'a> {
    queue_id: Option<&'a str>,
    fencing_token: Option<u64>,
}

impl<'a> ApplyKey<'a> {
    /// The key of the caller's own write.
    pub fn direct(fencing_token: Option<u64>) -> Self {
        ApplyKey {
            queue_id: None,
            fencing_token,
        }
    }

    /// The key of a queued write.
    pub fn queued(queue_id: &'a str, fencing_token: Option<u64>) -> Self {
        ApplyKey {
            queue_id: Some(queue_id),
            fencing_token,
        }
    }

    /// The queue id, for a queued write; `None` for the caller's own write.
    pub fn queue_id(&self) -> Option<&'a str> {
        self.queue_id
    }

    /// True for the caller's own write, which never entered the queue.
    pub fn is_direct(&self) -> bool {
        self.queue_id.is_none()
    }

    /// The fencing token of the lock this write is applied under, if the
    /// backend hands one out.
    pub fn fencing_token(&self) -> Option<u64> {
        self.fencing_token
    }
}

/// One write of a batch, with its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchItem<'a> {
    /// The write's idempotency key.
    pub key: ApplyKey<'a>,
    /// The write.
    pub write: &'a PendingWrite,
}

/// Gives a per-write `apply` closure its signature, so that it can be
/// stored once and passed as `&mut apply` to every
/// [`submit`](super::WriteCoordinator::submit) and
/// [`drain`](super::WriteCoordinator::drain), with no type annotations: a
/// closure written straight into the call needs none either, but one kept in
/// a variable would otherwise have to spell out `ApplyKey<'_>` and
/// [`ApplyError`].
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteCoordinator, WriteOperation, apply_each};
/// use reedbase_concurrent_mem::MemBackend;
///
/// let coordinator = WriteCoordinator::new(MemBackend::new());
/// let mut table: Vec<String> = Vec::new();
/// let mut apply = apply_each(|_key, write| {
///     table.extend(write.rows.iter().map(CsvRow::to_csv));
///     Ok(())
/// });
/// for n in 0..3 {
///     let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(format!("k{n}"), ["v"])]);
///     coordinator.submit("t", write, Duration::from_secs(1), &mut apply)?;
/// }
/// coordinator.drain("t", Duration::from_secs(1), &mut apply)?;
/// assert_eq!(table, ["k0|v", "k1|v", "k2|v"]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply_each<F>(apply: F) -> F
where
    F: FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError>,
{
    apply
}

/// As [`apply_each`], for a batch `apply` closure (for
/// [`submit_batch`](super::WriteCoordinator::submit_batch) and
/// [`drain_batch`](super::WriteCoordinator::drain_batch)).
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteCoordinator, WriteOperation, apply_batch};
/// use reedbase_concurrent_mem::MemBackend;
///
/// let coordinator = WriteCoordinator::new(MemBackend::new());
/// let mut calls = 0;
/// let mut apply = apply_batch(|batch| {
///     calls += 1;
///     assert!(!batch.is_empty());
///     Ok(())
/// });
/// let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
/// coordinator.submit_batch("t", write, Duration::from_secs(1), &mut apply)?;
/// coordinator.drain_batch("t", Duration::from_secs(1), &mut apply)?;
/// assert_eq!(calls, 1);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn apply_batch<F>(apply: F) -> F
where
    F: FnMut(&[BatchItem<'_>]) -> Result<(), ApplyError>,
{
    apply
}
