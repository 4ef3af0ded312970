// SPDX-License-Identifier: Apache-2.0
//! Tests of taking turns within one process: a release learns the claims,
//! the next acquisition lets them go first, lapsed claims and claims of
//! processes that are gone are passed over, and a waiter claims a turn and
//! takes it back. The bound across processes is checked by the
//! multi-process test `turns_are_taken` (`tests/multiprocess_lock.rs`).

use std::fs::{File, OpenOptions};
use std::path::Path;
use std::thread;
use std::time::Duration;

use reedbase_concurrent_test_support::wait_until;

use super::{CLAIM_AFTER, now_ns};
use crate::lock::holder::{host_name, own_start_ticks};
use crate::lock::turn_record::{BLANK, Claim, SLOT_LEN, encode_claim, read_claims, write_slot};
use crate::lock::{acquire_lock, claimed_turns, is_locked, try_acquire_lock};

const LONG: Duration = Duration::from_secs(30);
const TABLE: &str = "users";

/// The lock file of `TABLE`, made by one acquisition.
fn lock_file(base: &Path) -> File {
    drop(acquire_lock(base, TABLE, LONG).unwrap());
    OpenOptions::new()
        .read(true)
        .write(true)
        .open(base.join("tables/users/write.lock"))
        .unwrap()
}

/// A claim of this process (under a claim id its waits never use), made a
/// second ago and lapsing in `lapses_in` nanoseconds (or lapsed).
fn claim_of_this_process(lapses_in: i64) -> Claim {
    let now = now_ns();
    Claim {
        pid: std::process::id(),
        start_ticks: own_start_ticks(),
        host: host_name().to_string(),
        id: u64::MAX - 1,
        since_ns: now - 1_000_000_000,
        until_ns: now.saturating_add_signed(lapses_in),
    }
}

fn all_blank(file: &File) -> bool {
    let mut slots = Vec::new();
    let mut reader = file.try_clone().unwrap();
    std::io::Seek::seek(&mut reader, std::io::SeekFrom::Start(256)).unwrap();
    std::io::Read::read_to_end(&mut reader, &mut slots).unwrap();
    // A slot never written reads as zero bytes.
    slots
        .chunks(SLOT_LEN)
        .all(|slot| slot == BLANK || slot.iter().all(|&byte| byte == 0))
}

#[test]
fn the_next_acquisition_lets_a_claim_learnt_at_release_go_first() {
    let dir = tempfile::tempdir().unwrap();
    let file = lock_file(dir.path());
    write_slot(
        &file,
        3,
        &encode_claim(&claim_of_this_process(10_000_000_000)),
    )
    .unwrap();
    // Learnt when this guard is released.
    drop(acquire_lock(dir.path(), TABLE, LONG).unwrap());
    let turns = claimed_turns(dir.path(), TABLE).unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].pid, std::process::id());
    assert!(!is_locked(dir.path(), TABLE).unwrap(), "the lock is free");
    assert!(
        try_acquire_lock(dir.path(), TABLE).unwrap().is_none(),
        "but it is the claimant's turn"
    );
    write_slot(&file, 3, &BLANK).unwrap();
    assert!(try_acquire_lock(dir.path(), TABLE).unwrap().is_some());
}

#[test]
fn a_lapsed_claim_goes_before_nobody() {
    let dir = tempfile::tempdir().unwrap();
    let file = lock_file(dir.path());
    write_slot(&file, 0, &encode_claim(&claim_of_this_process(-1))).unwrap();
    drop(acquire_lock(dir.path(), TABLE, LONG).unwrap());
    assert!(claimed_turns(dir.path(), TABLE).unwrap().is_empty());
    assert!(try_acquire_lock(dir.path(), TABLE).unwrap().is_some());
}

#[test]
fn a_claim_of_a_process_that_is_gone_is_passed_over_and_blanked() {
    let dir = tempfile::tempdir().unwrap();
    let file = lock_file(dir.path());
    // This pid, but a process that started at another time: its pid was
    // reused, so the claimant is certainly gone.
    let gone = Claim {
        start_ticks: Some(own_start_ticks().unwrap_or(0) + 1),
        ..claim_of_this_process(10_000_000_000)
    };
    write_slot(&file, 6, &encode_claim(&gone)).unwrap();
    drop(acquire_lock(dir.path(), TABLE, LONG).unwrap());
    assert!(claimed_turns(dir.path(), TABLE).unwrap().is_empty());
    // Waits until it checks the claimant, then takes the lock.
    drop(acquire_lock(dir.path(), TABLE, LONG).unwrap());
    assert_eq!(read_claims(&file).unwrap(), []);
    assert!(all_blank(&file));
}

#[test]
fn a_waiter_claims_a_turn_and_takes_it_back_as_it_releases() {
    let dir = tempfile::tempdir().unwrap();
    let file = lock_file(dir.path());
    let guard = acquire_lock(dir.path(), TABLE, LONG).unwrap();
    let base = dir.path().to_path_buf();
    let waiter = thread::spawn(move || {
        let held = acquire_lock(&base, TABLE, LONG).unwrap();
        let while_held = claimed_turns(&base, TABLE).unwrap();
        drop(held);
        (while_held, claimed_turns(&base, TABLE).unwrap())
    });
    let claimed = || !claimed_turns(dir.path(), TABLE).unwrap().is_empty();
    assert!(
        wait_until(LONG, claimed),
        "the waiter claims a turn after {CLAIM_AFTER:?}"
    );
    let turns = claimed_turns(dir.path(), TABLE).unwrap();
    assert_eq!(turns.len(), 1);
    assert_eq!(turns[0].pid, std::process::id());
    drop(guard);
    let (while_held, after) = waiter.join().unwrap();
    assert_eq!(
        while_held, turns,
        "listed while the claimant holds the lock"
    );
    assert_eq!(after, [], "taken back with the lock");
    assert!(all_blank(&file));
}

#[test]
fn a_waiter_that_times_out_takes_its_claim_back() {
    let dir = tempfile::tempdir().unwrap();
    let file = lock_file(dir.path());
    let _guard = acquire_lock(dir.path(), TABLE, LONG).unwrap();
    let timeout = CLAIM_AFTER * 20;
    let error = acquire_lock(dir.path(), TABLE, timeout).unwrap_err();
    assert!(error.is_lock_timeout(), "{error}");
    assert!(claimed_turns(dir.path(), TABLE).unwrap().is_empty());
    assert!(all_blank(&file), "it had claimed one");
}
