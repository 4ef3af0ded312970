// SPDX-License-Identifier: Apache-2.0
//! The `table_writers` example, run as a user would run it: several
//! writer processes through the coordinator and the table writer, a
//! background drainer, the start-up drain, and the example's own check of
//! the table, on the per-write and the batch path; on the fs backend, and
//! on the pg backend with the writers connected over TCP as hosts sharing
//! the base directory (skipped without a server, a failure with
//! `REEDBASE_PG_REQUIRED=1`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_test_support as support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_table::TableWriter;
use support::ChildProcess;

/// No wait here is longer; a hang is a failure, not a stall.
const PATIENCE: Duration = Duration::from_secs(120);

/// Runs the example with 3 writers x 30 rows and `extra` arguments on a
/// fresh base directory; checks that it verified its table and that the
/// table holds the 90 rows; returns the table's writer.
fn run_example(extra: &[&str]) -> (tempfile::TempDir, TableWriter) {
    let dir = tempfile::tempdir().unwrap();
    let mut command = Command::new(example());
    command
        .args(["--writers", "3", "--rows", "30", "--dir"])
        .arg(dir.path())
        .args(extra);
    let lines = ChildProcess::start("table_writers", command)
        .and_then(|child| child.finish(PATIENCE))
        .unwrap();
    let output = lines.join("\n");
    assert!(
        output.contains("verified:"),
        "example did not verify: {output}"
    );
    let writer = TableWriter::new(dir.path(), "users").unwrap();
    assert_eq!(writer.committed_lines().unwrap().len(), 90, "{output}");
    (dir, writer)
}

#[test]
fn table_writers_example_verifies_its_table_on_both_paths() {
    for extra in [&[][..], &["--batch"]] {
        let (_dir, writer) = run_example(extra);
        let status = writer.status().unwrap();
        assert_eq!(status.highest_token, None, "fs hands out no token");
    }
}

/// Four writer processes with 0 ms lock timeouts push far more writes than
/// the queue holds (capacity 100): with `wait_for_room` none is handed back
/// (the example fails on any hand-back) and every row lands once, in order.
#[test]
fn table_writers_with_zero_lock_timeouts_lose_no_write_in_the_caller() {
    for extra in [&[][..], &["--batch"]] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(example());
        command
            .args(["--writers", "4", "--rows", "150", "--lock-timeout-ms", "0"])
            .arg("--dir")
            .arg(dir.path())
            .args(extra);
        let lines = ChildProcess::start("table_writers", command)
            .and_then(|child| child.finish(PATIENCE))
            .unwrap();
        let output = lines.join("\n");
        assert!(output.contains("verified:"), "{extra:?}: {output}");
        let writer = TableWriter::new(dir.path(), "users").unwrap();
        assert_eq!(writer.committed_lines().unwrap().len(), 600, "{output}");
    }
}

#[test]
fn table_writers_example_verifies_its_table_on_pg() {
    let Some(server) = TestServer::find("table_writers_example_verifies_its_table_on_pg") else {
        return;
    };
    let run = server.run("table_writers_example");
    for batch in [false, true] {
        let namespace = run.namespace();
        let mut extra = vec!["--backend", "pg", "--url", server.tcp_url()];
        extra.extend(["--namespace", &namespace]);
        if batch {
            extra.push("--batch");
        }
        let (_dir, writer) = run_example(&extra);
        let status = writer.status().unwrap();
        assert!(
            status.highest_token.is_some_and(|token| token > 0),
            "the journal records the fencing token of the last step: {status:?}"
        );
    }
}

/// The example's binary: tests run from target/<profile>/deps, and `cargo
/// test` builds the package's examples into target/<profile>/examples
/// before.
fn example() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let example = exe
        .parent()
        .and_then(Path::parent)
        .unwrap()
        .join("examples")
        .join(format!("table_writers{}", std::env::consts::EXE_SUFFIX));
    assert!(
        example.exists(),
        "example not built at {}: run `cargo test -p reedbase-concurrent-table` (or the \
         workspace), which builds examples before tests",
        example.display()
    );
    example
}
