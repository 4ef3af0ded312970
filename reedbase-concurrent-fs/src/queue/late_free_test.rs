// SPDX-License-Identifier: Apache-2.0
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rustix::fs::FileType;

use super::{close_later, pin, wait_closed};

fn dir_fd(path: &Path) -> File {
    File::open(path).unwrap()
}

/// What `/proc/self/fd/<fd>` names, if the descriptor is open.
fn named_by(fd: i32) -> Option<PathBuf> {
    fs::read_link(format!("/proc/self/fd/{fd}")).ok()
}

/// Creates each of `names` in `dir`, pins it and unlinks it: the pinned
/// descriptors, and each one's number with what `/proc` names it by.
fn pinned_and_unlinked(
    dir: &Path,
    queue: &File,
    names: impl Iterator<Item = String>,
) -> (Vec<OwnedFd>, Vec<(i32, PathBuf)>) {
    let mut pinned = Vec::new();
    let mut named = Vec::new();
    for name in names {
        fs::write(dir.join(&name), b"x").unwrap();
        let fd = pin(queue.as_fd(), &name).unwrap();
        named.push((fd.as_raw_fd(), named_by(fd.as_raw_fd()).unwrap()));
        pinned.push(fd);
        fs::remove_file(dir.join(&name)).unwrap();
    }
    (pinned, named)
}

#[test]
fn a_pinned_entry_outlives_its_unlink_until_the_thread_closes_it() {
    let dir = tempfile::tempdir().unwrap();
    let name = "00000000000000000001-pinned.pending";
    fs::write(dir.path().join(name), b"entry").unwrap();
    let queue = dir_fd(dir.path());
    let pinned = pin(queue.as_fd(), name).expect("pinned");
    fs::remove_file(dir.path().join(name)).unwrap();
    // The inode is still there, with no name left.
    let stat = rustix::fs::fstat(&pinned).unwrap();
    assert_eq!(stat.st_nlink, 0);
    let raw = pinned.as_raw_fd();
    let deleted = named_by(raw).unwrap();
    assert!(
        deleted.to_string_lossy().ends_with("(deleted)"),
        "{deleted:?}"
    );

    close_later(vec![pinned]);
    let start = Instant::now();
    // Closed by the thread: the number is free or reused for something else.
    while named_by(raw).as_ref() == Some(&deleted) {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "descriptor {raw} still open"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    // It has run by now, and named itself.
    let threads = fs::read_dir("/proc/self/task").unwrap();
    let names: Vec<String> = threads
        .filter_map(|task| fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .collect();
    assert!(
        names.iter().any(|name| name.trim() == "reedbase-free"),
        "a closing thread runs: {names:?}"
    );
}

#[test]
fn pinning_follows_no_link_and_opens_no_fifo() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("target"), b"outside").unwrap();
    symlink(
        outside.path().join("target"),
        dir.path().join("link.pending"),
    )
    .unwrap();
    rustix::fs::mknodat(
        rustix::fs::CWD,
        dir.path().join("fifo.pending"),
        FileType::Fifo,
        rustix::fs::Mode::from_raw_mode(0o600),
        0,
    )
    .unwrap();
    let queue = dir_fd(dir.path());

    let link = pin(queue.as_fd(), "link.pending").expect("the link itself");
    let stat = rustix::fs::fstat(&link).unwrap();
    assert_eq!(FileType::from_raw_mode(stat.st_mode), FileType::Symlink);
    // A FIFO with no writer would block an ordinary opening for reading.
    let fifo = pin(queue.as_fd(), "fifo.pending").expect("not blocked");
    let stat = rustix::fs::fstat(&fifo).unwrap();
    assert_eq!(FileType::from_raw_mode(stat.st_mode), FileType::Fifo);
    assert!(pin(queue.as_fd(), "missing.pending").is_none());
    close_later(vec![link, fifo]);
    assert_eq!(
        fs::read(outside.path().join("target")).unwrap(),
        b"outside",
        "nothing outside touched"
    );
}

#[test]
fn an_empty_batch_and_many_batches_are_all_taken() {
    close_later(Vec::new());
    let dir = tempfile::tempdir().unwrap();
    let queue = dir_fd(dir.path());
    let mut raws = Vec::new();
    for batch in 0..20 {
        let names = (0..10).map(|entry| format!("{batch}-{entry}.pending"));
        let (pinned, named) = pinned_and_unlinked(dir.path(), &queue, names);
        raws.extend(named);
        close_later(pinned);
    }
    let start = Instant::now();
    while raws
        .iter()
        .any(|(raw, name)| named_by(*raw).as_ref() == Some(name))
    {
        assert!(start.elapsed() < Duration::from_secs(10), "not all closed");
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn waiting_for_the_closing_thread_returns_once_what_was_handed_over_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir_fd(dir.path());
    let names = (0..50).map(|entry| format!("waited-{entry}.pending"));
    let (pinned, raws) = pinned_and_unlinked(dir.path(), &queue, names);
    close_later(pinned);
    assert!(wait_closed(Duration::from_secs(10)));
    // No polling: closed by the time the wait returned.
    for (raw, name) in raws {
        assert_ne!(named_by(raw), Some(name), "descriptor {raw} still open");
    }
}

/// What `/proc/self/fd` holds open below `dir`.
fn open_below(dir: &Path) -> Vec<PathBuf> {
    fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|fd| fs::read_link(fd.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir))
        .collect()
}

#[test]
fn a_dropped_backend_leaves_no_removed_entry_open() {
    use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, WriteOperation};

    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let backend = crate::FsBackend::new(&base);
    let ids: Vec<String> = (0..40)
        .map(|n| {
            let write = PendingWrite::new(
                WriteOperation::Insert,
                vec![CsvRow::new(format!("k{n}"), ["v"])],
            );
            backend.queue_write("t", &write).unwrap()
        })
        .collect();
    backend.remove_batch_from_queue("t", &ids).unwrap();
    drop(backend);
    // No polling: by the time the drop returned.
    let open = open_below(&base);
    assert!(open.is_empty(), "still open: {open:?}");
}
