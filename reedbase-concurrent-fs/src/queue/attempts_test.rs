// SPDX-License-Identifier: Apache-2.0
//! Tests of the durable count of failed applies.

use std::fs;
use std::os::unix::fs::symlink;

use reedbase_concurrent_core::{QueueBackend, ReedError};

use crate::FsBackend;
use crate::queue::test_support::{
    legacy_write, queue_dir, relaxed, sample_write, write_legacy_entry,
};

#[test]
fn failures_are_counted_and_the_count_goes_with_the_entry() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::with_options(dir.path(), relaxed());
    let id = backend.queue_write("t", &sample_write("k", 1)).unwrap();
    let counted: Vec<u32> = (0..3)
        .map(|_| backend.record_failed_apply("t", &id).unwrap())
        .collect();
    assert_eq!(counted, [1, 2, 3]);
    let count_file = queue_dir(dir.path(), "t").join(format!("{id}.attempts"));
    assert_eq!(fs::read_to_string(&count_file).unwrap(), "3\n");
    backend.remove_from_queue("t", &id).unwrap();
    assert!(!count_file.exists());
    let err = backend.record_failed_apply("t", &id).unwrap_err();
    assert!(matches!(err, ReedError::QueueEntryNotFound { .. }), "{err}");
}

#[test]
fn a_dead_letter_leaves_no_count_behind() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::with_options(dir.path(), relaxed());
    let id = backend.queue_write("t", &sample_write("k", 1)).unwrap();
    backend.record_failed_apply("t", &id).unwrap();
    backend.move_aside("t", &id, "dead letter: test").unwrap();
    assert!(
        !queue_dir(dir.path(), "t")
            .join(format!("{id}.attempts"))
            .exists()
    );
    assert!(!backend.is_pending("t", &id).unwrap());
    assert!(
        backend
            .record_failed_apply("t", &id)
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn a_count_file_that_is_a_link_is_replaced_not_followed() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("target");
    fs::write(&target, b"41\n").unwrap();
    let backend = FsBackend::with_options(dir.path(), relaxed());
    let id = backend.queue_write("t", &sample_write("k", 1)).unwrap();
    let count_file = queue_dir(dir.path(), "t").join(format!("{id}.attempts"));
    symlink(&target, &count_file).unwrap();
    assert_eq!(backend.record_failed_apply("t", &id).unwrap(), 1);
    assert_eq!(
        fs::read(&target).unwrap(),
        b"41\n",
        "written through the link"
    );
    assert!(
        !fs::symlink_metadata(&count_file)
            .unwrap()
            .file_type()
            .is_symlink()
    );
}

/// Writes `text` to `path` from another process, as another consumer's
/// `record_failed_apply` would (the watch sees every process's changes).
fn write_from_another_process(path: &std::path::Path, text: &str) {
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg("printf '%s' \"$1\" > \"$2\"")
        .arg("sh")
        .arg(text)
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// What this process's watch says of the table's queue directory.
fn watch_may_hold_attempts(base: &std::path::Path) -> Option<bool> {
    let facts = fs::metadata(queue_dir(base, "t")).unwrap();
    use std::os::unix::fs::MetadataExt as _;
    crate::queue::watch::if_watched((facts.dev(), facts.ino()), |w| w.may_hold_attempts())
}

#[test]
fn the_watch_knows_a_queue_without_counts_and_sees_one_arrive() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::with_options(dir.path(), relaxed());
    let first = backend.queue_write("t", &sample_write("k", 1)).unwrap();
    let second = backend.queue_write("t", &sample_write("k", 2)).unwrap();
    assert_eq!(
        watch_may_hold_attempts(dir.path()),
        Some(false),
        "a producer's listing found no count of failed applies"
    );
    let count_file = queue_dir(dir.path(), "t").join(format!("{second}.attempts"));
    write_from_another_process(&count_file, "2\n");
    assert_eq!(watch_may_hold_attempts(dir.path()), Some(true));
    backend.remove_from_queue("t", &first).unwrap();
    backend.remove_from_queue("t", &second).unwrap();
    assert!(
        !count_file.exists(),
        "a count written after the watch knew none goes with its entry"
    );
    assert_eq!(watch_may_hold_attempts(dir.path()), Some(false));
}

#[test]
fn a_count_there_before_the_first_listing_goes_with_its_entry() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    // Left by another process before this one used the queue.
    let id = "0b5c1e8f-9d0a-4c6e-8e7f-1a2b3c4d5e6f";
    write_legacy_entry(&queue, id, &legacy_write("old"));
    let count_file = queue.join(format!("{id}.attempts"));
    write_from_another_process(&count_file, "1\n");
    let backend = FsBackend::with_options(dir.path(), relaxed());
    backend.queue_write("t", &sample_write("k", 1)).unwrap();
    assert_eq!(
        watch_may_hold_attempts(dir.path()),
        Some(true),
        "the first listing counted it"
    );
    backend.remove_from_queue("t", id).unwrap();
    assert!(!count_file.exists());
}

#[test]
fn without_the_watch_a_removal_still_removes_the_count() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::with_options(dir.path(), relaxed().watch_queues(false));
    let id = backend.queue_write("t", &sample_write("k", 1)).unwrap();
    let count_file = queue_dir(dir.path(), "t").join(format!("{id}.attempts"));
    write_from_another_process(&count_file, "1\n");
    crate::remove_from_queue(dir.path(), "t", &id).unwrap();
    assert!(!count_file.exists());
}
