// SPDX-License-Identifier: Apache-2.0
//! Links and odd files in the base directory: nothing at or below
//! `<base>/tables` is followed, written through or waited on. A symbolic link, hard link, FIFO,
//! socket or directory where a directory or a lock file is expected gives a
//! clear `IoError` at once naming the path and what was found, and nothing
//! outside the base directory is created, written or deleted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use reedbase_concurrent_core::{CsvRow, PendingWrite, ReedError, WriteOperation};
use reedbase_concurrent_fs::{
    acquire_lock, count_pending, get_next_pending, is_locked, lock_holder, moved_aside,
    queue_write, remove_from_queue, try_acquire_lock, wait_for_unlock,
};

const TABLE: &str = "users";
/// A call that has not returned by then is taken to block for ever.
const HANG: Duration = Duration::from_secs(10);

fn write() -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new("user:1", vec!["Alice"])],
    )
}

/// Runs `call` on a thread; fails the test if it does not return within
/// [`HANG`] (the thread is left blocked, and dies with the process), and
/// passes a panic of `call` on.
fn returns<T: Send + 'static>(what: &str, call: impl FnOnce() -> T + Send + 'static) -> T {
    let (done, result) = mpsc::channel();
    let worker = thread::spawn(move || {
        let _ = done.send(call());
    });
    match result.recv_timeout(HANG) {
        Ok(value) => value,
        Err(mpsc::RecvTimeoutError::Timeout) => {
            panic!("{what} did not return within {HANG:?}: it blocks")
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => match worker.join() {
            Err(panic) => std::panic::resume_unwind(panic),
            Ok(()) => panic!("{what} ended without a result"),
        },
    }
}

/// Checks that `error` is an `IoError` naming `path` and saying `found`.
#[track_caller]
fn assert_refused(error: ReedError, path: &Path, found: &str) {
    match &error {
        ReedError::IoError {
            path: at, reason, ..
        } => {
            assert_eq!(at, path, "{error}");
            assert!(reason.contains(found), "{error}");
        }
        other => panic!("expected an IoError naming {}, got {other}", path.display()),
    }
}

/// Every lock operation on `base`, each refused naming `path` and `found`.
fn assert_lock_calls_refused(base: &Path, path: &Path, found: &str) {
    let timeout = Duration::from_millis(100);
    let (b, p, f) = (base.to_path_buf(), path.to_path_buf(), found.to_string());
    returns("the lock calls", move || {
        assert_refused(acquire_lock(&b, TABLE, timeout).unwrap_err(), &p, &f);
        assert_refused(try_acquire_lock(&b, TABLE).unwrap_err(), &p, &f);
        assert_refused(is_locked(&b, TABLE).unwrap_err(), &p, &f);
        assert_refused(wait_for_unlock(&b, TABLE, timeout).unwrap_err(), &p, &f);
        assert_refused(lock_holder(&b, TABLE).unwrap_err(), &p, &f);
    });
}

/// Every queue operation on `base`, each refused naming `path` and `found`.
fn assert_queue_calls_refused(base: &Path, path: &Path, found: &str) {
    let id = "00000000000000000000-0123456789abcdef0123456789abcdef";
    assert_refused(queue_write(base, TABLE, write()).unwrap_err(), path, found);
    assert_refused(get_next_pending(base, TABLE).unwrap_err(), path, found);
    assert_refused(count_pending(base, TABLE).unwrap_err(), path, found);
    assert_refused(remove_from_queue(base, TABLE, id).unwrap_err(), path, found);
}

/// A directory outside the base, and a check that it stayed empty.
struct Outside(tempfile::TempDir);

impl Outside {
    fn new() -> Self {
        Outside(tempfile::tempdir().unwrap())
    }
    fn path(&self) -> &Path {
        self.0.path()
    }
    fn assert_untouched(&self) {
        let names: Vec<PathBuf> = fs::read_dir(self.path())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        assert!(names.is_empty(), "created outside the base: {names:?}");
    }
}

const LINK: &str = "is a symbolic link; links below";

#[test]
fn a_link_in_place_of_tables_is_refused() {
    let (dir, outside) = (tempfile::tempdir().unwrap(), Outside::new());
    symlink(outside.path(), dir.path().join("tables")).unwrap();
    let tables = dir.path().join("tables");
    assert_lock_calls_refused(dir.path(), &tables, LINK);
    assert_queue_calls_refused(dir.path(), &tables, LINK);
    outside.assert_untouched();
}

#[test]
fn a_link_in_place_of_a_table_directory_is_refused() {
    let (dir, outside) = (tempfile::tempdir().unwrap(), Outside::new());
    fs::create_dir(dir.path().join("tables")).unwrap();
    let table = dir.path().join("tables").join(TABLE);
    symlink(outside.path(), &table).unwrap();
    assert_lock_calls_refused(dir.path(), &table, LINK);
    assert_queue_calls_refused(dir.path(), &table, LINK);
    outside.assert_untouched();
}

#[test]
fn a_link_in_place_of_the_queue_directory_is_refused() {
    let (dir, outside) = (tempfile::tempdir().unwrap(), Outside::new());
    let queue = dir.path().join("tables").join(TABLE).join("queue");
    fs::create_dir_all(queue.parent().unwrap()).unwrap();
    symlink(outside.path(), &queue).unwrap();
    assert_queue_calls_refused(dir.path(), &queue, LINK);
    outside.assert_untouched();
}

#[test]
fn a_write_lock_linked_to_a_file_outside_is_never_written() {
    let (dir, outside) = (tempfile::tempdir().unwrap(), Outside::new());
    let precious = outside.path().join("precious");
    fs::write(&precious, b"keep me").unwrap();
    let lock = dir.path().join("tables").join(TABLE).join("write.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    symlink(&precious, &lock).unwrap();
    assert_lock_calls_refused(dir.path(), &lock, LINK);
    assert_eq!(fs::read(&precious).unwrap(), b"keep me");
    // A dangling link is not followed to create its target either.
    fs::remove_file(&lock).unwrap();
    symlink(outside.path().join("created"), &lock).unwrap();
    assert_lock_calls_refused(dir.path(), &lock, LINK);
    assert!(
        !outside.path().join("created").exists(),
        "created through the link"
    );
}

#[test]
fn a_write_lock_hard_linked_to_another_file_is_never_written() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other");
    fs::write(&other, b"keep me").unwrap();
    let lock = dir.path().join("tables").join(TABLE).join("write.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    fs::hard_link(&other, &lock).unwrap();
    assert_lock_calls_refused(dir.path(), &lock, "2 names (hard links)");
    assert_eq!(fs::read(&other).unwrap(), b"keep me");
}

#[test]
fn a_write_lock_that_is_a_fifo_is_refused_without_blocking() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("tables").join(TABLE).join("write.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let status = std::process::Command::new("mkfifo")
        .arg(&lock)
        .status()
        .unwrap();
    assert!(status.success());
    assert_lock_calls_refused(
        dir.path(),
        &lock,
        "is a FIFO (named pipe), not a regular file",
    );
}

#[test]
fn a_write_lock_that_is_a_socket_or_a_directory_is_refused_saying_so() {
    let dir = tempfile::tempdir().unwrap();
    let lock = dir.path().join("tables").join(TABLE).join("write.lock");
    fs::create_dir_all(lock.parent().unwrap()).unwrap();
    let socket = UnixListener::bind(&lock).unwrap();
    assert_lock_calls_refused(dir.path(), &lock, "is a socket, not a regular file");
    drop(socket);
    fs::remove_file(&lock).unwrap();
    fs::create_dir(&lock).unwrap();
    assert_lock_calls_refused(dir.path(), &lock, "is a directory, not a regular file");
    let err = acquire_lock(dir.path(), TABLE, Duration::ZERO).unwrap_err();
    assert_eq!(err.io_kind(), Some(io::ErrorKind::IsADirectory));
}

#[test]
fn a_dangling_queue_lock_link_creates_nothing_outside() {
    let (dir, outside) = (tempfile::tempdir().unwrap(), Outside::new());
    let queue = dir.path().join("tables").join(TABLE).join("queue");
    fs::create_dir_all(&queue).unwrap();
    symlink(outside.path().join("created"), queue.join(".queue.lock")).unwrap();
    // Producers lock the queue directory itself; the link is not opened.
    let id = queue_write(dir.path(), TABLE, write()).unwrap();
    assert_eq!(get_next_pending(dir.path(), TABLE).unwrap().unwrap().0, id);
    outside.assert_untouched();
}

#[test]
fn an_entry_linked_to_a_file_outside_is_moved_aside_not_read() {
    let (dir, outside) = (tempfile::tempdir().unwrap(), Outside::new());
    let queue = dir.path().join("tables").join(TABLE).join("queue");
    fs::create_dir_all(&queue).unwrap();
    let outside_entry = outside.path().join("entry");
    let foreign = PendingWrite::new(
        WriteOperation::Delete,
        vec![CsvRow::new("user:1", vec!["x"])],
    );
    fs::write(&outside_entry, serde_json::to_vec(&foreign).unwrap()).unwrap();
    let linked = "00000000000000000000-0123456789abcdef0123456789abcdef";
    symlink(&outside_entry, queue.join(format!("{linked}.pending"))).unwrap();
    let good = queue_write(dir.path(), TABLE, write()).unwrap();
    let (next, _) = get_next_pending(dir.path(), TABLE).unwrap().unwrap();
    assert_eq!(next, good, "the linked entry was delivered");
    let moved = moved_aside(dir.path(), TABLE).unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].id, linked);
    assert!(
        moved[0].reason.contains("is a symbolic link"),
        "{}",
        moved[0].reason
    );
    assert_eq!(
        fs::read(&outside_entry).unwrap(),
        serde_json::to_vec(&foreign).unwrap()
    );
}

#[test]
fn a_reason_file_linked_outside_is_not_written_through() {
    let (dir, outside) = (tempfile::tempdir().unwrap(), Outside::new());
    let queue = dir.path().join("tables").join(TABLE).join("queue");
    fs::create_dir_all(queue.join("corrupt")).unwrap();
    let id = "00000000000000000000-0123456789abcdef0123456789abcdef";
    let precious = outside.path().join("precious");
    fs::write(&precious, b"keep me").unwrap();
    symlink(
        &precious,
        queue.join("corrupt").join(format!("{id}.reason")),
    )
    .unwrap();
    fs::write(queue.join(format!("{id}.pending")), b"{ torn").unwrap();
    assert_eq!(get_next_pending(dir.path(), TABLE).unwrap(), None);
    assert_eq!(
        fs::read(&precious).unwrap(),
        b"keep me",
        "written through the link"
    );
    let moved = moved_aside(dir.path(), TABLE).unwrap();
    assert!(
        moved
            .iter()
            .any(|m| m.id == id && m.reason.contains("JSON")),
        "{moved:?}"
    );
}

#[test]
fn a_second_entry_moved_aside_under_one_id_replaces_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("tables").join(TABLE).join("queue");
    let id = "00000000000000000000-0123456789abcdef0123456789abcdef";
    fs::create_dir_all(&queue).unwrap();
    fs::write(queue.join(format!("{id}.pending")), b"first torn copy").unwrap();
    assert_eq!(get_next_pending(dir.path(), TABLE).unwrap(), None);
    fs::write(queue.join(format!("{id}.pending")), b"second torn copy").unwrap();
    assert_eq!(get_next_pending(dir.path(), TABLE).unwrap(), None);
    let moved = moved_aside(dir.path(), TABLE).unwrap();
    assert_eq!(moved.len(), 2, "{moved:?}");
    assert!(moved.iter().all(|m| m.id == id));
    let mut contents: Vec<Vec<u8>> = moved
        .iter()
        .map(|m| fs::read(&m.location).unwrap())
        .collect();
    contents.sort();
    assert_eq!(
        contents,
        [b"first torn copy".to_vec(), b"second torn copy".to_vec()]
    );
}

#[test]
fn a_link_or_a_file_in_place_of_corrupt_holds_up_nothing() {
    for make in ["link", "file"] {
        let (dir, outside) = (tempfile::tempdir().unwrap(), Outside::new());
        let queue = dir.path().join("tables").join(TABLE).join("queue");
        fs::create_dir_all(&queue).unwrap();
        match make {
            "link" => symlink(outside.path(), queue.join("corrupt")).unwrap(),
            _ => fs::write(queue.join("corrupt"), b"not a directory").unwrap(),
        }
        let bad = "00000000000000000000-0123456789abcdef0123456789abcdef";
        fs::write(queue.join(format!("{bad}.pending")), b"{ torn").unwrap();
        let good = queue_write(dir.path(), TABLE, write()).unwrap();
        let next = returns("get_next_pending", {
            let base = dir.path().to_path_buf();
            move || get_next_pending(&base, TABLE)
        });
        assert_eq!(next.unwrap().map(|(id, _)| id), Some(good), "{make}");
        let moved = moved_aside(dir.path(), TABLE).unwrap();
        assert_eq!(moved.len(), 1, "{make}: {moved:?}");
        assert_eq!(moved[0].id, bad);
        assert!(
            moved[0].reason.contains("could not be moved aside"),
            "{}",
            moved[0].reason
        );
        assert_eq!(
            Path::new(&moved[0].location),
            queue.join(format!("{bad}.pending"))
        );
        assert!(
            queue.join(format!("{bad}.pending")).exists(),
            "{make}: never deleted"
        );
        outside.assert_untouched();
    }
}
