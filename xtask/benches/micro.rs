// SPDX-License-Identifier: Apache-2.0
//! The in-process micro-benchmarks on their own, through criterion's
//! command line (`cargo xtask bench` runs the same ones and puts them in
//! its table):
//!
//! ```text
//! cargo bench -p xtask --bench micro
//! cargo bench -p xtask --bench micro -- 'queue: queue_write 1 row'
//! ```
//!
//! The benchmarks themselves live in `src/bench/micro.rs`, included here.

// Items of the included modules that only the xtask binary uses.
#![allow(dead_code, missing_docs)]

#[path = "../src/bench/micro.rs"]
mod micro;
#[path = "../src/bench/sqlite.rs"]
mod sqlite;
#[path = "../src/bench/subjects.rs"]
mod subjects;

fn main() {
    let mut criterion = micro::criterion(false).configure_from_args();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("cannot make a temporary directory: {error}"),
    };
    if let Err(error) = micro::run(&mut criterion, dir.path(), &[]) {
        panic!("{error}");
    }
    criterion.final_summary();
}
