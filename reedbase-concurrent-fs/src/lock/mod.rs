// SPDX-License-Identifier: Apache-2.0
//! Table locks (placeholder signatures; the implementation is being written).
#![allow(missing_docs, clippy::missing_errors_doc)]

use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::ReedResult;

#[derive(Debug)]
pub struct TableLock {}

pub fn acquire_lock(
    _base_path: &Path,
    _table_name: &str,
    _timeout: Duration,
) -> ReedResult<TableLock> {
    unimplemented!("being written")
}

pub fn try_acquire_lock(_base_path: &Path, _table_name: &str) -> ReedResult<Option<TableLock>> {
    unimplemented!("being written")
}

pub fn is_locked(_base_path: &Path, _table_name: &str) -> ReedResult<bool> {
    unimplemented!("being written")
}

pub fn wait_for_unlock(_base_path: &Path, _table_name: &str, _timeout: Duration) -> ReedResult<()> {
    unimplemented!("being written")
}
