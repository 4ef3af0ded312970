// SPDX-License-Identifier: Apache-2.0
//! The old error's `Display` texts, word for word, and its `From<io::Error>`.

use super::ReedError;

#[test]
fn display_texts_are_the_old_ones() {
    let cases = [
        (
            ReedError::IoError {
                operation: "create_lock_dir".to_string(),
                reason: "denied".to_string(),
            },
            "I/O error during 'create_lock_dir': denied",
        ),
        (
            ReedError::LockTimeout {
                table: "users".to_string(),
                timeout_secs: 2,
            },
            "Lock timeout for table 'users' after 2s",
        ),
        (
            ReedError::QueueFull {
                table: "users".to_string(),
                size: 100,
            },
            "Queue full for table 'users' (100 pending)",
        ),
        (
            ReedError::InvalidQueueFile {
                path: "/q/x".to_string(),
            },
            "Invalid queue file: /q/x",
        ),
        (
            ReedError::SerializationError {
                reason: "r".to_string(),
            },
            "Serialisation error: r",
        ),
        (
            ReedError::DeserializationError {
                reason: "r".to_string(),
            },
            "Deserialisation error: r",
        ),
    ];
    for (error, text) in cases {
        assert_eq!(error.to_string(), text);
    }
}

#[test]
fn io_errors_convert_with_operation_unknown() {
    let io = std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
    match ReedError::from(io) {
        ReedError::IoError { operation, reason } => {
            assert_eq!(operation, "unknown");
            assert_eq!(reason, "gone");
        }
        other => panic!("expected IoError, got {other:?}"),
    }
}

#[test]
fn no_source_is_kept() {
    let error = ReedError::from(std::io::Error::other("x"));
    assert!(std::error::Error::source(&error).is_none());
}
