// SPDX-License-Identifier: Apache-2.0
//! Runs the backend conformance suite (`reedbase-concurrent-conformance`) against
//! [`FsBackend`], unchanged, each case on a fresh base directory under one
//! temporary directory: with the default options (durable, JSON, capacity
//! 100), with relaxed durability, postcard and the smallest capacity the
//! suite accepts, so that the capacity edges and the other codec are checked
//! as well, and without the queue watch (every call lists, as where inotify
//! cannot be had).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};

use reedbase_concurrent_conformance as conformance;
use reedbase_concurrent_fs::{Codec, Durability, FsBackend, FsOptions};

/// Runs the whole suite, each case on its own fresh base directory.
fn run_suite(options: FsOptions) {
    let root = tempfile::tempdir().unwrap();
    let next = AtomicUsize::new(0);
    conformance::run_all(|| {
        let n = next.fetch_add(1, Ordering::Relaxed);
        FsBackend::with_options(root.path().join(format!("case-{n:03}")), options)
    });
    assert!(next.load(Ordering::Relaxed) > 0, "the suite ran no case");
}

#[test]
fn fs_backend_passes_conformance_suite() {
    run_suite(FsOptions::default());
}

#[test]
fn fs_backend_relaxed_postcard_small_capacity_passes_conformance_suite() {
    run_suite(
        FsOptions::new()
            .durability(Durability::Relaxed)
            .codec(Codec::Postcard)
            .capacity(conformance::MIN_CAPACITY),
    );
}

#[test]
fn fs_backend_without_the_queue_watch_passes_conformance_suite() {
    run_suite(
        FsOptions::new()
            .watch_queues(false)
            .capacity(conformance::MIN_CAPACITY),
    );
}
