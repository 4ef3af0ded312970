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

/// Writes `text` to `path` from another process, as an earlier version of
/// this crate wrote a count (without marking the queue).
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

/// The link count of the table's queue directory.
fn queue_links(base: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt as _;
    fs::metadata(queue_dir(base, "t")).unwrap().nlink()
}

#[test]
fn a_queue_is_marked_before_its_first_count_and_removals_then_look_for_counts() {
    let dir = tempfile::tempdir().unwrap();
    let producer = FsBackend::with_options(dir.path(), relaxed());
    let first = producer.queue_write("t", &sample_write("k", 1)).unwrap();
    let second = producer.queue_write("t", &sample_write("k", 2)).unwrap();
    let marker = queue_dir(dir.path(), "t").join(super::counts_marker::MARKER);
    assert!(!marker.exists(), "no count, no marker");
    assert_eq!(queue_links(dir.path()), 2, "so removals here skip the look");
    // Another consumer (its own backend: its own kept descriptors) counts a
    // failure; the producer's kept queue directory sees the mark.
    let consumer = FsBackend::with_options(dir.path(), relaxed());
    consumer.record_failed_apply("t", &second).unwrap();
    assert!(fs::symlink_metadata(&marker).unwrap().is_dir());
    assert_eq!(queue_links(dir.path()), 3);
    let count_file = queue_dir(dir.path(), "t").join(format!("{second}.attempts"));
    assert!(count_file.exists());
    producer.remove_from_queue("t", &first).unwrap();
    producer.remove_from_queue("t", &second).unwrap();
    assert!(!count_file.exists(), "the count goes with its entry");
    assert_eq!(
        producer.count_pending("t").unwrap(),
        0,
        "the marker is no entry"
    );
}

#[test]
fn a_count_left_unmarked_is_marked_by_the_listing_before_its_removal() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::with_options(dir.path(), relaxed());
    let id = backend.queue_write("t", &sample_write("k", 1)).unwrap();
    // As an earlier version of this crate left it: a count, no marker.
    let count_file = queue_dir(dir.path(), "t").join(format!("{id}.attempts"));
    write_from_another_process(&count_file, "2\n");
    let consumer = FsBackend::with_options(dir.path(), relaxed());
    let (next, _) = consumer.get_next_pending("t").unwrap().unwrap();
    assert_eq!(next, id);
    assert!(
        queue_dir(dir.path(), "t")
            .join(super::counts_marker::MARKER)
            .is_dir(),
        "the consumer's listing saw the count and marked the queue"
    );
    consumer.remove_from_queue("t", &id).unwrap();
    assert!(!count_file.exists());
}

#[test]
fn a_marker_that_is_not_a_directory_refuses_the_count_and_touches_nothing_outside() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let backend = FsBackend::with_options(dir.path(), relaxed());
    let id = backend.queue_write("t", &sample_write("k", 1)).unwrap();
    let marker = queue_dir(dir.path(), "t").join(super::counts_marker::MARKER);
    for planted in ["file", "link"] {
        match planted {
            "file" => fs::write(&marker, b"not a directory").unwrap(),
            _ => symlink(outside.path(), &marker).unwrap(),
        }
        let err = backend.record_failed_apply("t", &id).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(super::counts_marker::MARKER),
            "{planted}: {text}"
        );
        assert!(
            !queue_dir(dir.path(), "t")
                .join(format!("{id}.attempts"))
                .exists(),
            "{planted}: no count the removals could not see"
        );
        assert_eq!(
            fs::read_dir(outside.path()).unwrap().count(),
            0,
            "{planted}"
        );
        fs::remove_file(&marker).unwrap();
    }
    assert_eq!(backend.record_failed_apply("t", &id).unwrap(), 1);
}

#[test]
fn only_a_link_count_of_two_says_no_count_can_be_there() {
    use super::counts_marker::may_hold_counts;
    assert!(!may_hold_counts(Some(2)));
    for links in [None, Some(0), Some(1), Some(3), Some(40)] {
        assert!(may_hold_counts(links), "{links:?}");
    }
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
    assert!(
        queue.join(super::counts_marker::MARKER).is_dir(),
        "the producer's first listing saw the count and marked the queue"
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
    FsBackend::with_options(dir.path(), relaxed())
        .record_failed_apply("t", &id)
        .unwrap();
    assert!(count_file.exists());
    crate::remove_from_queue(dir.path(), "t", &id).unwrap();
    assert!(!count_file.exists());
}
