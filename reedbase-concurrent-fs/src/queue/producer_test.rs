// SPDX-License-Identifier: Apache-2.0
use std::fs;
use std::io;

use reedbase_concurrent_core::{CsvRow, PendingWrite, ReedError, WriteOperation};

use crate::options::{Codec, Durability, FsOptions};
use crate::queue::entry_id::{parse_sequence, temporary_file_name};
use crate::queue::test_support::{drain, file_names, queue_dir, relaxed, sample_write};
use crate::queue::{
    count_pending, get_next_pending, queue_write, queue_write_with, remove_from_queue,
};

#[test]
fn hundred_back_to_back_writes_drain_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let options = FsOptions::new().capacity(1000);
    let mut queued = Vec::new();
    for n in 0..100 {
        let write = sample_write(&format!("w{n}"), 1);
        let id = queue_write_with(dir.path(), "t", &write, &options).unwrap();
        queued.push((id, write));
    }
    assert_eq!(count_pending(dir.path(), "t").unwrap(), 100);
    assert_eq!(drain(dir.path(), "t"), queued);
    let sequences: Vec<_> = queued
        .iter()
        .map(|(id, _)| parse_sequence(id).unwrap())
        .collect();
    assert_eq!(sequences, (0..100).collect::<Vec<u128>>());
}

#[test]
fn the_default_free_function_writes_durable_json() {
    let dir = tempfile::tempdir().unwrap();
    let write = sample_write("k", 1);
    let id = queue_write(dir.path(), "t", write.clone()).unwrap();
    let bytes = fs::read(queue_dir(dir.path(), "t").join(format!("{id}.pending"))).unwrap();
    assert_eq!(bytes, serde_json::to_vec(&write).unwrap());
}

#[test]
fn capacity_is_exact_and_frees_up_on_removal() {
    let dir = tempfile::tempdir().unwrap();
    let options = relaxed().capacity(3);
    let ids: Vec<String> = (0..3)
        .map(|n| {
            queue_write_with(dir.path(), "t", &sample_write(&n.to_string(), 1), &options).unwrap()
        })
        .collect();
    let full = queue_write_with(dir.path(), "t", &sample_write("x", 1), &options).unwrap_err();
    assert!(
        matches!(&full, ReedError::QueueFull { table, size: 3 } if table == "t"),
        "{full:?}"
    );
    remove_from_queue(dir.path(), "t", &ids[1]).unwrap();
    let next = queue_write_with(dir.path(), "t", &sample_write("y", 1), &options).unwrap();
    assert!(next > ids[2], "a new id sorts after every pending one");
    assert_eq!(count_pending(dir.path(), "t").unwrap(), 3);
}

#[test]
fn the_first_write_after_a_drain_restarts_the_sequence_with_a_fresh_id() {
    let dir = tempfile::tempdir().unwrap();
    let first = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    remove_from_queue(dir.path(), "t", &first).unwrap();
    let second = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    assert_eq!(parse_sequence(&first), parse_sequence(&second));
    assert_ne!(first, second, "ids are never reused");
}

/// A temporary with a name no producer would pick (so it cannot be the
/// temporary of a live write in this test).
fn planted_temporary(queue: &std::path::Path, tag: &str) -> std::path::PathBuf {
    queue.join(temporary_file_name(&format!("planted{tag}")))
}

#[test]
fn abandoned_temporaries_are_swept_by_the_next_producer_that_lists() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let listing = relaxed().watch_queues(false);
    queue_write_with(dir.path(), "t", &sample_write("a", 1), &listing).unwrap();
    let abandoned = planted_temporary(&queue, "a");
    fs::write(&abandoned, b"{\"rows\":[{\"key\":").unwrap();
    let unrelated = queue.join("notes.txt");
    fs::write(&unrelated, b"kept").unwrap();
    assert_eq!(
        count_pending(dir.path(), "t").unwrap(),
        1,
        "a temporary is not an entry"
    );
    assert_eq!(
        get_next_pending(dir.path(), "t").unwrap().unwrap().1,
        sample_write("a", 1)
    );
    queue_write_with(dir.path(), "t", &sample_write("b", 1), &listing).unwrap();
    assert!(!abandoned.exists());
    assert!(unrelated.exists());
    assert_eq!(count_pending(dir.path(), "t").unwrap(), 2);
    assert!(
        file_names(&queue)
            .iter()
            .all(|name| !name.ends_with(".tmp"))
    );
}

#[test]
fn with_the_watch_a_temporary_is_swept_once_it_is_stale() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let options = relaxed();
    queue_write_with(dir.path(), "t", &sample_write("a", 1), &options).unwrap();
    let abandoned = planted_temporary(&queue, "w");
    fs::write(&abandoned, b"half").unwrap();
    // The next write counts it (and, not stale yet, leaves it).
    queue_write_with(dir.path(), "t", &sample_write("b", 1), &options).unwrap();
    let watched = super::watch::is_watched(dir_key(&queue));
    if watched {
        assert!(
            abandoned.exists(),
            "a temporary is not swept at first sight"
        );
    }
    // Let the watch count it for longer than STALE_TEMPORARY (100 ms in
    // tests): the next write lists and sweeps.
    std::thread::sleep(super::STALE_TEMPORARY * 2);
    queue_write_with(dir.path(), "t", &sample_write("c", 1), &options).unwrap();
    if watched {
        assert!(!abandoned.exists(), "a stale temporary is swept");
    }
    assert_eq!(drain(dir.path(), "t").len(), 3);
}

#[test]
fn a_temporary_whose_producer_holds_its_lock_is_never_swept() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let listing = relaxed().watch_queues(false);
    queue_write_with(dir.path(), "t", &sample_write("a", 1), &listing).unwrap();
    let live = planted_temporary(&queue, "live");
    let file = fs::File::create(&live).unwrap();
    fs2::FileExt::try_lock_exclusive(&file).unwrap();
    // Written once locked, as a producer does: unlocked, it is abandoned
    // at once (an empty one may be a producer's about to be locked).
    io::Write::write_all(&mut &file, b"{\"rows\":[").unwrap();
    queue_write_with(dir.path(), "t", &sample_write("b", 1), &listing).unwrap();
    assert!(live.exists(), "a live producer's temporary was swept");
    fs2::FileExt::unlock(&file).unwrap();
    queue_write_with(dir.path(), "t", &sample_write("c", 1), &listing).unwrap();
    assert!(!live.exists(), "unlocked, it is abandoned");
    drop(file);
    assert_eq!(drain(dir.path(), "t").len(), 3);
}

#[test]
fn odd_files_named_like_temporaries_stop_no_write() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let listing = relaxed().watch_queues(false);
    queue_write_with(dir.path(), "t", &sample_write("a", 1), &listing).unwrap();
    let outside = dir.path().join("outside.txt");
    fs::write(&outside, b"not ours").unwrap();
    let link = planted_temporary(&queue, "link");
    symlink(&outside, &link).unwrap();
    let directory = planted_temporary(&queue, "dir");
    fs::create_dir(&directory).unwrap();
    fs::write(directory.join("inside"), b"x").unwrap();
    queue_write_with(dir.path(), "t", &sample_write("b", 1), &listing).unwrap();
    assert!(fs::symlink_metadata(&link).is_err(), "the link is removed");
    assert_eq!(
        fs::read(&outside).unwrap(),
        b"not ours",
        "its target is not"
    );
    assert!(directory.join("inside").exists(), "a directory is left");
    assert_eq!(drain(dir.path(), "t").len(), 2);
}

#[test]
fn a_refused_write_leaves_no_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let options = relaxed().capacity(1);
    queue_write_with(dir.path(), "t", &sample_write("a", 1), &options).unwrap();
    let error = queue_write_with(dir.path(), "t", &sample_write("b", 1), &options).unwrap_err();
    assert!(error.is_queue_full(), "{error}");
    assert!(
        file_names(&queue)
            .iter()
            .all(|name| !name.ends_with(".tmp")),
        "{:?}",
        file_names(&queue)
    );
}

/// The queue directory's device and inode.
fn dir_key(queue: &std::path::Path) -> (u64, u64) {
    use std::os::unix::fs::MetadataExt as _;
    let meta = fs::metadata(queue).unwrap();
    (meta.dev(), meta.ino())
}

#[test]
fn durable_and_relaxed_write_identical_entries() {
    let dir = tempfile::tempdir().unwrap();
    let write = sample_write("k", 5);
    for codec in [Codec::Json, Codec::Postcard] {
        let mut contents = Vec::new();
        for durability in [Durability::Durable, Durability::Relaxed] {
            let table = format!("t{codec:?}{durability:?}");
            let options = FsOptions::new().durability(durability).codec(codec);
            let id = queue_write_with(dir.path(), &table, &write, &options).unwrap();
            let queue = queue_dir(dir.path(), &table);
            contents.push(fs::read(queue.join(format!("{id}.pending"))).unwrap());
            assert_eq!(file_names(&queue), vec![format!("{id}.pending")]);
            assert_eq!(
                get_next_pending(dir.path(), &table).unwrap(),
                Some((id, write.clone()))
            );
        }
        assert_eq!(contents[0], contents[1], "{codec:?}");
    }
}

#[test]
fn a_base_path_that_is_a_file_fails_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    fs::write(&base, b"not a directory").unwrap();
    let err = queue_write(&base, "t", sample_write("k", 1)).unwrap_err();
    match &err {
        ReedError::IoError { path, kind, .. } => {
            assert!(path.starts_with(&base), "{err}");
            assert_ne!(*kind, io::ErrorKind::NotFound, "{err}");
        }
        other => panic!("expected an I/O error, got {other:?}"),
    }
    assert!(
        get_next_pending(&base, "t")
            .unwrap_err()
            .io_kind()
            .is_some()
    );
    assert!(count_pending(&base, "t").unwrap_err().io_kind().is_some());
    let removed = remove_from_queue(
        &base,
        "t",
        "00000000000000000000-0123456789abcdef0123456789abcdef",
    );
    assert!(removed.unwrap_err().io_kind().is_some());
    assert_eq!(fs::read(&base).unwrap(), b"not a directory");
}

#[test]
fn bad_table_names_and_rows_are_refused_before_anything_is_created() {
    let dir = tempfile::tempdir().unwrap();
    for table in ["../escape", "/abs", "", "a/b", ".hidden"] {
        let err = queue_write(dir.path(), table, sample_write("k", 1)).unwrap_err();
        assert!(err.is_invalid_input(), "{table:?}: {err:?}");
        assert!(
            get_next_pending(dir.path(), table)
                .unwrap_err()
                .is_invalid_input()
        );
        assert!(
            count_pending(dir.path(), table)
                .unwrap_err()
                .is_invalid_input()
        );
    }
    let bad_row = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["a|b"])]);
    assert!(
        queue_write(dir.path(), "t", bad_row)
            .unwrap_err()
            .is_invalid_input()
    );
    assert!(
        file_names(dir.path()).is_empty(),
        "{:?}",
        file_names(dir.path())
    );
}

#[test]
fn reading_a_queue_that_was_never_used_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap(), None);
    assert_eq!(count_pending(dir.path(), "t").unwrap(), 0);
    assert_eq!(
        crate::queue::moved_aside(dir.path(), "t").unwrap(),
        Vec::new()
    );
    assert!(file_names(dir.path()).is_empty());
}

#[test]
fn capacity_follows_entries_added_and_deleted_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let options = relaxed().capacity(3);
    let write = |tag: &str| queue_write_with(dir.path(), "t", &sample_write(tag, 1), &options);
    let ids: Vec<String> = (0..3).map(|n| write(&n.to_string()).unwrap()).collect();
    assert!(write("x").unwrap_err().is_queue_full());
    fs::remove_file(queue.join(format!("{}.pending", ids[1]))).unwrap();
    let fourth = write("y").unwrap();
    assert!(fourth > ids[2], "numbered after every pending entry");
    assert!(write("z").unwrap_err().is_queue_full());
    fs::remove_file(queue.join(format!("{}.pending", ids[0]))).unwrap();
    let legacy = queue.join("0b5c1e8f-9d0a-4c6e-8e7f-1a2b3c4d5e6f.pending");
    fs::write(&legacy, b"{}").unwrap();
    assert!(
        write("w").unwrap_err().is_queue_full(),
        "an old-module entry counts"
    );
    fs::remove_file(&legacy).unwrap();
    write("v").unwrap();
    assert_eq!(count_pending(dir.path(), "t").unwrap(), 3);
}

#[test]
fn a_write_whose_temporary_was_swept_is_written_again_numbered_after_the_queue() {
    // Only a named temporary can be swept (an anonymous one has no name).
    crate::queue::staged::NAMED_ONLY.with(|named| named.set(true));
    for watch in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let options = relaxed().capacity(4).watch_queues(watch);
        let mut ids = Vec::new();
        for n in 0..3 {
            ids.push(
                queue_write_with(dir.path(), "t", &sample_write("a", n + 1), &options).unwrap(),
            );
        }
        crate::queue::staged::SWEEP_BEFORE_PUBLISH.with(|left| left.set(1));
        let again = queue_write_with(dir.path(), "t", &sample_write("b", 1), &options).unwrap();
        assert_eq!(
            crate::queue::staged::SWEEP_BEFORE_PUBLISH.with(std::cell::Cell::get),
            0
        );
        assert_eq!(
            parse_sequence(&again),
            Some(3),
            "watch {watch}: numbered after the queue"
        );
        crate::queue::staged::SWEEP_BEFORE_PUBLISH.with(|left| left.set(1));
        let full = queue_write_with(dir.path(), "t", &sample_write("c", 1), &options).unwrap_err();
        assert!(full.is_queue_full(), "watch {watch}: {full}");
        crate::queue::staged::SWEEP_BEFORE_PUBLISH.with(|left| left.set(0));
        ids.push(again);
        let drained: Vec<String> = drain(dir.path(), "t")
            .into_iter()
            .map(|(id, _)| id)
            .collect();
        assert_eq!(drained, ids, "watch {watch}");
        assert!(
            file_names(&queue_dir(dir.path(), "t"))
                .iter()
                .all(|name| !name.ends_with(".tmp"))
        );
    }
}

#[test]
fn a_write_to_a_queue_the_watch_counts_full_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let options = relaxed().capacity(2);
    queue_write_with(dir.path(), "t", &sample_write("a", 1), &options).unwrap();
    queue_write_with(dir.path(), "t", &sample_write("b", 1), &options).unwrap();
    let key = dir_key(&queue_dir(dir.path(), "t"));
    if !super::watch::is_watched(key) {
        return; // no inotify here: every write lists, as tested elsewhere
    }
    let before = crate::queue::staged::STAGED.with(std::cell::Cell::get);
    let full = queue_write_with(dir.path(), "t", &sample_write("c", 1), &options).unwrap_err();
    assert!(full.is_queue_full(), "{full}");
    assert_eq!(
        crate::queue::staged::STAGED.with(std::cell::Cell::get),
        before,
        "a refused write made a temporary"
    );
    // Room again: the next write goes through.
    let first = get_next_pending(dir.path(), "t").unwrap().unwrap().0;
    remove_from_queue(dir.path(), "t", &first).unwrap();
    queue_write_with(dir.path(), "t", &sample_write("c", 1), &options).unwrap();
    assert_eq!(count_pending(dir.path(), "t").unwrap(), 2);
}

#[test]
fn a_failed_directory_fsync_after_the_rename_leaves_the_entry_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let options = FsOptions::new().durability(Durability::Durable);
    super::FAIL_SYNC_DIR.with(|left| left.set(1));
    let error = queue_write_with(dir.path(), "t", &sample_write("a", 1), &options).unwrap_err();
    let ReedError::QueueOutcomeUnknown { queue_id, .. } = &error else {
        panic!("a failed fsync after the rename reported {error:?}");
    };
    // Visible from the rename on (a consumer may have applied it): kept.
    let (head, _) = get_next_pending(dir.path(), "t").unwrap().unwrap();
    assert_eq!(&head, queue_id);
    assert!(
        error.to_string().contains("do not queue it again"),
        "{error}"
    );
}

#[test]
fn queue_write_unless_asks_with_the_entry_written_unseen_and_leaves_no_temporary() {
    use reedbase_concurrent_core::QueueBackend;
    let modes = [Durability::Durable, Durability::Relaxed]
        .into_iter()
        .flat_map(|durability| [(durability, false), (durability, true)]);
    for (durability, named) in modes {
        crate::queue::staged::NAMED_ONLY.with(|only| only.set(named));
        for take in [true, false] {
            let what = format!("{durability:?}, named {named}, instead says {take}");
            let staged_before = crate::queue::staged::STAGED.with(std::cell::Cell::get);
            let mut staged_when_asked = 0;
            let dir = tempfile::tempdir().unwrap();
            let backend =
                crate::FsBackend::with_options(dir.path(), FsOptions::new().durability(durability));
            let queue = queue_dir(dir.path(), "t");
            let write = sample_write("k", 3);
            let (mut temporaries, mut pending) = (Vec::new(), Vec::new());
            let got = backend
                .queue_write_unless("t", &write, &mut || {
                    staged_when_asked = crate::queue::staged::STAGED.with(std::cell::Cell::get);
                    for name in file_names(&queue) {
                        if name.ends_with(".tmp") {
                            temporaries.push(fs::read(queue.join(&name)).unwrap());
                        } else if name.ends_with(".pending") {
                            pending.push(name);
                        }
                    }
                    take
                })
                .unwrap();
            assert_eq!(
                staged_when_asked,
                staged_before + 1,
                "{what}: asked with the entry staged"
            );
            // Anonymous staging (`O_TMPFILE`) shows no name at all.
            let expected = if named {
                vec![serde_json::to_vec(&write).unwrap()]
            } else {
                Vec::new()
            };
            assert_eq!(
                temporaries, expected,
                "{what}: asked with the whole entry written, under a temporary name when named"
            );
            assert!(
                pending.is_empty(),
                "{what}: nothing visible yet: {pending:?}"
            );
            let names = file_names(&queue);
            assert!(
                names.iter().all(|name| !name.ends_with(".tmp")),
                "{what}: no temporary left: {names:?}"
            );
            match got {
                None => {
                    assert!(take, "{what}: queued nothing although told to queue");
                    assert_eq!(backend.count_pending("t").unwrap(), 0, "{what}");
                }
                Some(id) => {
                    assert!(!take, "{what}: queued although told not to");
                    assert_eq!(
                        backend.get_next_pending("t").unwrap(),
                        Some((id, write)),
                        "{what}"
                    );
                }
            }
        }
    }
    crate::queue::staged::NAMED_ONLY.with(|only| only.set(false));
}

/// The watch's count of entries in the queue directory `queue`, after the
/// events queued so far are read; `None` when this process does not watch
/// it (no inotify here: every write lists, as tested elsewhere).
fn watched_count(queue: &std::path::Path) -> Option<Option<usize>> {
    use std::os::fd::AsFd as _;
    let key = dir_key(queue);
    if !super::watch::is_watched(key) {
        return None;
    }
    let opened = fs::File::open(queue).unwrap();
    super::watch::with_dir(opened.as_fd(), key, |w| w.counts.map(|c| c.pending))
}

#[test]
fn a_removal_here_takes_its_entry_off_the_watch_count_and_one_by_hand_does_not() {
    let dir = tempfile::tempdir().unwrap();
    let options = relaxed().capacity(10);
    let write = |tag: &str| queue_write_with(dir.path(), "t", &sample_write(tag, 1), &options);
    let ids: Vec<String> = (0..4).map(|n| write(&n.to_string()).unwrap()).collect();
    let queue = queue_dir(dir.path(), "t");
    let Some(first) = watched_count(&queue) else {
        return;
    };
    let pending = || watched_count(&queue).flatten();
    assert_eq!(first, Some(4));
    // Through the free function and through a backend.
    remove_from_queue(dir.path(), "t", &ids[0]).unwrap();
    assert_eq!(pending(), Some(3));
    let backend = crate::FsBackend::with_options(dir.path(), options);
    reedbase_concurrent_core::QueueBackend::remove_from_queue(&backend, "t", &ids[1]).unwrap();
    assert_eq!(pending(), Some(2));
    // Not pending (removed already): nothing taken off.
    assert!(remove_from_queue(dir.path(), "t", &ids[1]).is_err());
    assert_eq!(pending(), Some(2));
    // By hand: the kernel reports no deletion; the count stays above the
    // truth until a listing, and the capacity stays exact.
    fs::remove_file(queue.join(format!("{}.pending", ids[2]))).unwrap();
    assert_eq!(pending(), Some(2));
    let more: usize = (0..20).map_while(|n| write(&format!("m{n}")).ok()).count();
    assert_eq!(more, 9, "capacity 10, one pending");
}

#[test]
fn a_write_removed_before_its_arrival_was_read_keeps_the_count() {
    // The removal here comes before any call read the write's arrival:
    // taken off a count of none, it must not make the counts forgotten
    // (every later write would list).
    let dir = tempfile::tempdir().unwrap();
    let options = relaxed().capacity(10);
    let write = || queue_write_with(dir.path(), "t", &sample_write("a", 1), &options).unwrap();
    remove_from_queue(dir.path(), "t", &write()).unwrap();
    let queue = queue_dir(dir.path(), "t");
    if watched_count(&queue).is_none() {
        return;
    }
    let pending = || watched_count(&queue).flatten();
    for _ in 0..3 {
        remove_from_queue(dir.path(), "t", &write()).unwrap();
        assert_eq!(pending(), Some(0));
    }
    let ids = [write(), write()];
    remove_from_queue(dir.path(), "t", &ids[1]).unwrap();
    remove_from_queue(dir.path(), "t", &ids[0]).unwrap();
    assert_eq!(pending(), Some(0));
}
