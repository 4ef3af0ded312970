// SPDX-License-Identifier: Apache-2.0
//! The `reedbase-concurrent` binary run as an operator runs it, against a
//! base directory (and a PostgreSQL namespace) holding pending entries, an
//! unreadable entry, a dead letter and a lock held by a child process:
//! human and JSON output, exit codes, that read-only commands change
//! nothing, and `corrupt restore`.
//!
//! Its own main (no libtest harness): the binary re-runs itself as the
//! child that holds the lock, with the workspace's test-support crate
//! (`reedbase-concurrent-test-support`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_test_support as support;

mod cli_run;

use std::process::ExitCode;
use std::time::Duration;

use reedbase_concurrent_core::LockBackend;
use reedbase_concurrent_fs::FsBackend;
use reedbase_concurrent_pg::PgBackend;
use reedbase_concurrent_pg::testing::TestServer;
use support::{Runner, base_dir, child_role, line_from_parent, param, tell_parent};

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        run_child(&role);
        return ExitCode::SUCCESS;
    }
    let mut runner = Runner::from_args();
    runner.run(
        "fs_read_only_commands_report_and_change_nothing",
        cli_run::fs_read_only,
    );
    runner.run(
        "fs_restore_puts_entries_back_and_refuses_broken_ones",
        cli_run::fs_restore,
    );
    runner.run("bad_usage_exits_with_2", cli_run::bad_usage);
    runner.run(
        "fs_missing_base_is_an_error",
        cli_run::fs_missing_base_is_an_error,
    );
    runner.run(
        "fs_missing_table_is_an_error",
        cli_run::fs_missing_table_is_an_error,
    );
    runner.run("malformed_ids_exit_2", cli_run::malformed_ids_exit_2);
    runner.run(
        "short_command_lines_get_a_usage_message",
        cli_run::short_command_lines_get_a_usage_message,
    );
    runner.run(
        "a_bad_namespace_is_an_invalid_namespace",
        cli_run::a_bad_namespace_is_an_invalid_namespace,
    );
    runner.run(
        "pg_unknown_namespace_or_table_is_an_error",
        cli_run::pg_unknown_namespace_or_table_is_an_error,
    );
    runner.run(
        "pg_commands_report_the_same_over_postgresql",
        cli_run::pg_commands,
    );
    runner.finish()
}

/// A child: takes the lock of table `table` and holds it until the parent
/// sends a line (or goes away).
fn run_child(role: &str) {
    let table = param("table", "orders");
    match role {
        "hold" => {
            let backend = FsBackend::new(base_dir());
            let _guard = backend
                .acquire_lock(&table, Duration::from_secs(10))
                .unwrap();
            tell_parent("held");
            let _ = line_from_parent();
        }
        "hold_pg" => {
            let server = TestServer::find("lock-holding child").expect("the parent found one");
            let backend = PgBackend::connect(server.tcp_url(), &param("namespace", "")).unwrap();
            let _guard = backend
                .acquire_lock(&table, Duration::from_secs(10))
                .unwrap();
            tell_parent("held");
            let _ = line_from_parent();
        }
        other => panic!("unknown child role {other:?}"),
    }
}
