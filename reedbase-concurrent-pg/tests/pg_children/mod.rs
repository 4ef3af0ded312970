// SPDX-License-Identifier: Apache-2.0
//! The frame of the pg multi-process test binaries (`harness = false`): in
//! a child process (its role in `REEDBASE_TEST_CHILD`, see the fs crate's
//! test `support` module), connect over TCP to the namespace the parent
//! named, as a ReedBase process on another host would, and play the role;
//! in the parent, find the server and run each scenario in a fresh
//! namespace of one test run, removed at the end.

use std::path::Path;
use std::process::ExitCode;

use reedbase_concurrent_pg::PgBackend;
use reedbase_concurrent_pg::testing::TestServer;

use crate::pg_support::child_backend;
use crate::support::{Runner, base_dir, child_role, param};

/// What a scenario returns: `Err` with what went wrong.
pub type Outcome = Result<(), String>;
/// A scenario: the server and a fresh namespace of the run.
pub type Scenario = fn(&TestServer, &str) -> Outcome;
/// A child's role: its name, the backend and the base directory.
pub type Role = fn(&str, &PgBackend, &Path);

/// The `main` of a multi-process test binary.
pub fn run(label: &str, role: Role, scenarios: &[(&str, Scenario)]) -> ExitCode {
    if let Some(name) = child_role() {
        let capacity = param("capacity", "100").parse().unwrap();
        let backend = child_backend(&param("ns", ""), capacity);
        role(&name, &backend, &base_dir());
        return ExitCode::SUCCESS;
    }
    let mut runner = Runner::from_args();
    let Some(server) = TestServer::find(label) else {
        return runner.finish();
    };
    let run = server.run(label);
    for (name, scenario) in scenarios {
        let namespace = run.namespace();
        let server = &server;
        runner.run(name, move || scenario(server, &namespace));
    }
    runner.finish()
}
