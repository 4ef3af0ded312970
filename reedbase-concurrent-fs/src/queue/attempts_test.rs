// SPDX-License-Identifier: Apache-2.0
//! Tests of the durable count of failed applies.

use std::fs;
use std::os::unix::fs::symlink;

use reedbase_concurrent_core::{QueueBackend, ReedError};

use crate::FsBackend;
use crate::queue::test_support::{queue_dir, relaxed, sample_write};

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
