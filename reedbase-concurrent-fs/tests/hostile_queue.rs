// SPDX-License-Identifier: Apache-2.0
//! The queue against a hostile directory and bad input: an entry swapped
//! for a FIFO after the listing cannot hang the reader; a legacy entry
//! dated in the future is moved aside after a bounded grace; a crafted
//! sequence number cannot make later writes fail; a full or read-only disk
//! leaves readable entries readable and holds up nothing; bad names and
//! rows touch nothing on disk. The cases that mount a file system need root (see `mounts`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod mounts;

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_core::{CsvRow, LockBackend, PendingWrite, QueueBackend, WriteOperation};
use reedbase_concurrent_fs::{
    Durability, FsBackend, FsOptions, count_pending, get_next_pending, moved_aside, queue_write,
};

use mounts::{Mount, fill, have_root};

const TABLE: &str = "users";

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(key, vec!["value"])],
    )
}

fn queue_dir(base: &Path) -> PathBuf {
    base.join("tables").join(TABLE).join("queue")
}

/// A sequenced entry name of sequence `n`.
fn entry_name(n: u128) -> String {
    format!("{n:020}-0123456789abcdef0123456789abcdef.pending")
}

#[test]
fn a_legacy_entry_dated_in_the_future_is_moved_aside_after_a_bounded_grace() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path());
    fs::create_dir_all(&queue).unwrap();
    let legacy = queue.join("6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11.pending");
    fs::write(&legacy, b"{\"rows\":[{\"key\":\"k\",\"val").unwrap();
    let future = SystemTime::now() + Duration::from_secs(3600);
    File::options()
        .write(true)
        .open(&legacy)
        .unwrap()
        .set_modified(future)
        .unwrap();
    let good = queue_write(dir.path(), TABLE, write("good")).unwrap();
    assert_eq!(
        get_next_pending(dir.path(), TABLE).unwrap().unwrap().0,
        good
    );
    assert!(legacy.exists(), "at first it may still be being written");
    thread::sleep(Duration::from_millis(2_300));
    assert_eq!(
        get_next_pending(dir.path(), TABLE).unwrap().unwrap().0,
        good
    );
    assert!(!legacy.exists(), "still held back after the grace");
    let moved = moved_aside(dir.path(), TABLE).unwrap();
    assert_eq!(moved[0].id, "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11");
    assert_eq!(
        count_pending(dir.path(), TABLE).unwrap(),
        1,
        "it no longer holds capacity"
    );
}

#[test]
fn a_crafted_extreme_sequence_number_does_not_make_later_writes_fail() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path());
    fs::create_dir_all(&queue).unwrap();
    let crafted = entry_name(99_999_999_999_999_999_999);
    fs::write(
        queue.join(&crafted),
        serde_json::to_vec(&write("crafted")).unwrap(),
    )
    .unwrap();
    let first = queue_write(dir.path(), TABLE, write("first")).unwrap();
    let second = queue_write(dir.path(), TABLE, write("second")).unwrap();
    assert!(first.starts_with("00000000000000000000-"), "{first}");
    assert!(second > first);
    assert_eq!(
        get_next_pending(dir.path(), TABLE).unwrap().unwrap().0,
        first
    );
    let moved = moved_aside(dir.path(), TABLE).unwrap();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(crafted.starts_with(&moved[0].id));
    assert!(
        moved[0].reason.contains("crafted or damaged"),
        "{}",
        moved[0].reason
    );
}

#[test]
fn a_sequence_above_what_producers_write_is_moved_aside_by_readers_too() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path());
    fs::create_dir_all(&queue).unwrap();
    fs::write(
        queue.join(entry_name(10_000_000_000_000_000_000)),
        serde_json::to_vec(&write("x")).unwrap(),
    )
    .unwrap();
    assert_eq!(get_next_pending(dir.path(), TABLE).unwrap(), None);
    assert_eq!(moved_aside(dir.path(), TABLE).unwrap().len(), 1);
}

#[test]
fn invisible_spaced_or_control_names_and_rows_touch_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    for name in [
        "a\u{202E}b",
        "a\u{200B}b",
        "\u{2066}users",
        " users",
        "users ",
        "us\u{0}ers",
        "us\u{1b}ers",
    ] {
        assert!(
            backend
                .acquire_lock(name, Duration::ZERO)
                .unwrap_err()
                .is_invalid_input(),
            "{name:?}"
        );
        assert!(
            backend.is_locked(name).unwrap_err().is_invalid_input(),
            "{name:?}"
        );
        assert!(
            backend
                .queue_write(name, &write("k"))
                .unwrap_err()
                .is_invalid_input(),
            "{name:?}"
        );
        assert!(
            backend
                .get_next_pending(name)
                .unwrap_err()
                .is_invalid_input(),
            "{name:?}"
        );
    }
    for value in [
        "nul\u{0}",
        "escape\u{1b}",
        "del\u{7f}",
        "next line\u{85}",
        "a|b",
        "two\nlines",
    ] {
        let row = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec![value])]);
        assert!(
            backend
                .queue_write(TABLE, &row)
                .unwrap_err()
                .is_invalid_input(),
            "{value:?}"
        );
    }
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "something was created"
    );
}

#[test]
fn an_entry_swapped_for_a_fifo_after_the_listing_does_not_hang_the_reader() {
    if !have_root("an_entry_swapped_for_a_fifo_after_the_listing_does_not_hang_the_reader") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path());
    fs::create_dir_all(&queue).unwrap();
    // A FIFO bind-mounted over an entry: the listing says "regular file"
    // (the directory's own entry), opening the name reaches the FIFO, as
    // after a swap between listing and reading.
    let entry = queue.join(entry_name(0));
    fs::write(&entry, serde_json::to_vec(&write("covered")).unwrap()).unwrap();
    let fifo = dir.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let _mount = Mount::bind(&fifo, &entry);
    let good = queue_write(dir.path(), TABLE, write("good")).unwrap();
    let (done, outcome) = mpsc::channel();
    let base = dir.path().to_path_buf();
    thread::spawn(move || {
        let _ = done.send(get_next_pending(&base, TABLE).map(|next| next.map(|(id, _)| id)));
    });
    let next = match outcome.recv_timeout(Duration::from_secs(10)) {
        Ok(next) => next,
        Err(_) => {
            // Release the reader blocked in open(): a writer opens the FIFO.
            let _writer = File::options().write(true).open(&fifo);
            panic!("get_next_pending blocked on an entry that is a FIFO");
        }
    };
    assert_eq!(next.unwrap(), Some(good));
    let moved = moved_aside(dir.path(), TABLE).unwrap();
    assert!(moved.iter().any(|m| m.reason.contains("FIFO")), "{moved:?}");
}

#[test]
fn a_full_disk_skips_the_entry_it_cannot_move_and_delivers_the_rest() {
    if !have_root("a_full_disk_skips_the_entry_it_cannot_move_and_delivers_the_rest") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let _mount = Mount::tmpfs(dir.path(), "256k");
    let base = dir.path().join("base");
    let relaxed = FsOptions::new().durability(Durability::Relaxed);
    let backend = FsBackend::with_options(&base, relaxed);
    let torn = backend.queue_write(TABLE, &write("torn")).unwrap();
    let good = backend.queue_write(TABLE, &write("good")).unwrap();
    fs::write(queue_dir(&base).join(format!("{torn}.pending")), b"{ torn").unwrap();
    let filler = fill(dir.path());
    let next = backend.get_next_pending(TABLE).unwrap().map(|(id, _)| id);
    assert_eq!(
        next,
        Some(good.clone()),
        "the good entry behind it was not delivered"
    );
    let moved = backend.moved_aside(TABLE).unwrap();
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert!(
        moved[0].reason.contains("could not be moved aside"),
        "{}",
        moved[0].reason
    );
    assert_eq!(
        Path::new(&moved[0].location),
        queue_dir(&base).join(format!("{torn}.pending"))
    );
    assert_eq!(backend.count_pending(TABLE).unwrap(), 2);
    // With room again, it is moved aside like any corrupt entry.
    fs::remove_file(filler).unwrap();
    assert_eq!(
        backend.get_next_pending(TABLE).unwrap().map(|(id, _)| id),
        Some(good)
    );
    let moved = backend.moved_aside(TABLE).unwrap();
    assert!(moved[0].location.contains("corrupt"), "{moved:?}");
}

#[test]
fn a_read_only_disk_leaves_readable_entries_readable() {
    if !have_root("a_read_only_disk_leaves_readable_entries_readable") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mount = Mount::tmpfs(dir.path(), "1m");
    let base = dir.path().join("base");
    let backend = FsBackend::new(&base);
    let torn = backend.queue_write(TABLE, &write("torn")).unwrap();
    let good = backend.queue_write(TABLE, &write("good")).unwrap();
    fs::write(queue_dir(&base).join(format!("{torn}.pending")), b"{ torn").unwrap();
    drop(backend.acquire_lock(TABLE, Duration::ZERO).unwrap());
    // The backend keeps the lock's files open for its next acquisition (a
    // file open for writing keeps a remount read-only busy): an operator
    // closes them first.
    backend.close_idle();
    mount.remount_read_only();
    let backend = FsBackend::new(&base);
    let next = backend.get_next_pending(TABLE).unwrap().map(|(id, _)| id);
    assert_eq!(next, Some(good));
    assert_eq!(backend.count_pending(TABLE).unwrap(), 2);
    assert!(!backend.is_locked(TABLE).unwrap());
    // A probe that cannot open `write.lock` for writing (to keep it) probes
    // through a read-only opening, every time.
    assert!(!backend.is_locked(TABLE).unwrap(), "probed again");
    let moved = backend.moved_aside(TABLE).unwrap();
    assert!(
        moved
            .iter()
            .any(|m| m.id == torn && m.reason.contains("could not be moved aside")),
        "{moved:?}"
    );
    let refused = backend.queue_write(TABLE, &write("new")).unwrap_err();
    assert!(refused.io_kind().is_some(), "{refused}");
}
