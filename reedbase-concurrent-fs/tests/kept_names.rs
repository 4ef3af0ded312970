// SPDX-License-Identifier: Apache-2.0
//! A call that finds a kept lock pair or queue directory by the table's
//! name skips validating the name again (the kept one was opened under a
//! validated name, and only the same name finds it). So a name that is
//! invalid, and only looks like a kept table's, must still be refused
//! before anything is touched, by every call that looks in the kept
//! descriptors first.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::{
    CsvRow, LockBackend, PendingWrite, QueueBackend, ReedError, WriteOperation,
};
use reedbase_concurrent_fs::{FsBackend, FsOptions};

const TABLE: &str = "users";

/// Names that differ from the kept `users` by what validation refuses.
const NEAR_MISSES: [&str; 7] = [
    "users/",
    "/users",
    "../users",
    "users/..",
    "./users",
    "users\0",
    "tables/users",
];

fn write() -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])])
}

fn assert_refused<T: std::fmt::Debug>(what: &str, name: &str, result: Result<T, ReedError>) {
    match result {
        Err(ReedError::InvalidTableName { .. }) => {}
        other => panic!("{what}({name:?}) with `{TABLE}` kept: {other:?}"),
    }
}

/// Keeps the lock pair and the queue directory of `users` open in
/// `backend`, and returns a queued entry's id.
fn keep_users(backend: &FsBackend) -> String {
    drop(backend.acquire_lock(TABLE, Duration::from_secs(5)).unwrap());
    assert!(!backend.is_locked(TABLE).unwrap());
    let id = backend.queue_write(TABLE, &write()).unwrap();
    let other = backend.queue_write(TABLE, &write()).unwrap();
    backend.remove_from_queue(TABLE, &other).unwrap();
    id
}

fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(next) = stack.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path.clone());
            }
            found.push(path);
        }
    }
    found.sort();
    found
}

#[test]
fn an_invalid_name_is_refused_while_a_valid_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let backend = FsBackend::with_options(&base, FsOptions::new());
    let id = keep_users(&backend);
    // The free functions keep descriptors of their own: keep `users` there
    // too (its lock pair and its queue directory).
    assert!(!reedbase_concurrent_fs::is_locked(&base, TABLE).unwrap());
    let free = reedbase_concurrent_fs::queue_write(&base, TABLE, write()).unwrap();
    reedbase_concurrent_fs::remove_from_queue(&base, TABLE, &free).unwrap();
    let before = files_under(dir.path());
    for name in NEAR_MISSES {
        assert_refused("is_locked", name, backend.is_locked(name));
        assert_refused(
            "acquire_lock",
            name,
            backend.acquire_lock(name, Duration::from_millis(10)),
        );
        assert_refused(
            "remove_from_queue",
            name,
            backend.remove_from_queue(name, &id),
        );
        assert_refused("queue_write", name, backend.queue_write(name, &write()));
        assert_refused(
            "free is_locked",
            name,
            reedbase_concurrent_fs::is_locked(&base, name),
        );
        assert_refused(
            "free remove_from_queue",
            name,
            reedbase_concurrent_fs::remove_from_queue(&base, name, &id),
        );
        assert_refused(
            "free queue_write",
            name,
            reedbase_concurrent_fs::queue_write(&base, name, write()),
        );
    }
    assert_eq!(
        files_under(dir.path()),
        before,
        "a refused call touched something"
    );
    // The kept table still works, and its entry is still there.
    backend.remove_from_queue(TABLE, &id).unwrap();
    assert_eq!(backend.count_pending(TABLE).unwrap(), 0);
}
