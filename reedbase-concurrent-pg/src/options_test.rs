// SPDX-License-Identifier: Apache-2.0
use std::time::Duration;

use super::*;

#[test]
fn server_millis_rounds_up_and_never_gives_zero() {
    assert_eq!(server_millis(Duration::ZERO), 1);
    assert_eq!(server_millis(Duration::from_micros(1)), 1);
    assert_eq!(server_millis(Duration::from_micros(1_001)), 2);
    assert_eq!(server_millis(Duration::from_millis(250)), 250);
}

#[test]
fn server_millis_is_capped_at_what_the_server_accepts() {
    assert_eq!(
        server_millis(Duration::from_secs(u64::MAX)),
        i32::MAX as u64
    );
    assert_eq!(
        server_millis(Duration::from_millis(i32::MAX as u64 + 5)),
        i32::MAX as u64
    );
}

#[test]
fn setters_keep_their_lower_bounds() {
    let options = PgOptions::new()
        .pool_size(0)
        .connect_timeout(Duration::ZERO)
        .queue_timeout(Duration::ZERO);
    assert_eq!(options.pool_size, 1);
    assert_eq!(options.connect_timeout, Duration::from_millis(1));
    assert_eq!(options.queue_timeout, Duration::from_millis(1));
}

#[test]
fn call_timeout_and_lease_keep_their_lower_bounds() {
    let options = PgOptions::new()
        .call_timeout(Duration::ZERO)
        .lease(Duration::from_millis(10));
    assert_eq!(options.call_timeout, Duration::from_millis(1));
    assert_eq!(options.lease, Duration::from_secs(1));
    assert_eq!(options.heartbeat(), Duration::from_millis(250));
}
