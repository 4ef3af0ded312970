// SPDX-License-Identifier: Apache-2.0
//! Tests of error.rs: every message names the table and the path, and I/O
//! errors keep their kind and source.

use std::error::Error as _;

use super::*;

fn path() -> PathBuf {
    PathBuf::from("/data/tables/users/table.csv")
}

#[test]
fn an_io_error_keeps_its_kind_and_source() {
    let source = io::Error::from(io::ErrorKind::StorageFull);
    let error = TableError::io("users", "append_rows", &path(), source);
    assert_eq!(error.io_kind(), Some(io::ErrorKind::StorageFull));
    assert_eq!(error.table(), "users");
    assert_eq!(error.path(), Some(path().as_path()));
    let message = error.to_string();
    assert!(
        message.starts_with("append_rows failed for table 'users' on /data/tables/users/table.csv"),
        "{message}"
    );
    assert!(message.ends_with("(StorageFull)"), "{message}");
    let inner = error.source().and_then(|s| s.downcast_ref::<io::Error>());
    assert_eq!(inner.map(io::Error::kind), Some(io::ErrorKind::StorageFull));
}

#[test]
fn every_refusal_names_the_table_and_the_file() {
    let table = || "users".to_string();
    let errors = [
        TableError::Unsupported {
            table: table(),
            path: path(),
            operation: WriteOperation::Update,
            queue_id: Some("q7".into()),
        },
        TableError::Fenced {
            table: table(),
            path: path(),
            token: 3,
            highest: 4,
        },
        TableError::CorruptJournal {
            table: table(),
            path: path(),
            reason: "line 3 is damaged".into(),
        },
        TableError::TableTruncated {
            table: table(),
            path: path(),
            len: 1,
            committed: 9,
        },
        TableError::TornUnjournaled {
            table: table(),
            path: path(),
            len: 5,
        },
        TableError::SymbolicLink {
            table: table(),
            path: path(),
        },
        TableError::NotAFile {
            table: table(),
            path: path(),
        },
    ];
    for error in errors {
        let message = error.to_string();
        assert!(message.contains("'users'"), "{message}");
        assert!(
            message.contains("/data/tables/users/table.csv"),
            "{message}"
        );
        assert_eq!(error.table(), "users");
        assert_eq!(error.path(), Some(path().as_path()));
        assert_eq!(error.io_kind(), None);
    }
}

#[test]
fn an_invalid_write_names_the_entry_and_keeps_the_row_error() {
    let source = reedbase_concurrent_core::validate_row(&reedbase_concurrent_core::CsvRow::new(
        "k",
        ["a|b"],
    ))
    .unwrap_err();
    let error = TableError::InvalidWrite {
        table: "users".into(),
        queue_id: Some("q1".into()),
        source: Box::new(source.clone()),
    };
    assert_eq!(
        error.to_string(),
        format!("write 'q1' to table 'users' cannot be applied: {source}")
    );
    assert_eq!(error.path(), None);
    assert!(error.source().is_some());
    assert!(!error.is_fenced());
}

#[test]
fn the_error_is_small_enough_to_return_by_value() {
    // clippy's result_large_err warns from 128 bytes on.
    assert!(std::mem::size_of::<TableError>() < 128);
}
