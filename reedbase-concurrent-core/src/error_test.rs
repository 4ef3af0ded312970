// SPDX-License-Identifier: Apache-2.0
//! Tests of `error.rs`: messages that name what they are about, I/O errors
//! that keep their kind, and the predicates.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{NameRule, ReedError, RowField, RowRule};

/// One error of every variant.
fn one_of_each() -> Vec<ReedError> {
    vec![
        ReedError::io(
            "create_lock_file",
            Path::new("/data/tables/users/write.lock"),
            &io::Error::from(io::ErrorKind::PermissionDenied),
        ),
        ReedError::LockTimeout {
            table: "users".into(),
            waited: Duration::from_millis(502),
        },
        ReedError::QueueFull {
            table: "users".into(),
            size: 100,
        },
        ReedError::InvalidQueueFile {
            path: PathBuf::from("/data/tables/users/queue/x.pending"),
            reason: "not a queue id".into(),
        },
        ReedError::SerializationError {
            reason: "key must be a string".into(),
        },
        ReedError::DeserializationError {
            reason: "EOF while parsing".into(),
        },
        ReedError::InvalidTableName {
            name: "../x".into(),
            rule: NameRule::LeadingDot,
        },
        ReedError::InvalidQueueId {
            id: "../../x".into(),
            rule: NameRule::PathSeparator,
        },
        ReedError::InvalidRow {
            key: "user:1".into(),
            field: RowField::Value(2),
            rule: RowRule::ContainsDelimiter,
        },
        ReedError::QueueEntryNotFound {
            table: "users".into(),
            queue_id: "mem-1".into(),
        },
        ReedError::CorruptEntry {
            table: "users".into(),
            queue_id: "abc".into(),
            moved_to: PathBuf::from("/data/tables/users/queue/corrupt/abc.pending"),
            reason: "truncated".into(),
        },
    ]
}

#[test]
fn io_keeps_operation_path_kind_and_reason() {
    let source = io::Error::new(io::ErrorKind::StorageFull, "no space left on device");
    let error = ReedError::io("write_queue_file", Path::new("/q/1.pending"), &source);
    assert_eq!(
        error,
        ReedError::IoError {
            operation: "write_queue_file",
            path: PathBuf::from("/q/1.pending"),
            kind: io::ErrorKind::StorageFull,
            reason: "no space left on device".into(),
        }
    );
    assert_eq!(error.io_kind(), Some(io::ErrorKind::StorageFull));
}

#[test]
fn io_kind_is_none_for_other_errors() {
    for error in one_of_each().into_iter().skip(1) {
        assert_eq!(error.io_kind(), None, "{error:?}");
    }
}

#[test]
fn io_error_message_names_operation_path_and_kind() {
    let source = io::Error::from(io::ErrorKind::PermissionDenied);
    let message =
        ReedError::io("create_lock_dir", Path::new("/data/tables/t"), &source).to_string();
    assert!(message.contains("create_lock_dir"), "{message}");
    assert!(message.contains("/data/tables/t"), "{message}");
    assert!(message.contains("PermissionDenied"), "{message}");
}

#[test]
fn lock_timeout_message_names_table_and_real_wait() {
    let error = ReedError::LockTimeout {
        table: "users".into(),
        waited: Duration::from_millis(502),
    };
    let message = error.to_string();
    assert!(message.contains("'users'"), "{message}");
    assert!(message.contains("502ms"), "{message}");
}

#[test]
fn every_message_names_what_it_is_about() {
    let expected: [&[&str]; 11] = [
        &["create_lock_file", "/data/tables/users/write.lock"],
        &["users", "502ms"],
        &["users", "100"],
        &["/data/tables/users/queue/x.pending", "not a queue id"],
        &["serialise", "key must be a string"],
        &["deserialise", "EOF while parsing"],
        &["\"../x\"", "must not start with '.'"],
        &["\"../../x\"", "'/'"],
        &["\"user:1\"", "value 2", "'|'"],
        &["mem-1", "users", "does not exist"],
        &[
            "abc",
            "users",
            "truncated",
            "/data/tables/users/queue/corrupt/abc.pending",
        ],
    ];
    for (error, parts) in one_of_each().iter().zip(expected) {
        let message = error.to_string();
        for part in parts {
            assert!(
                message.contains(part),
                "{error:?} displays as {message:?}, without {part:?}"
            );
        }
    }
}

#[test]
fn predicates_pick_their_variants() {
    for error in one_of_each() {
        let timeout = matches!(error, ReedError::LockTimeout { .. });
        let full = matches!(error, ReedError::QueueFull { .. });
        let input = matches!(
            error,
            ReedError::InvalidTableName { .. }
                | ReedError::InvalidQueueId { .. }
                | ReedError::InvalidRow { .. }
        );
        assert_eq!(
            error.is_lock_timeout(),
            timeout,
            "is_lock_timeout of {error:?}"
        );
        assert_eq!(error.is_queue_full(), full, "is_queue_full of {error:?}");
        assert_eq!(
            error.is_invalid_input(),
            input,
            "is_invalid_input of {error:?}"
        );
    }
}

#[test]
fn reed_error_is_a_std_error_and_clone() {
    let error = ReedError::QueueFull {
        table: "t".into(),
        size: 1,
    };
    let copy = error.clone();
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(copy);
    assert_eq!(boxed.to_string(), error.to_string());
    assert!(boxed.source().is_none());
}
