// SPDX-License-Identifier: Apache-2.0

use std::fs;

use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, ReedError, WriteOperation};

use super::*;
use crate::FsBackend;

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

fn ids(backend: &FsBackend) -> Vec<String> {
    let batch = backend.get_pending_batch("t", 100).unwrap();
    batch.into_iter().map(|(id, _)| id).collect()
}

#[test]
fn a_repaired_entry_goes_back_to_its_place_and_a_broken_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let options = FsOptions::default();
    let first = backend.queue_write("t", &write("a")).unwrap();
    let bad = "00000000000000000001-0123456789abcdef0123456789abcdef";
    let queue_dir = dir.path().join("tables/t/queue");
    fs::write(queue_dir.join(format!("{bad}.pending")), b"{\"rows\":[").unwrap();
    let third = backend.queue_write("t", &write("c")).unwrap();
    assert_eq!(ids(&backend), [first.clone(), third.clone()]);
    let moved_file = queue_dir.join(format!("corrupt/{bad}.pending"));
    assert!(moved_file.is_file());

    let refused = restore_moved_aside(dir.path(), "t", bad, &options).unwrap_err();
    assert!(
        matches!(&refused, ReedError::CorruptEntry { moved_to, reason, .. } if moved_to == &moved_file.display().to_string() && reason.contains("does not decode")),
        "{refused:?}"
    );
    assert!(moved_file.is_file(), "a refused restore changes nothing");

    fs::write(&moved_file, serde_json::to_vec(&write("b")).unwrap()).unwrap();
    let restored = restore_moved_aside(dir.path(), "t", bad, &options).unwrap();
    assert_eq!(restored.rows[0].key, "b");
    assert_eq!(ids(&backend), [first, bad.to_string(), third]);
    assert!(backend.moved_aside("t").unwrap().is_empty());
    assert!(!queue_dir.join(format!("corrupt/{bad}.reason")).exists());
}

#[test]
fn a_dead_letter_comes_back_with_its_count_cleared() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let id = backend.queue_write("t", &write("a")).unwrap();
    assert_eq!(backend.record_failed_apply("t", &id).unwrap(), 1);
    let reason = reedbase_concurrent_core::MovedAside::dead_letter_reason(1, &"disk full");
    backend.move_aside("t", &id, &reason).unwrap();
    assert_eq!(backend.moved_aside("t").unwrap()[0].attempts, Some(1));
    restore_moved_aside(dir.path(), "t", &id, &FsOptions::default()).unwrap();
    assert!(backend.is_pending("t", &id).unwrap());
    assert_eq!(backend.record_failed_apply("t", &id).unwrap(), 1);
}

#[test]
fn restores_that_cannot_be_done_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let options = FsOptions::new().capacity(1);
    let backend = FsBackend::with_options(dir.path(), options);
    let missing = "00000000000000000042-0123456789abcdef0123456789abcdef";
    assert!(
        restore_moved_aside(dir.path(), "t", missing, &options)
            .unwrap_err()
            .is_not_found()
    );
    let id = backend.queue_write("t", &write("a")).unwrap();
    assert!(
        restore_moved_aside(dir.path(), "t", missing, &options)
            .unwrap_err()
            .is_not_found()
    );
    backend.move_aside("t", &id, "test").unwrap();
    let other = backend.queue_write("t", &write("b")).unwrap();
    assert!(
        restore_moved_aside(dir.path(), "t", &id, &options)
            .unwrap_err()
            .is_queue_full()
    );
    assert_eq!(backend.moved_aside("t").unwrap().len(), 1);
    backend.remove_from_queue("t", &other).unwrap();
    // The same id pending again (copied in by hand) is refused.
    let queue_dir = dir.path().join("tables/t/queue");
    fs::copy(
        queue_dir.join(format!("corrupt/{id}.pending")),
        queue_dir.join(format!("{id}.pending")),
    )
    .unwrap();
    let twice = restore_moved_aside(dir.path(), "t", &id, &FsOptions::default()).unwrap_err();
    assert!(
        matches!(&twice, ReedError::CorruptEntry { reason, .. } if reason.contains("pending in the queue already")),
        "{twice:?}"
    );
    assert!(
        restore_moved_aside(dir.path(), "../t", &id, &options)
            .unwrap_err()
            .is_invalid_input()
    );
}
