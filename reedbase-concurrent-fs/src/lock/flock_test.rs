// SPDX-License-Identifier: Apache-2.0
//! Tests of the fs2 wrapper (contention is told apart from failure), of
//! opening lock files (never through a link, never blocking), and of the
//! deadline-bounded back-off.

use std::cell::Cell;
use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsFd;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedError;

use super::{
    Backoff, FIRST_PAUSE, MAX_PAUSE, Polled, TryLock, cannot_lock_directories, create_lock_file,
    existing_lock_file, is_contended, poll_until, try_lock_exclusive, try_lock_shared, unlock,
};

fn open_twice(dir: &tempfile::TempDir) -> (File, File) {
    let path = dir.path().join("write.lock");
    let open = || {
        OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .unwrap()
    };
    (open(), open())
}

#[test]
fn exclusive_excludes_a_second_description_in_the_same_process() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = open_twice(&dir);
    assert_eq!(try_lock_exclusive(&first).unwrap(), TryLock::Acquired);
    assert_eq!(try_lock_exclusive(&second).unwrap(), TryLock::Contended);
    assert_eq!(try_lock_shared(&second).unwrap(), TryLock::Contended);
    unlock(&first).unwrap();
    assert_eq!(try_lock_exclusive(&second).unwrap(), TryLock::Acquired);
}

#[test]
fn shared_probes_do_not_conflict_but_block_a_writer() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = open_twice(&dir);
    let (third, _) = open_twice(&dir);
    assert_eq!(try_lock_shared(&first).unwrap(), TryLock::Acquired);
    assert_eq!(try_lock_shared(&second).unwrap(), TryLock::Acquired);
    assert_eq!(try_lock_exclusive(&third).unwrap(), TryLock::Contended);
    unlock(&first).unwrap();
    unlock(&second).unwrap();
    assert_eq!(try_lock_exclusive(&third).unwrap(), TryLock::Acquired);
}

#[test]
fn closing_the_descriptor_releases_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = open_twice(&dir);
    assert_eq!(try_lock_exclusive(&first).unwrap(), TryLock::Acquired);
    drop(first);
    assert_eq!(try_lock_exclusive(&second).unwrap(), TryLock::Acquired);
}

#[test]
fn only_the_contended_error_counts_as_contention() {
    assert!(is_contended(&fs2::lock_contended_error()));
    assert!(!is_contended(&io::Error::from(
        io::ErrorKind::PermissionDenied
    )));
    assert!(!is_contended(&io::Error::from(io::ErrorKind::NotFound)));
    assert!(!is_contended(&io::Error::other("disk on fire")));
}

#[test]
fn pauses_double_up_to_the_cap() {
    let mut backoff = Backoff::new();
    let pauses: Vec<Duration> = (0..8).map(|_| backoff.next_pause()).collect();
    assert_eq!(pauses[0], FIRST_PAUSE);
    assert_eq!(pauses[1], FIRST_PAUSE * 2);
    assert!(pauses.windows(2).all(|pair| pair[1] >= pair[0]));
    assert_eq!(*pauses.last().unwrap(), MAX_PAUSE);
    assert!(pauses.iter().all(|pause| *pause <= MAX_PAUSE));
}

#[test]
fn a_zero_timeout_makes_exactly_one_attempt() {
    let attempts = Cell::new(0);
    let polled = poll_until(Instant::now(), Duration::ZERO, || {
        attempts.set(attempts.get() + 1);
        Ok(None::<()>)
    })
    .unwrap();
    assert!(matches!(polled, Polled::TimedOut(_)));
    assert_eq!(attempts.get(), 1);
}

#[test]
fn a_success_after_some_attempts_is_returned() {
    let attempts = Cell::new(0);
    let polled = poll_until(Instant::now(), Duration::from_secs(30), || {
        attempts.set(attempts.get() + 1);
        Ok((attempts.get() == 5).then_some("taken"))
    })
    .unwrap();
    assert_eq!(polled, Polled::Ready("taken"));
    assert_eq!(attempts.get(), 5);
}

#[test]
fn an_error_is_returned_at_once_and_not_retried() {
    let attempts = Cell::new(0);
    let source = io::Error::from(io::ErrorKind::PermissionDenied);
    let result = poll_until(Instant::now(), Duration::from_secs(30), || {
        attempts.set(attempts.get() + 1);
        Err::<Option<()>, _>(ReedError::io("lock_file", Path::new("/x"), &source))
    });
    assert_eq!(
        result.unwrap_err().io_kind(),
        Some(io::ErrorKind::PermissionDenied)
    );
    assert_eq!(attempts.get(), 1);
}

#[test]
fn a_timeout_reports_at_least_the_time_asked_for() {
    let timeout = Duration::from_millis(30);
    let attempts = Cell::new(0);
    let polled = poll_until(Instant::now(), timeout, || {
        attempts.set(attempts.get() + 1);
        Ok(None::<()>)
    })
    .unwrap();
    let Polled::TimedOut(waited) = polled else {
        panic!("expected a timeout, got {polled:?}");
    };
    assert!(waited >= timeout, "waited {waited:?}");
    assert!(attempts.get() > 2, "only {} attempts", attempts.get());
}

#[test]
fn directory_locks_unsupported_is_told_from_failure() {
    for errno in [
        rustix::io::Errno::BADF,
        rustix::io::Errno::NOLCK,
        rustix::io::Errno::OPNOTSUPP,
    ] {
        assert!(
            cannot_lock_directories(&io::Error::from(errno)),
            "{errno:?}"
        );
    }
    assert!(!cannot_lock_directories(&io::Error::from(
        io::ErrorKind::PermissionDenied
    )));
    assert!(!cannot_lock_directories(&fs2::lock_contended_error()));
}

#[test]
fn a_directory_locks_like_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (
        File::open(dir.path()).unwrap(),
        File::open(dir.path()).unwrap(),
    );
    assert_eq!(try_lock_exclusive(&first).unwrap(), TryLock::Acquired);
    assert_eq!(try_lock_exclusive(&second).unwrap(), TryLock::Contended);
    assert_eq!(try_lock_shared(&second).unwrap(), TryLock::Contended);
    unlock(&first).unwrap();
    assert_eq!(try_lock_shared(&second).unwrap(), TryLock::Acquired);
}

/// Opens `write.lock` in `dir` both ways and checks that each is refused at
/// once with an `IoError` naming the path and `what`, with `kind`.
fn assert_refused(dir: &Path, what: &str, kind: io::ErrorKind) {
    let fd = File::open(dir).unwrap();
    let path = dir.join("write.lock");
    let started = Instant::now();
    let results = [
        create_lock_file(fd.as_fd(), "write.lock", &path, dir).map(drop),
        existing_lock_file(fd.as_fd(), "write.lock", &path, dir).map(drop),
    ];
    for result in results {
        match result.unwrap_err() {
            ReedError::IoError {
                operation,
                path: at,
                kind: k,
                reason,
            } => {
                assert_eq!(
                    (operation, at.as_path(), k),
                    ("open_lock_file", path.as_path(), kind)
                );
                assert!(reason.contains(what), "{reason}");
            }
            other => panic!("expected an IoError, got {other}"),
        }
    }
    assert!(started.elapsed() < Duration::from_secs(5), "it waited");
}

#[test]
fn a_lock_file_that_is_a_link_is_refused_and_its_target_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().join("precious");
    fs::write(&target, b"keep me").unwrap();
    std::os::unix::fs::symlink(&target, dir.path().join("write.lock")).unwrap();
    assert_refused(
        dir.path(),
        "is a symbolic link; links below",
        io::Error::from(rustix::io::Errno::LOOP).kind(),
    );
    std::os::unix::fs::symlink(
        outside.path().join("missing"),
        outside.path().join("dangling"),
    )
    .unwrap();
    fs::remove_file(dir.path().join("write.lock")).unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("dangling"),
        dir.path().join("write.lock"),
    )
    .unwrap();
    assert_refused(
        dir.path(),
        "is a symbolic link",
        io::Error::from(rustix::io::Errno::LOOP).kind(),
    );
    assert_eq!(fs::read(&target).unwrap(), b"keep me");
    assert!(
        !outside.path().join("missing").exists(),
        "a dangling link was followed"
    );
}

#[test]
fn a_lock_file_with_a_second_name_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let other = dir.path().join("other-file");
    fs::write(&other, b"not a lock").unwrap();
    fs::hard_link(&other, dir.path().join("write.lock")).unwrap();
    assert_refused(
        dir.path(),
        "with 2 names (hard links)",
        io::ErrorKind::InvalidData,
    );
    assert_eq!(fs::read(&other).unwrap(), b"not a lock");
}

#[test]
fn a_fifo_socket_or_directory_lock_file_is_refused_without_waiting() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("write.lock");
    let fd = File::open(dir.path()).unwrap();
    rustix::fs::mknodat(
        fd.as_fd(),
        "write.lock",
        rustix::fs::FileType::Fifo,
        rustix::fs::Mode::from_bits_truncate(0o600),
        0,
    )
    .unwrap();
    assert_refused(
        dir.path(),
        "is a FIFO (named pipe), not a regular file",
        io::ErrorKind::InvalidData,
    );
    fs::remove_file(&path).unwrap();
    let _socket = UnixListener::bind(&path).unwrap();
    assert_refused(
        dir.path(),
        "is a socket, not a regular file",
        io::ErrorKind::InvalidData,
    );
    fs::remove_file(&path).unwrap();
    fs::create_dir(&path).unwrap();
    assert_refused(
        dir.path(),
        "is a directory, not a regular file",
        io::ErrorKind::IsADirectory,
    );
}

#[test]
fn a_missing_lock_file_is_created_or_reported_absent() {
    let dir = tempfile::tempdir().unwrap();
    let fd = File::open(dir.path()).unwrap();
    let path = dir.path().join("write.lock");
    assert!(
        existing_lock_file(fd.as_fd(), "write.lock", &path, dir.path())
            .unwrap()
            .is_none()
    );
    assert!(!path.exists());
    let created = create_lock_file(fd.as_fd(), "write.lock", &path, dir.path()).unwrap();
    assert_eq!((created.facts.links, created.facts.size), (1, 0));
    let again = existing_lock_file(fd.as_fd(), "write.lock", &path, dir.path())
        .unwrap()
        .unwrap();
    assert!(again.facts.same_file(&created.facts));
}
