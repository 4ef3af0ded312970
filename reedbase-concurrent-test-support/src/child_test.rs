// SPDX-License-Identifier: Apache-2.0
//! Unit tests of [`ChildProcess`] with `sh` as the child: lines read in
//! turn, lines handed to a collector, and a finished child's lines.

use std::process::Command;
use std::time::Duration;

use super::ChildProcess;

const PATIENCE: Duration = Duration::from_secs(30);

fn shell(script: &str) -> ChildProcess {
    let mut command = Command::new("sh");
    command.args(["-c", script]);
    ChildProcess::start("sh", command).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn lines_are_read_in_turn_and_answers_reach_the_child() {
    let mut child = shell("echo ready; read line; echo \"got $line\"");
    assert_eq!(child.read_line(PATIENCE), Ok("ready".to_string()));
    child.send_line("go").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(child.read_line(PATIENCE), Ok("got go".to_string()));
    assert_eq!(
        child.finish(PATIENCE),
        Ok(vec!["ready".to_string(), "got go".to_string()])
    );
}

#[test]
fn collect_lines_gets_every_accepted_line_until_stdout_closes() {
    let mut child = shell("echo first; for n in 1 2 3 4; do echo \"n $n\"; done");
    assert_eq!(child.read_line(PATIENCE), Ok("first".to_string()));
    let collector = child.collect_lines(|line| line.strip_prefix("n ")?.parse::<u32>().ok());
    let collected = collector
        .join()
        .unwrap_or_else(|_| panic!("the collector panicked"));
    assert_eq!(collected, [1, 2, 3, 4]);
    assert!(
        child.read_line(Duration::from_millis(10)).is_err(),
        "read after collect_lines"
    );
    assert_eq!(
        child.lines_so_far().first().map(String::as_str),
        Some("first")
    );
    child
        .wait_success(PATIENCE)
        .unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn a_failing_child_fails_finish() {
    let child = shell("echo before; exit 3");
    let error = child
        .finish(PATIENCE)
        .expect_err("exit status 3 is a failure");
    assert!(
        error.contains("before"),
        "the lines are in the message: {error}"
    );
}
