// SPDX-License-Identifier: Apache-2.0
//! The `table_writers` example, run as a user would run it: several
//! writer processes through the coordinator and the table writer, a
//! background drainer, the start-up drain, and the example's own check of
//! the table, on the per-write and the batch path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use reedbase_concurrent_table::TableWriter;
use support::Child;

/// No wait here is longer; a hang is a failure, not a stall.
const PATIENCE: Duration = Duration::from_secs(120);

#[test]
fn table_writers_example_verifies_its_table_on_both_paths() {
    // Tests run from target/<profile>/deps; `cargo test` builds the
    // package's examples into target/<profile>/examples before.
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
    for batch in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let mut command = Command::new(&example);
        command
            .args(["--writers", "3", "--rows", "30", "--dir"])
            .arg(dir.path());
        if batch {
            command.arg("--batch");
        }
        let lines = Child::start("table_writers", command)
            .finish(PATIENCE)
            .unwrap();
        let output = lines.join("\n");
        assert!(
            output.contains("verified:"),
            "example did not verify: {output}"
        );
        let writer = TableWriter::new(dir.path(), "users").unwrap();
        assert_eq!(writer.committed_lines().unwrap().len(), 90, "{output}");
    }
}
