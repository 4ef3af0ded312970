// SPDX-License-Identifier: Apache-2.0
//! Tests of the back-off and the deadline-bounded poll.

use std::cell::Cell;
use std::io;
use std::path::Path;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedError;

use super::wait::{Backoff, FIRST_PAUSE, MAX_PAUSE, Polled, poll_until};

#[test]
fn pauses_double_up_to_the_cap() {
    let mut backoff = Backoff::new();
    let pauses: Vec<Duration> = (0..8).map(|_| backoff.next_pause()).collect();
    assert_eq!(pauses[0], FIRST_PAUSE);
    assert_eq!(pauses[1], FIRST_PAUSE * 2);
    assert!(pauses.windows(2).all(|pair| pair[1] >= pair[0]));
    assert_eq!(*pauses.last().unwrap(), MAX_PAUSE);
    assert!(pauses.iter().all(|pause| *pause <= MAX_PAUSE));
}

#[test]
fn a_zero_timeout_makes_exactly_one_attempt() {
    let attempts = Cell::new(0);
    let polled = poll_until(Instant::now(), Duration::ZERO, || {
        attempts.set(attempts.get() + 1);
        Ok(None::<()>)
    })
    .unwrap();
    assert!(matches!(polled, Polled::TimedOut(_)));
    assert_eq!(attempts.get(), 1);
}

#[test]
fn a_success_after_some_attempts_is_returned() {
    let attempts = Cell::new(0);
    let polled = poll_until(Instant::now(), Duration::from_secs(30), || {
        attempts.set(attempts.get() + 1);
        Ok((attempts.get() == 5).then_some("taken"))
    })
    .unwrap();
    assert_eq!(polled, Polled::Ready("taken"));
    assert_eq!(attempts.get(), 5);
}

#[test]
fn an_error_is_returned_at_once_and_not_retried() {
    let attempts = Cell::new(0);
    let source = io::Error::from(io::ErrorKind::PermissionDenied);
    let result = poll_until(Instant::now(), Duration::from_secs(30), || {
        attempts.set(attempts.get() + 1);
        Err::<Option<()>, _>(ReedError::io("lock_file", Path::new("/x"), &source))
    });
    assert_eq!(
        result.unwrap_err().io_kind(),
        Some(io::ErrorKind::PermissionDenied)
    );
    assert_eq!(attempts.get(), 1);
}

#[test]
fn a_timeout_reports_at_least_the_time_asked_for() {
    let timeout = Duration::from_millis(30);
    let attempts = Cell::new(0);
    let polled = poll_until(Instant::now(), timeout, || {
        attempts.set(attempts.get() + 1);
        Ok(None::<()>)
    })
    .unwrap();
    let Polled::TimedOut(waited) = polled else {
        panic!("expected a timeout, got {polled:?}");
    };
    assert!(waited >= timeout, "waited {waited:?}");
    assert!(attempts.get() > 2, "only {} attempts", attempts.get());
}
