// SPDX-License-Identifier: Apache-2.0
//! What the libraries' tracing events cost on the fast paths when no
//! subscriber listens: an uncontended acquire and release of an fs table
//! lock, and a relaxed one-row `queue_write` into an empty queue.
//!
//! Build it twice, with the events compiled in and compiled out, and run
//! the two binaries in turns (each run prints one line of medians):
//!
//! ```text
//! cargo build --release -p reedbase-concurrent-cli --example event_cost
//! cp target/release/examples/event_cost /tmp/event_cost_on
//! cargo build --release -p reedbase-concurrent-cli --example event_cost --features tracing/max_level_off
//! cp target/release/examples/event_cost /tmp/event_cost_off
//! for i in 1 2 3 4 5; do /tmp/event_cost_on; /tmp/event_cost_off; done
//! ```
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use reedbase_concurrent_core::{CsvRow, LockBackend, PendingWrite, QueueBackend, WriteOperation};
use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};

const SAMPLES: usize = 21;
const LOCKS_PER_SAMPLE: u32 = 2_000;
const WRITES_PER_SAMPLE: u32 = 200;

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples[samples.len() / 2]
}

fn main() {
    let events =
        if tracing::level_filters::STATIC_MAX_LEVEL == tracing::level_filters::LevelFilter::OFF {
            "off"
        } else {
            "on"
        };
    let dir = tempfile::tempdir().unwrap();
    let backend =
        FsBackend::with_options(dir.path(), FsOptions::new().durability(Durability::Relaxed));
    drop(backend.acquire_lock("t", Duration::from_secs(1)).unwrap());
    let lock_us = median(
        (0..SAMPLES)
            .map(|_| {
                let start = Instant::now();
                for _ in 0..LOCKS_PER_SAMPLE {
                    drop(backend.acquire_lock("t", Duration::from_secs(1)).unwrap());
                }
                start.elapsed().as_secs_f64() * 1e6 / f64::from(LOCKS_PER_SAMPLE)
            })
            .collect(),
    );
    let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
    let write_us = median(
        (0..SAMPLES)
            .map(|_| {
                let mut spent = Duration::ZERO;
                for _ in 0..WRITES_PER_SAMPLE {
                    let start = Instant::now();
                    let id = backend.queue_write("q", &write).unwrap();
                    spent += start.elapsed();
                    backend.remove_from_queue("q", &id).unwrap();
                }
                spent.as_secs_f64() * 1e6 / f64::from(WRITES_PER_SAMPLE)
            })
            .collect(),
    );
    println!(
        "events {events}: acquire+release {lock_us:.2} us, queue_write relaxed {write_us:.2} us"
    );
}
