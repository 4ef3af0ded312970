// SPDX-License-Identifier: Apache-2.0
//! Tests of reaching the directories below the base without following
//! links, with `openat2` and with the name-by-name fallback alike.

use std::fs;
use std::io;
use std::os::unix::fs::symlink;
use std::path::Path;

use reedbase_concurrent_core::ReedError;

use super::{BaseDir, Level};
use crate::options::Durability;
use crate::tables_dir::TablePaths;

fn paths(base: &Path) -> TablePaths {
    TablePaths::new(base, "users").unwrap()
}

/// The error's path and reason, for an `IoError` of `operation`.
fn io_error(error: ReedError, operation: &str) -> (std::path::PathBuf, io::ErrorKind, String) {
    match error {
        ReedError::IoError {
            operation: op,
            path,
            kind,
            reason,
        } => {
            assert_eq!(op, operation);
            (path, kind, reason)
        }
        other => panic!("expected an IoError, got {other}"),
    }
}

#[test]
fn a_missing_table_opens_as_none_and_nothing_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let base = BaseDir::new(dir.path().join("base"));
    let paths = paths(base.path());
    for level in [Level::Tables, Level::Table, Level::Queue, Level::Corrupt] {
        assert!(base.open(&paths, level, "op").unwrap().is_none());
    }
    assert!(base.open_tables("op").unwrap().is_none());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn create_makes_every_level_and_open_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let base = BaseDir::new(dir.path().join("base"));
    let paths = paths(base.path());
    base.create(&paths, Level::Corrupt, Durability::Durable, "op")
        .unwrap();
    assert!(paths.corrupt_dir.is_dir());
    for level in [Level::Tables, Level::Table, Level::Queue, Level::Corrupt] {
        assert!(
            base.open(&paths, level, "op").unwrap().is_some(),
            "{level:?}"
        );
    }
    base.create(&paths, Level::Queue, Durability::Relaxed, "op")
        .unwrap();
}

#[test]
fn a_link_at_any_level_is_refused_naming_its_path() {
    for level in [Level::Tables, Level::Table, Level::Queue, Level::Corrupt] {
        let dir = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        let base = BaseDir::new(dir.path().to_path_buf());
        let paths = paths(base.path());
        let at = level.path(&paths);
        fs::create_dir_all(at.parent().unwrap()).unwrap();
        symlink(outside.path(), &at).unwrap();
        for result in [
            base.open(&paths, Level::Corrupt, "op").map(drop),
            base.create(&paths, Level::Corrupt, Durability::Durable, "op")
                .map(drop),
        ] {
            let (path, kind, reason) = io_error(result.unwrap_err(), "op");
            assert_eq!(path, at, "{level:?}");
            assert_eq!(kind, io::Error::from(rustix::io::Errno::LOOP).kind());
            let expected = format!(
                "is a symbolic link; links below {} are not followed",
                dir.path().join("tables").display()
            );
            assert!(reason.starts_with(&expected), "{reason}");
        }
        assert_eq!(
            fs::read_dir(outside.path()).unwrap().count(),
            0,
            "{level:?}: followed"
        );
    }
}

#[test]
fn a_file_where_a_directory_belongs_is_refused_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let base = BaseDir::new(dir.path().to_path_buf());
    let paths = paths(base.path());
    fs::create_dir_all(&paths.table_dir).unwrap();
    fs::write(&paths.queue_dir, b"a file").unwrap();
    let error = base
        .create(&paths, Level::Queue, Durability::Relaxed, "op")
        .unwrap_err();
    let (path, kind, reason) = io_error(error, "op");
    assert_eq!(
        (path, kind),
        (paths.queue_dir.clone(), io::ErrorKind::NotADirectory)
    );
    assert_eq!(reason, "is a regular file, not a directory");
}

#[test]
fn a_base_path_that_is_a_file_fails_with_its_kind() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain");
    fs::write(&file, b"x").unwrap();
    let base = BaseDir::new(file.clone());
    let error = base.open(&paths(&file), Level::Table, "op").unwrap_err();
    assert_eq!(error.io_kind(), Some(io::ErrorKind::NotADirectory));
    let error = base
        .create(&paths(&file), Level::Table, Durability::Relaxed, "op")
        .unwrap_err();
    assert_eq!(error.io_kind(), Some(io::ErrorKind::NotADirectory));
}
