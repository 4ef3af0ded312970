// SPDX-License-Identifier: Apache-2.0
//! Core's conformance suite against the old behaviour, through
//! [`LastBackend`]: everything but [`EXPECTED_FAILURES`] must pass, and every
//! case in [`EXPECTED_FAILURES`] must really fail.
//!
//! Each case gets a fresh backend whose base directory is `<tmp>/a/b`, two
//! levels inside its own temporary directory, so that the `..` escapes the
//! old module allows stay inside that temporary directory.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Mutex;

use reedbase_concurrent_core::conformance::{case_named, run_all_except, run_case};
use reedbase_last::{EXPECTED_FAILURES, LastBackend};
use tempfile::TempDir;

/// Makes fresh backends, each on its own temporary directory, and keeps
/// those directories until it is dropped.
struct Bases {
    dirs: Mutex<Vec<TempDir>>,
}

impl Bases {
    fn new() -> Bases {
        Bases {
            dirs: Mutex::new(Vec::new()),
        }
    }

    fn make(&self) -> LastBackend {
        let dir = tempfile::tempdir().expect("temporary directory");
        let base = dir.path().join("a").join("b");
        std::fs::create_dir_all(&base).expect("base directory");
        self.dirs.lock().expect("directory list").push(dir);
        LastBackend::new(base)
    }
}

#[test]
fn conformance_suite_minus_expected_failures() {
    let bases = Bases::new();
    let skip: Vec<&str> = EXPECTED_FAILURES.iter().map(|(name, _)| *name).collect();
    run_all_except(|| bases.make(), &skip);
}

#[test]
fn expected_failures_really_fail() {
    let bases = Bases::new();
    let mut passed = Vec::new();
    for (name, reason) in EXPECTED_FAILURES {
        let case = case_named::<LastBackend>(name)
            .unwrap_or_else(|| panic!("{name:?} is not a conformance case"));
        if run_case(&case, || bases.make()).is_ok() {
            passed.push(format!("{name} (listed because: {reason})"));
        }
    }
    assert!(
        passed.is_empty(),
        "listed as expected failures but passed against the old behaviour:\n{}",
        passed.join("\n")
    );
}

/// Runs every expected failure `REEDBASE_LAST_REPEAT` times (default 10),
/// prints how often each failed, and asserts that each failed every time.
/// Slow; run it with `--ignored --nocapture` after changing the list or
/// the suite.
#[test]
#[ignore = "slow: measures how reliably each expected failure fails"]
fn expected_failures_fail_every_time() {
    let rounds: usize = std::env::var("REEDBASE_LAST_REPEAT")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(10);
    let bases = Bases::new();
    let mut unreliable = Vec::new();
    for (name, _) in EXPECTED_FAILURES {
        let case = case_named::<LastBackend>(name).expect("a conformance case");
        let failed = (0..rounds)
            .filter(|_| run_case(&case, || bases.make()).is_err())
            .count();
        println!("{name}: failed {failed} of {rounds}");
        if failed != rounds {
            unreliable.push(format!("{name}: failed {failed} of {rounds}"));
        }
    }
    assert!(unreliable.is_empty(), "{}", unreliable.join("\n"));
}
