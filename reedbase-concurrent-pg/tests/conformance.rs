// SPDX-License-Identifier: Apache-2.0
//! Runs the backend conformance suite (`reedbase-concurrent-conformance`) against
//! [`PgBackend`] on a real server, unchanged, each case in a fresh
//! namespace of one test run (removed afterwards): with the default options
//! (durable, capacity 100), and with relaxed durability and the smallest
//! capacity the suite accepts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_conformance as conformance;
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{Durability, PgOptions};

fn run_suite(what: &str, options: PgOptions) {
    let Some(server) = TestServer::find(what) else {
        return;
    };
    let run = server.run("conformance");
    conformance::run_all(|| run.backend(options.clone()).unwrap());
}

#[test]
fn pg_backend_passes_conformance_suite() {
    run_suite("pg_backend_passes_conformance_suite", PgOptions::new());
}

#[test]
fn pg_backend_relaxed_small_capacity_passes_conformance_suite() {
    run_suite(
        "pg_backend_relaxed_small_capacity_passes_conformance_suite",
        PgOptions::new()
            .durability(Durability::Relaxed)
            .capacity(conformance::MIN_CAPACITY),
    );
}
