// SPDX-License-Identifier: Apache-2.0
//! Tests of the queue operations the backend calls directly: batches,
//! `is_pending` and `move_aside` (dead letters).

use std::fs;

use reedbase_concurrent_core::ReedError;

use super::{Freed, is_pending, move_aside, pending_batch, queue_write, remove, remove_batch};
use crate::options::{Durability, FsOptions};
use crate::queue::late_free::{PINNED, kept_reads_of};
use crate::queue::test_support::{queue_dir, sample_write};
use crate::tables_dir::BaseDir;

fn filled(count: usize, options: &FsOptions) -> (tempfile::TempDir, BaseDir, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let base = BaseDir::new(dir.path().to_path_buf());
    let ids = (0..count)
        .map(|n| queue_write(&base, "t", &sample_write(&format!("k{n}"), 1), options).unwrap())
        .collect();
    (dir, base, ids)
}

#[test]
fn a_batch_is_the_oldest_entries_in_order() {
    let options = FsOptions::new().durability(Durability::Relaxed);
    let (_dir, base, ids) = filled(5, &options);
    let batch = pending_batch(&base, "t", 3, &options).unwrap();
    let got: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(got, ids[..3].iter().map(String::as_str).collect::<Vec<_>>());
    assert!(pending_batch(&base, "t", 0, &options).unwrap().is_empty());
    assert_eq!(pending_batch(&base, "t", 99, &options).unwrap().len(), 5);
}

#[test]
fn a_batch_removal_stops_at_the_first_failure_keeping_what_it_removed() {
    for durability in [Durability::Durable, Durability::Relaxed] {
        let options = FsOptions::new().durability(durability);
        let (_dir, base, ids) = filled(4, &options);
        remove_batch(&base, "t", &ids[..1], durability, Freed::Later).unwrap();
        let batch = [ids[1].clone(), ids[0].clone(), ids[2].clone()];
        let err = remove_batch(&base, "t", &batch, durability, Freed::Later).unwrap_err();
        assert!(
            matches!(err, ReedError::QueueEntryNotFound { ref queue_id, .. } if *queue_id == ids[0]),
            "{err}"
        );
        assert!(
            !is_pending(&base, "t", &ids[1]).unwrap(),
            "removed before the failure"
        );
        assert!(
            is_pending(&base, "t", &ids[2]).unwrap(),
            "not removed after it"
        );
        // A malformed id anywhere in the batch is refused before anything
        // is removed.
        let invalid = [ids[2].clone(), "../x".to_string(), ids[3].clone()];
        assert!(
            remove_batch(&base, "t", &invalid, durability, Freed::Now)
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(is_pending(&base, "t", &ids[2]).unwrap(), "untouched");
        assert!(is_pending(&base, "t", &ids[3]).unwrap(), "untouched");
        remove_batch::<String>(&base, "t", &[], durability, Freed::Later).unwrap();
    }
}

/// A lock holder's batch removal pins each entry before its unlink, so that
/// freeing it happens on the closing thread; a removal of one entry by id
/// (`remove_from_queue`) frees it in the call.
#[test]
fn a_batch_removal_leaves_the_freeing_to_the_closing_thread() {
    for durability in [Durability::Durable, Durability::Relaxed] {
        let options = FsOptions::new().durability(durability);
        let (_dir, base, ids) = filled(4, &options);
        let pinned = || PINNED.with(std::cell::Cell::get);
        let before = pinned();
        remove_batch(&base, "t", &ids[..3], durability, Freed::Later).unwrap();
        assert_eq!(pinned() - before, 3);
        for id in &ids[..3] {
            assert!(!is_pending(&base, "t", id).unwrap(), "removed");
        }
        remove(&base, "t", &ids[3]).unwrap();
        assert_eq!(pinned() - before, 3, "one by id: not pinned");
        assert!(!is_pending(&base, "t", &ids[3]).unwrap());
        let left = fs::read_dir(queue_dir(base.path(), "t")).unwrap().count();
        assert_eq!(left, 0, "nothing left in the queue directory");
    }
}

#[test]
fn a_dead_letter_is_moved_aside_once_and_then_reported_as_such() {
    let options = FsOptions::new();
    let (dir, base, ids) = filled(2, &options);
    let moved = move_aside(&base, "t", &ids[0], "dead letter: apply failed 3 times").unwrap();
    assert_eq!(
        (moved.id.as_str(), moved.reason.as_str()),
        (ids[0].as_str(), "dead letter: apply failed 3 times")
    );
    assert_eq!(
        fs::read(&moved.location).unwrap(),
        serde_json::to_vec(&sample_write("k0", 1)).unwrap()
    );
    assert!(!is_pending(&base, "t", &ids[0]).unwrap());
    let again = move_aside(&base, "t", &ids[0], "again").unwrap_err();
    assert!(matches!(again, ReedError::CorruptEntry { .. }), "{again}");
    let unknown = "00000000000000000099-0123456789abcdef0123456789abcdef";
    assert!(
        move_aside(&base, "t", unknown, "x")
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        queue_dir(dir.path(), "t")
            .join(format!("{}.pending", ids[1]))
            .exists()
    );
}

/// The queue directory's device and inode.
fn dir_key(base: &std::path::Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let meta = fs::metadata(queue_dir(base, "t")).unwrap();
    (meta.dev(), meta.ino())
}

#[test]
fn watch_queues_false_leaves_the_queue_unwatched_and_still_delivers() {
    use reedbase_concurrent_core::QueueBackend as _;
    for watch in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let options = FsOptions::new()
            .durability(Durability::Relaxed)
            .watch_queues(watch);
        let backend = crate::FsBackend::with_options(dir.path(), options);
        let first = backend.queue_write("t", &sample_write("a", 1)).unwrap();
        let second = backend.queue_write("t", &sample_write("b", 1)).unwrap();
        let batch = backend.get_pending_batch("t", 10).unwrap();
        let got: Vec<&str> = batch.iter().map(|(id, _)| id.as_str()).collect();
        assert_eq!(got, [first.as_str(), second.as_str()], "watch {watch}");
        let watched = super::super::watch::is_watched(dir_key(dir.path()));
        // Where inotify cannot be had (not local, no instance left) even
        // the default lists: only "never watched when told not to" is
        // certain everywhere.
        if !watch {
            assert!(!watched, "watch_queues(false) must not watch the queue");
        }
    }
}

/// A lock holder's batch (`get_pending_batch` of an `FsBackend`) keeps the
/// descriptors its entries were read through, and its removal pins each
/// entry with that one instead of opening it again; a reader that may not
/// remove (`get_next_pending`) keeps none, and `close_idle` closes what a
/// batch kept and never removed.
#[test]
fn a_batch_removal_pins_with_the_descriptors_the_batch_was_read_through() {
    use reedbase_concurrent_core::QueueBackend as _;
    for durability in [Durability::Durable, Durability::Relaxed] {
        let dir = tempfile::tempdir().unwrap();
        let backend =
            crate::FsBackend::with_options(dir.path(), FsOptions::new().durability(durability));
        let write = |n: usize| {
            backend
                .queue_write("t", &sample_write(&format!("k{n}"), 1))
                .unwrap()
        };
        let ids: Vec<String> = (0..3).map(write).collect();
        let key = dir_key(dir.path());
        assert_eq!(backend.get_pending_batch("t", 10).unwrap().len(), 3);
        assert_eq!(kept_reads_of(key), 3, "one descriptor kept per entry");
        let opened = || PINNED.with(std::cell::Cell::get);
        let before = opened();
        backend.remove_batch_from_queue("t", &ids).unwrap();
        assert_eq!(opened(), before, "no entry opened again to pin it");
        assert_eq!(kept_reads_of(key), 0, "each handed over at its removal");
        assert_eq!(backend.count_pending("t").unwrap(), 0);

        let id = write(3);
        let head = backend.get_next_pending("t").unwrap().unwrap();
        assert_eq!(head.0, id);
        assert_eq!(kept_reads_of(key), 0, "a single read keeps nothing");
        assert_eq!(backend.get_pending_batch("t", 10).unwrap().len(), 1);
        assert_eq!(kept_reads_of(key), 1);
        backend.close_idle();
        assert_eq!(kept_reads_of(key), 0, "closed by close_idle");
        // Removed without a kept descriptor: pinned by one opened for it.
        backend.remove_batch_from_queue("t", &[id]).unwrap();
        assert_eq!(opened(), before + 1);
        assert_eq!(backend.count_pending("t").unwrap(), 0);
    }
}
