// SPDX-License-Identifier: Apache-2.0
//! Tests of `error.rs`: messages that name what they are about, I/O errors
//! that keep their kind, and the predicates.

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::{LockHolder, MovedAside, NameRule, ReedError, RowField, RowRule};

/// One error of every variant.
fn one_of_each() -> Vec<ReedError> {
    vec![
        ReedError::io(
            "create_lock_file",
            Path::new("/data/tables/users/write.lock"),
            &io::Error::from(io::ErrorKind::PermissionDenied),
        ),
        ReedError::lock_timeout("users", Duration::from_millis(502)),
        ReedError::queue_full("users", 100),
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
            rule: NameRule::PathSeparator,
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
        ReedError::entry_not_found("users", "mem-1"),
        ReedError::moved_aside(
            "users",
            &MovedAside::new(
                "abc",
                "truncated",
                "/data/tables/users/queue/corrupt/abc.pending",
            ),
        ),
        ReedError::queue_busy("users", Duration::from_millis(250)),
        ReedError::lock_lost("users", "write.lock was replaced"),
        ReedError::WaitTimeout {
            table: "users".into(),
            queue_id: "q-7".into(),
            waited: Duration::from_secs(3),
        },
        ReedError::ServerError {
            operation: "connect",
            server: "db-1:5432/reed".into(),
            code: Some("28000".into()),
            reason: "role does not exist".into(),
        },
        ReedError::outcome_unknown("users", "q-9", "the queue directory's fsync failed"),
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
    let error = ReedError::lock_timeout("users", Duration::from_millis(502));
    assert_eq!(
        error.to_string(),
        "timed out after 502.0 ms waiting for the lock of table 'users'"
    );
    assert_eq!(error.holder(), None);
}

#[test]
fn lock_timeout_names_a_known_holder() {
    let holder = LockHolder::new(Some(4242), Some("db-1".into()), None);
    let error = ReedError::lock_timeout("orders", Duration::from_millis(100))
        .with_holder(Some(holder.clone()));
    assert_eq!(error.holder(), Some(&holder));
    assert!(
        error.to_string().ends_with(", held by pid 4242 on db-1"),
        "{error}"
    );
    let unknown =
        ReedError::lock_timeout("orders", Duration::ZERO).with_holder(Some(LockHolder::unknown()));
    assert_eq!(unknown.holder(), None, "an unknown holder is not named");
    let other = ReedError::queue_full("orders", 1).with_holder(Some(holder));
    assert_eq!(other, ReedError::queue_full("orders", 1));
}

#[test]
fn queue_full_message_says_what_to_do() {
    let message = ReedError::queue_full("orders", 100).to_string();
    for part in [
        "'orders'",
        "100 pending",
        "retry later",
        "drain",
        "capacity",
    ] {
        assert!(message.contains(part), "{message} lacks {part:?}");
    }
}

#[test]
fn every_message_names_what_it_is_about() {
    let expected: [&[&str]; 16] = [
        &["create_lock_file", "/data/tables/users/write.lock"],
        &["users", "502.0 ms"],
        &["users", "100"],
        &["/data/tables/users/queue/x.pending", "not a queue id"],
        &["serialise", "key must be a string"],
        &["deserialise", "EOF while parsing"],
        &["\"../x\"", "would leave the base directory"],
        &["\"../../x\"", "'/'"],
        &["\"user:1\"", "value 3 (column 4)", "'|'"],
        &["mem-1", "users", "does not exist"],
        &[
            "abc",
            "users",
            "truncated",
            "/data/tables/users/queue/corrupt/abc.pending",
        ],
        &["users", "250.0 ms", "nothing was written"],
        &["users", "write.lock was replaced", "lost"],
        &["users", "q-7", "3.00 s"],
        &["connect", "db-1:5432/reed", "28000", "role does not exist"],
        &["users", "q-9", "fsync failed", "do not queue it again"],
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
        let busy = matches!(error, ReedError::QueueBusy { .. });
        let lost = matches!(error, ReedError::LockLost { .. });
        let not_found = matches!(error, ReedError::QueueEntryNotFound { .. });
        let unknown = matches!(error, ReedError::QueueOutcomeUnknown { .. });
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
        assert_eq!(error.is_queue_busy(), busy, "is_queue_busy of {error:?}");
        assert_eq!(error.is_lock_lost(), lost, "is_lock_lost of {error:?}");
        assert_eq!(error.is_not_found(), not_found, "is_not_found of {error:?}");
        assert_eq!(
            error.is_outcome_unknown(),
            unknown,
            "is_outcome_unknown of {error:?}"
        );
        assert_eq!(
            error.is_invalid_input(),
            input,
            "is_invalid_input of {error:?}"
        );
    }
}

#[test]
fn reed_error_is_a_std_error_and_clone() {
    let error = ReedError::queue_full("t", 1);
    let copy = error.clone();
    let boxed: Box<dyn std::error::Error + Send + Sync> = Box::new(copy);
    assert_eq!(boxed.to_string(), error.to_string());
    assert!(boxed.source().is_none());
}
