// SPDX-License-Identifier: Apache-2.0
//! Write queue (placeholder signatures; the implementation is being written).
#![allow(missing_docs)]

use std::path::Path;

use reedbase_concurrent_core::{PendingWrite, ReedResult};

use crate::options::FsOptions;

pub fn queue_write(
    _base_path: &Path,
    _table_name: &str,
    _operation: PendingWrite,
) -> ReedResult<String> {
    unimplemented!("being written")
}

pub fn queue_write_with(
    _base_path: &Path,
    _table_name: &str,
    _write: &PendingWrite,
    _options: &FsOptions,
) -> ReedResult<String> {
    unimplemented!("being written")
}

pub fn get_next_pending(
    _base_path: &Path,
    _table_name: &str,
) -> ReedResult<Option<(String, PendingWrite)>> {
    unimplemented!("being written")
}

pub fn remove_from_queue(_base_path: &Path, _table_name: &str, _queue_id: &str) -> ReedResult<()> {
    unimplemented!("being written")
}

pub fn count_pending(_base_path: &Path, _table_name: &str) -> ReedResult<usize> {
    unimplemented!("being written")
}
