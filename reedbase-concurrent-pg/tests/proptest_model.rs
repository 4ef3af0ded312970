// SPDX-License-Identifier: Apache-2.0
//! Model test: random sequences of every operation (locks, queue, batches,
//! dead letters, the coordinator per write and in batches) run against a
//! [`PgBackend`] on a real server and against the conformance crate's reference model, which
//! must agree at every step. The operations, their strategy and the model
//! live in `reedbase_concurrent_conformance::model`, shared by every
//! backend.
//!
//! Each case runs in a fresh namespace (capacity 3, so that full queues
//! come up often; durable or relaxed, drawn with the case), removed after
//! it. Every step is a few round trips to the server, so the run has
//! [`CASES`] cases, not the 256 of the mem and fs backends; set
//! `PROPTEST_CASES` to run more. Without a server the test prints one
//! `SKIPPED:` line (a failure with `REEDBASE_PG_REQUIRED=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use proptest::prelude::*;
use reedbase_concurrent_conformance::model;
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{Durability, PgBackend, PgOptions};

/// Cases per run unless `PROPTEST_CASES` says otherwise: about 3 s against
/// the local server.
const CASES: u32 = 32;

/// Steps of a generated trace (the epilogue comes on top).
const STEPS: usize = 40;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|cases| cases.parse().ok())
        .unwrap_or(CASES)
}

/// The server, looked for once (one `SKIPPED:` line, not one per case).
fn server() -> Option<&'static TestServer> {
    static SERVER: OnceLock<Option<TestServer>> = OnceLock::new();
    SERVER
        .get_or_init(|| TestServer::find("pg_backend_agrees_with_the_model"))
        .as_ref()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases()))]

    #[test]
    fn pg_backend_agrees_with_the_model(ops in model::ops(STEPS), relaxed in any::<bool>()) {
        let Some(server) = server() else {
            return Ok(());
        };
        let durability = if relaxed { Durability::Relaxed } else { Durability::Durable };
        let options = PgOptions::new().capacity(3).durability(durability);
        let namespace = server.fresh_namespace("model");
        let backend = PgBackend::connect_with(server.url(), &namespace, options).unwrap();
        let checked = model::check(&backend, &ops);
        backend.drop_namespace().unwrap();
        checked?;
    }
}
