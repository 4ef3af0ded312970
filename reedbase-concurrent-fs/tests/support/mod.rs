// SPDX-License-Identifier: Apache-2.0
//! Pieces shared by the multi-process test binaries (`harness = false`):
//! a binary re-runs itself as child processes, telling each its role in
//! [`CHILD_ROLE_ENV`], and talks to it through lines on stdin and stdout.
//!
//! Every wait here is bounded: a child that hangs is killed and reported,
//! never waited for forever, and a child still running when its
//! [`ChildProcess`] is dropped is killed and reaped.
// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{self, BufRead, BufReader, Write};
use std::panic::{self, UnwindSafe};
use std::process::{Child, ChildStdin, Command, ExitCode, ExitStatus, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::thread;
use std::time::{Duration, Instant};

/// The environment variable naming a child's role; unset in the parent.
pub const CHILD_ROLE_ENV: &str = "REEDBASE_TEST_CHILD";

/// This process's child role, or `None` in the parent.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE_ENV).ok()
}

/// Prints one line to the parent (stdout is line-buffered, so it goes at
/// once).
pub fn tell_parent(line: &str) {
    println!("{line}");
}

/// The next line from the parent, or `None` at end of input (the parent
/// closed stdin or died).
pub fn line_from_parent() -> Option<String> {
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim_end().to_string()),
    }
}

/// A child process running this binary in some role, with its stdout read
/// line by line on a helper thread so that reads can time out.
pub struct ChildProcess {
    role: String,
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    reaped: bool,
}

impl ChildProcess {
    /// Starts this binary again with `role` in [`CHILD_ROLE_ENV`] and the
    /// extra environment `envs`; stdin and stdout are piped, stderr is
    /// inherited so that a child's panic shows.
    pub fn spawn<K, V>(role: &str, envs: &[(K, V)]) -> io::Result<ChildProcess>
    where
        K: AsRef<OsStr>,
        V: AsRef<OsStr>,
    {
        let mut command = Command::new(std::env::current_exe()?);
        command
            .env(CHILD_ROLE_ENV, role)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        for (key, value) in envs {
            command.env(key, value);
        }
        let mut child = command.spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| io::Error::other("child has no stdout"))?;
        let (sender, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if sender.send(line).is_err() {
                    break;
                }
            }
        });
        Ok(ChildProcess {
            role: role.to_string(),
            stdin: child.stdin.take(),
            child,
            lines,
            reaped: false,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the child printed, waiting at most `timeout`.
    pub fn read_line(&mut self, timeout: Duration) -> Result<String, String> {
        match self.lines.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "child {} printed nothing within {timeout:?}",
                self.role
            )),
            Err(RecvTimeoutError::Disconnected) => {
                Err(format!("child {} closed its stdout", self.role))
            }
        }
    }

    /// Reads the next line and checks that it is `expected`.
    pub fn expect_line(&mut self, expected: &str, timeout: Duration) -> Result<(), String> {
        let line = self.read_line(timeout)?;
        if line == expected {
            Ok(())
        } else {
            Err(format!(
                "child {} said {line:?}, expected {expected:?}",
                self.role
            ))
        }
    }

    /// True if the child prints nothing for `quiet` (used to check that a
    /// child is still waiting).
    pub fn stays_quiet(&mut self, quiet: Duration) -> bool {
        matches!(
            self.lines.recv_timeout(quiet),
            Err(RecvTimeoutError::Timeout)
        )
    }

    /// Sends one line to the child's stdin.
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("stdin of child {} is closed", self.role))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|error| format!("cannot write to child {}: {error}", self.role))
    }

    /// Closes the child's stdin (it reads end of input).
    pub fn close_stdin(&mut self) {
        self.stdin = None;
    }

    /// Waits at most `timeout` for the child to exit; kills it if it does
    /// not.
    pub fn wait(&mut self, timeout: Duration) -> Result<ExitStatus, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.reaped = true;
                    return Ok(status);
                }
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => {
                    let _ = self.kill();
                    return Err(format!(
                        "child {} still running after {timeout:?}",
                        self.role
                    ));
                }
                Err(error) => return Err(format!("cannot wait for child {}: {error}", self.role)),
            }
        }
    }

    /// Waits as [`wait`](Self::wait) and checks that the child succeeded.
    pub fn wait_success(&mut self, timeout: Duration) -> Result<(), String> {
        let status = self.wait(timeout)?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("child {} failed: {status}", self.role))
        }
    }

    /// Kills the child with SIGKILL (on Unix) and reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus, String> {
        self.child
            .kill()
            .and_then(|()| self.child.wait())
            .inspect(|_| self.reaped = true)
            .map_err(|error| format!("cannot kill child {}: {error}", self.role))
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs named scenarios and prints libtest-like lines, so that `cargo test`
/// output reads the same as for other test binaries.
///
/// Command-line arguments that do not start with `-` are name filters (as
/// libtest's): a scenario runs when its name contains one of them.
pub struct Runner {
    filters: Vec<String>,
    passed: usize,
    failed: Vec<String>,
    filtered_out: usize,
}

impl Runner {
    /// A runner with the name filters from the command line.
    pub fn from_args() -> Runner {
        Runner {
            filters: std::env::args()
                .skip(1)
                .filter(|arg| !arg.starts_with('-'))
                .collect(),
            passed: 0,
            failed: Vec::new(),
            filtered_out: 0,
        }
    }

    /// Runs `scenario` unless filtered out; an `Err` or a panic fails it.
    pub fn run(&mut self, name: &str, scenario: impl FnOnce() -> Result<(), String> + UnwindSafe) {
        if !self.filters.is_empty() && !self.filters.iter().any(|f| name.contains(f.as_str())) {
            self.filtered_out += 1;
            return;
        }
        let outcome = panic::catch_unwind(scenario);
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(reason),
            Err(_) => Some("panicked (see above)".to_string()),
        };
        match failure {
            None => {
                println!("test {name} ... ok");
                self.passed += 1;
            }
            Some(reason) => {
                println!("test {name} ... FAILED");
                eprintln!("---- {name} ----\n{reason}");
                self.failed.push(name.to_string());
            }
        }
    }

    /// Prints the closing line and returns the process's exit code.
    pub fn finish(self) -> ExitCode {
        let verdict = if self.failed.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        if !self.failed.is_empty() {
            println!("\nfailures:\n    {}", self.failed.join("\n    "));
        }
        println!(
            "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out",
            self.passed,
            self.failed.len(),
            self.filtered_out
        );
        if self.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
