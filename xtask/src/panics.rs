// SPDX-License-Identifier: Apache-2.0
//! The text of a caught panic, for the tasks that turn a panic (a failed
//! conformance case, a missing server) into an error message.

/// The text of a panic payload.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()))
        .unwrap_or_else(|| "panicked with a non-string payload".to_string())
}
