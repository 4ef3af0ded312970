// SPDX-License-Identifier: Apache-2.0
//! Tests of opening directories and files without following links or
//! blocking, judged on the descriptor, and of listing a directory.

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fs::{self, File};
use std::io::{self, Read as _};
use std::os::fd::AsFd;
use std::os::unix::fs::symlink;
use std::os::unix::net::UnixListener;
use std::path::Path;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedError;

use super::{
    Found, Opened, Refusal, Stamp, child_dir, create_new, facts_of, for_each_name,
    identity_and_stamp_at, identity_at, open_beneath, open_name_by_name, open_regular, refused,
    stat_at,
};

fn open(dir: &Path, name: &str) -> Opened {
    let fd = File::open(dir).unwrap();
    open_regular(fd.as_fd(), OsStr::new(name)).unwrap()
}

#[test]
fn a_regular_file_opens_with_its_facts() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("entry"), b"12345").unwrap();
    let Opened::File(mut file, facts) = open(dir.path(), "entry") else {
        panic!("not opened");
    };
    assert_eq!(
        (facts.found, facts.size, facts.links),
        (Found::RegularFile, 5, 1)
    );
    let mut text = String::new();
    file.read_to_string(&mut text).unwrap();
    assert_eq!(text, "12345");
    assert!(facts.same_file(&facts_of(&file).unwrap()));
    assert!(matches!(open(dir.path(), "missing"), Opened::Missing));
}

#[test]
fn links_fifos_sockets_and_directories_are_not_opened_for_reading() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::write(outside.path().join("secret"), b"secret").unwrap();
    symlink(outside.path().join("secret"), dir.path().join("link")).unwrap();
    let fd = File::open(dir.path()).unwrap();
    let fifo_mode = rustix::fs::Mode::from_bits_truncate(0o600);
    rustix::fs::mknodat(fd.as_fd(), "fifo", rustix::fs::FileType::Fifo, fifo_mode, 0).unwrap();
    let _socket = UnixListener::bind(dir.path().join("socket")).unwrap();
    fs::create_dir(dir.path().join("dir")).unwrap();
    let started = Instant::now();
    for (name, found) in [
        ("link", Found::SymbolicLink),
        ("fifo", Found::Fifo),
        ("socket", Found::Socket),
        ("dir", Found::Directory),
    ] {
        match open(dir.path(), name) {
            Opened::NotRegular(what) => assert_eq!(what, found, "{name}"),
            other => panic!("{name}: {other:?}"),
        }
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a FIFO was waited on"
    );
}

#[test]
fn create_new_never_replaces_nor_follows() {
    let dir = tempfile::tempdir().unwrap();
    let fd = File::open(dir.path()).unwrap();
    create_new(fd.as_fd(), OsStr::new("reason")).unwrap();
    let taken = create_new(fd.as_fd(), OsStr::new("reason")).unwrap_err();
    assert_eq!(taken.kind(), io::ErrorKind::AlreadyExists);
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path().join("created"), dir.path().join("dangling")).unwrap();
    let through = create_new(fd.as_fd(), OsStr::new("dangling")).unwrap_err();
    assert_eq!(through.kind(), io::ErrorKind::AlreadyExists);
    assert!(
        !outside.path().join("created").exists(),
        "created through a link"
    );
}

#[test]
fn stat_at_does_not_follow_and_misses_quietly() {
    let dir = tempfile::tempdir().unwrap();
    symlink("/", dir.path().join("root")).unwrap();
    let fd = File::open(dir.path()).unwrap();
    let facts = stat_at(fd.as_fd(), "root").unwrap().unwrap();
    assert_eq!(facts.found, Found::SymbolicLink);
    assert_eq!(stat_at(fd.as_fd(), "missing").unwrap(), None);
    // Only the last name is not followed: a link on the way is (callers
    // that must not follow any link open name by name instead).
    let through = stat_at(fd.as_fd(), "root/tmp").unwrap().map(|f| f.found);
    assert_eq!(through, Some(Found::Directory));
}

#[test]
fn refusals_name_the_path_what_was_found_and_a_kind() {
    let path = Path::new("/data/tables/t/write.lock");
    let tables = Path::new("/data/tables");
    let cases = [
        (
            Refusal::Link,
            io::Error::from(rustix::io::Errno::LOOP).kind(),
            "is a symbolic link; links below /data/tables are not followed",
        ),
        (
            Refusal::NotADirectory(Found::RegularFile),
            io::ErrorKind::NotADirectory,
            "is a regular file, not a directory",
        ),
        (
            Refusal::NotARegularFile(Found::Fifo),
            io::ErrorKind::InvalidData,
            "is a FIFO (named pipe), not a regular file",
        ),
        (
            Refusal::NotARegularFile(Found::Directory),
            io::ErrorKind::IsADirectory,
            "is a directory, not a regular file",
        ),
        (
            Refusal::HardLinked(3),
            io::ErrorKind::InvalidData,
            "is a regular file with 3 names (hard links)",
        ),
    ];
    for (why, kind, text) in cases {
        let error = refused("open_lock_file", path, tables, why);
        assert_eq!(error.io_kind(), Some(kind), "{why:?}");
        let message = error.to_string();
        assert!(
            message.starts_with("open_lock_file failed on /data/tables/t/write.lock: "),
            "{message}"
        );
        assert!(message.contains(text), "{message}");
    }
}

#[test]
fn the_fallback_refuses_what_openat2_refuses() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    fs::create_dir_all(dir.path().join("tables/users/queue")).unwrap();
    symlink(outside.path(), dir.path().join("tables/linked")).unwrap();
    fs::write(dir.path().join("tables/file"), b"x").unwrap();
    let base = File::open(dir.path()).unwrap();
    for relative in [
        "tables/users/queue",
        "tables/linked",
        "tables/linked/queue",
        "tables/file/queue",
        "tables/missing",
    ] {
        // A link gives ELOOP from openat2 and ENOTDIR from `openat(O_NOFOLLOW
        // | O_DIRECTORY)`: refused either way, and described alike by the
        // `fstatat` that follows.
        let kind = |result: io::Result<_>| match result {
            Ok(_) => "opened",
            Err(e) if e.kind() == io::ErrorKind::NotFound => "missing",
            Err(_) => "refused",
        };
        let fast = kind(open_beneath(base.as_fd(), Path::new(relative)));
        let slow = kind(open_name_by_name(base.as_fd(), Path::new(relative)));
        assert_eq!(fast, slow, "{relative}");
    }
    assert!(open_name_by_name(base.as_fd(), Path::new("tables/users/queue")).is_ok());
    assert!(open_name_by_name(base.as_fd(), Path::new("tables/linked")).is_err());
}

#[test]
fn every_name_is_listed_once_past_one_buffer() {
    let dir = tempfile::tempdir().unwrap();
    let mut expected = BTreeSet::new();
    for n in 0..600 {
        let name = format!("{n:04}-{}", "x".repeat(40));
        fs::write(dir.path().join(&name), b"").unwrap();
        expected.insert(name);
    }
    let mut listed = BTreeSet::new();
    let fd = File::open(dir.path()).unwrap();
    for_each_name(fd.as_fd(), |name| {
        assert!(
            listed.insert(name.to_string_lossy().into_owned()),
            "{name:?} twice"
        );
    })
    .unwrap();
    assert_eq!(listed, expected);
}

#[test]
fn a_child_directory_is_created_once_and_never_through_a_link() {
    let dir = tempfile::tempdir().unwrap();
    let parent = File::open(dir.path()).unwrap();
    let path = dir.path().join("corrupt");
    let child = child_dir(parent.as_fd(), "corrupt", &path, dir.path());
    assert!(child.open("op").unwrap().is_none());
    child.create("op").unwrap();
    child.create("op").unwrap();
    assert!(child.open("op").unwrap().is_some());
    fs::remove_dir(&path).unwrap();
    let outside = tempfile::tempdir().unwrap();
    symlink(outside.path(), &path).unwrap();
    match child.create("op").unwrap_err() {
        ReedError::IoError {
            path: at, reason, ..
        } => {
            assert_eq!(at, path);
            assert!(reason.contains("is a symbolic link"), "{reason}");
        }
        other => panic!("expected an IoError, got {other}"),
    }
}

#[test]
fn identity_at_agrees_with_stat_at_without_following() {
    let dir = tempfile::tempdir().unwrap();
    let fd = File::open(dir.path()).unwrap();
    fs::write(dir.path().join("file"), b"x").unwrap();
    fs::hard_link(dir.path().join("file"), dir.path().join("second name")).unwrap();
    fs::create_dir(dir.path().join("dir")).unwrap();
    symlink(dir.path().join("file"), dir.path().join("link")).unwrap();
    let fifo_mode = rustix::fs::Mode::from_bits_truncate(0o600);
    rustix::fs::mknodat(fd.as_fd(), "fifo", rustix::fs::FileType::Fifo, fifo_mode, 0).unwrap();
    for (name, found) in [
        ("file", Found::RegularFile),
        ("dir", Found::Directory),
        ("link", Found::SymbolicLink),
        ("fifo", Found::Fifo),
    ] {
        let facts = stat_at(fd.as_fd(), name).unwrap().unwrap();
        let identity = identity_at(fd.as_fd(), name).unwrap().unwrap();
        assert_eq!(identity.found, found, "{name}");
        assert!(identity.is(&facts), "{name}: device and inode");
        assert_eq!(identity.links, facts.links, "{name}: link count");
    }
    let file = identity_at(fd.as_fd(), "file").unwrap().unwrap();
    assert_eq!(file.links, 2);
    assert!(file.is(&facts_of(File::open(dir.path().join("second name")).unwrap()).unwrap()));
    let dir_facts = facts_of(&fd).unwrap();
    assert!(!file.is(&dir_facts));
    assert_eq!(identity_at(fd.as_fd(), "missing").unwrap(), None);
    assert_eq!(identity_at(fd.as_fd(), "file/below").unwrap(), None);
}

/// The stamp of `name` in `fd`, which must be reported here.
fn stamp_of(fd: &File, name: &str) -> Stamp {
    let (_, stamp) = identity_and_stamp_at(fd.as_fd(), name).unwrap().unwrap();
    stamp.expect("this file system reports the times")
}

#[test]
fn a_directory_stamp_moves_with_every_kind_of_new_name_and_only_then() {
    let dir = tempfile::tempdir().unwrap();
    let parent = File::open(dir.path()).unwrap();
    fs::create_dir(dir.path().join("table")).unwrap();
    let table = dir.path().join("table");
    fs::write(table.join("write.lock"), b"").unwrap();
    let before = stamp_of(&parent, "table");
    // Writing to a file in it, or reading it, is no change of its entries.
    fs::write(table.join("write.lock"), b"holder record").unwrap();
    let _ = fs::read_dir(&table).unwrap().count();
    assert_eq!(stamp_of(&parent, "table"), before);
    type Make = fn(&Path);
    let changes: [(&str, Make); 6] = [
        ("a directory", |t| fs::create_dir(t.join("queue")).unwrap()),
        ("a directory removed", |t| {
            fs::remove_dir(t.join("queue")).unwrap()
        }),
        ("a link", |t| symlink("/tmp", t.join("queue")).unwrap()),
        ("a rename", |t| {
            fs::rename(t.join("queue"), t.join("queue.old")).unwrap()
        }),
        ("a file", |t| fs::write(t.join("queue"), b"").unwrap()),
        ("a hard link", |t| {
            fs::hard_link(t.join("write.lock"), t.join("second")).unwrap()
        }),
    ];
    let mut last = before;
    for (what, make) in changes {
        make(&table);
        let now = stamp_of(&parent, "table");
        assert_ne!(now, last, "{what} left the stamp as it was");
        last = now;
    }
}

#[test]
fn a_stamp_is_settled_only_well_after_its_last_change() {
    let dir = tempfile::tempdir().unwrap();
    let parent = File::open(dir.path()).unwrap();
    fs::create_dir(dir.path().join("table")).unwrap();
    let stamp = stamp_of(&parent, "table");
    let now = std::time::SystemTime::now();
    assert!(!stamp.settled_before(now), "changed just now");
    assert!(stamp.settled_before(now + Stamp::SETTLE + Duration::from_millis(20)));
    assert!(
        !stamp.settled_before(std::time::UNIX_EPOCH),
        "a change in the future"
    );
}
