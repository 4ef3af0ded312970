// SPDX-License-Identifier: Apache-2.0
//! Tests of table_dir.rs: creation, and no symbolic link or FIFO followed.

use std::os::unix::fs::symlink;

use super::*;

fn is_link_refusal(error: &TableError) -> bool {
    matches!(error, TableError::SymbolicLink { .. })
}

#[test]
fn open_or_create_makes_the_directories_and_open_existing_finds_them() {
    let base = tempfile::tempdir().unwrap();
    let nested = base.path().join("not-yet");
    assert!(TableDir::open_existing(&nested, "users").unwrap().is_none());
    let dir = TableDir::open_or_create(&nested, "users").unwrap();
    assert!(nested.join("tables").join("users").is_dir());
    assert_eq!(
        dir.path_of(TABLE_FILE),
        nested.join("tables/users/table.csv")
    );
    assert!(TableDir::open_existing(&nested, "users").unwrap().is_some());
    assert!(TableDir::open_existing(&nested, "other").unwrap().is_none());
}

#[test]
fn files_are_created_once_and_replaced_by_rename() {
    let base = tempfile::tempdir().unwrap();
    let dir = TableDir::open_or_create(base.path(), "t").unwrap();
    assert!(dir.open_for_append(TABLE_FILE).unwrap().is_none());
    dir.create_for_append(TABLE_FILE).unwrap();
    let again = dir.create_for_append(TABLE_FILE).unwrap_err();
    assert_eq!(again.io_kind(), Some(io::ErrorKind::AlreadyExists));
    assert_eq!(again.path(), Some(dir.path_of(TABLE_FILE).as_path()));
    let mut temp = dir.create_truncated(JOURNAL_TEMP_FILE).unwrap();
    io::Write::write_all(&mut temp, b"new").unwrap();
    dir.replace(JOURNAL_TEMP_FILE, JOURNAL_FILE).unwrap();
    assert_eq!(std::fs::read(dir.path_of(JOURNAL_FILE)).unwrap(), b"new");
    assert!(!dir.path_of(JOURNAL_TEMP_FILE).exists());
}

#[test]
fn a_link_as_the_tables_directory_is_not_followed() {
    let base = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    symlink(elsewhere.path(), base.path().join("tables")).unwrap();
    let error = TableDir::open_or_create(base.path(), "users").unwrap_err();
    assert!(is_link_refusal(&error), "{error}");
    assert_eq!(error.path(), Some(base.path().join("tables").as_path()));
    assert!(error.to_string().contains("table 'users'"), "{error}");
    assert!(error.to_string().contains("symbolic link"), "{error}");
    let error = TableDir::open_existing(base.path(), "users").unwrap_err();
    assert!(is_link_refusal(&error), "{error}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn a_link_as_the_table_directory_is_not_followed() {
    let base = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir(base.path().join("tables")).unwrap();
    symlink(elsewhere.path(), base.path().join("tables/users")).unwrap();
    let error = TableDir::open_or_create(base.path(), "users").unwrap_err();
    assert!(is_link_refusal(&error), "{error}");
    assert_eq!(
        error.path(),
        Some(base.path().join("tables/users").as_path())
    );
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn a_dangling_link_is_refused_not_created_through() {
    let base = tempfile::tempdir().unwrap();
    let target = base.path().join("would-be-created");
    std::fs::create_dir(base.path().join("tables")).unwrap();
    symlink(&target, base.path().join("tables/users")).unwrap();
    let error = TableDir::open_or_create(base.path(), "users").unwrap_err();
    assert!(is_link_refusal(&error), "{error}");
    assert!(!target.exists());
    let dir = TableDir::open_or_create(base.path(), "other").unwrap();
    symlink(&target, dir.path_of(TABLE_FILE)).unwrap();
    let error = dir.create_for_append(TABLE_FILE).unwrap_err();
    assert!(
        is_link_refusal(&error) || error.io_kind().is_some(),
        "{error}"
    );
    assert!(!target.exists());
}

#[test]
fn a_link_as_a_file_is_not_followed_or_replaced() {
    let base = tempfile::tempdir().unwrap();
    let outside = base.path().join("outside.csv");
    std::fs::write(&outside, "secret\n").unwrap();
    let dir = TableDir::open_or_create(base.path(), "users").unwrap();
    symlink(&outside, dir.path_of(TABLE_FILE)).unwrap();
    symlink(&outside, dir.path_of(JOURNAL_TEMP_FILE)).unwrap();
    for error in [
        dir.open_for_append(TABLE_FILE).unwrap_err(),
        dir.open_for_reading(TABLE_FILE).unwrap_err(),
        dir.create_truncated(JOURNAL_TEMP_FILE).unwrap_err(),
    ] {
        assert!(is_link_refusal(&error), "{error}");
    }
    assert_eq!(std::fs::read_to_string(&outside).unwrap(), "secret\n");
}

#[test]
fn the_base_directory_may_be_a_link() {
    let real = tempfile::tempdir().unwrap();
    let holder = tempfile::tempdir().unwrap();
    let base = holder.path().join("base");
    symlink(real.path(), &base).unwrap();
    TableDir::open_or_create(&base, "users").unwrap();
    assert!(real.path().join("tables/users").is_dir());
}

#[test]
fn a_fifo_is_refused_without_blocking() {
    let base = tempfile::tempdir().unwrap();
    let dir = TableDir::open_or_create(base.path(), "users").unwrap();
    rustix::fs::mknodat(
        &dir.dir,
        TABLE_FILE,
        rustix::fs::FileType::Fifo,
        mode(0o644),
        0,
    )
    .unwrap();
    // Opening a FIFO for reading without O_NONBLOCK would wait for a writer
    // for ever; this returns at once.
    let error = dir.open_for_reading(TABLE_FILE).unwrap_err();
    assert!(matches!(error, TableError::NotAFile { .. }), "{error}");
    assert!(error.to_string().contains("not a regular file"), "{error}");
    let error = dir.open_for_append(TABLE_FILE).unwrap_err();
    assert!(
        matches!(error, TableError::NotAFile { .. }) || error.io_kind().is_some(),
        "{error}"
    );
}

#[test]
fn a_directory_where_a_file_belongs_is_refused() {
    let base = tempfile::tempdir().unwrap();
    let dir = TableDir::open_or_create(base.path(), "users").unwrap();
    std::fs::create_dir(dir.path_of(TABLE_FILE)).unwrap();
    let error = dir.open_for_reading(TABLE_FILE).unwrap_err();
    assert!(matches!(error, TableError::NotAFile { .. }), "{error}");
    let error = dir.open_for_append(TABLE_FILE).unwrap_err();
    assert_eq!(
        error.io_kind(),
        Some(io::ErrorKind::IsADirectory),
        "{error}"
    );
}
