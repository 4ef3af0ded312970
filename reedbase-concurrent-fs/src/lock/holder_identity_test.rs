// SPDX-License-Identifier: Apache-2.0
//! Tests of the process identity and liveness checks.

use std::process;

use super::{
    MAX_HOST_BYTES, host_name, is_certainly_gone, own_start_ticks, parse_start_ticks,
    sanitise_host, start_ticks,
};

/// A pid above Linux's largest `pid_max` (2^22): never a live process.
const NO_SUCH_PID: u32 = 4_000_000_000;

#[test]
fn start_ticks_are_counted_after_the_last_parenthesis() {
    let stat =
        "4242 (odd) name (x) S 1 4242 4242 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 98765 1000 50";
    assert_eq!(parse_start_ticks(stat), Some(98765));
    assert_eq!(parse_start_ticks("garbage"), None);
    assert_eq!(parse_start_ticks("1 (short) S 1 2"), None);
}

#[test]
fn host_names_are_sanitised_and_cut() {
    assert_eq!(sanitise_host("db-1.example_org"), "db-1.example_org");
    assert_eq!(sanitise_host("bad host\tname="), "bad_host_name_");
    assert_eq!(sanitise_host(&"h".repeat(200)).len(), MAX_HOST_BYTES);
    let host = host_name();
    assert!(!host.is_empty());
    assert_eq!(sanitise_host(host), host);
}

#[cfg(target_os = "linux")]
#[test]
fn this_process_is_alive_and_a_missing_pid_is_gone() {
    let pid = process::id();
    let start = own_start_ticks();
    assert!(start.is_some());
    assert_eq!(start_ticks(pid), start);
    assert!(!is_certainly_gone(pid, start, host_name()));
    assert!(!is_certainly_gone(pid, None, host_name()));
    assert!(is_certainly_gone(NO_SUCH_PID, None, host_name()));
    // The same pid with another start time is a reused pid.
    assert!(is_certainly_gone(pid, start.map(|t| t + 1), host_name()));
}

#[test]
fn a_record_from_another_host_is_never_judged_gone() {
    assert!(!is_certainly_gone(
        NO_SUCH_PID,
        None,
        "some-other-host-that-is-not-this-one"
    ));
}
