// SPDX-License-Identifier: Apache-2.0
//! Child processes for the queue's multi-process tests: the test binary
//! re-runs itself (`std::env::current_exe()`) with its role in
//! [`CHILD_ROLE_ENV`] and its parameters in further variables, and talks to
//! each child through lines on stdin (the parent's "go") and stdout (the
//! child's results, one line each, flushed at once).
//!
//! Every wait is bounded: a child still running at its deadline is killed
//! and reported, and a [`Child`] is killed and reaped when dropped.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

pub mod producers;

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;
use std::process::{self, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The environment variable naming a child's role; unset in the parent.
pub const CHILD_ROLE_ENV: &str = "REEDBASE_TEST_CHILD";
/// The base directory a child works on.
pub const BASE_ENV: &str = "REEDBASE_TEST_BASE";
/// A child's parameters, `key=value` pairs separated by commas.
pub const PARAMS_ENV: &str = "REEDBASE_TEST_PARAMS";

/// A child process re-running this binary, with its stdout collected line
/// by line in the background.
pub struct Child {
    process: process::Child,
    stdin: Option<ChildStdin>,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
}

impl Child {
    /// Starts this binary as a child with `role`, base directory and params.
    pub fn spawn(role: &str, base: &Path, params: &str) -> Child {
        let mut process = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ROLE_ENV, role)
            .env(BASE_ENV, base)
            .env(PARAMS_ENV, params)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = process.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&lines);
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                collected.lock().unwrap().push(line);
            }
        });
        Child {
            stdin: process.stdin.take(),
            process,
            lines,
            reader: Some(reader),
        }
    }

    /// Sends the start signal.
    pub fn go(&mut self) {
        if let Some(stdin) = self.stdin.as_mut() {
            let _ = writeln!(stdin, "go").and_then(|()| stdin.flush());
        }
    }

    /// How many lines the child has printed so far.
    pub fn line_count(&self) -> usize {
        self.lines.lock().unwrap().len()
    }

    /// Kills the child with SIGKILL (on Unix) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }

    /// Waits for the child to exit, at most `patience`, and returns all its
    /// lines; a child still running then is killed and reported.
    pub fn finish(mut self, patience: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + patience;
        self.stdin = None;
        let status = loop {
            if let Some(status) = self.process.try_wait().map_err(|e| e.to_string())? {
                break Some(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                break None;
            }
            thread::sleep(Duration::from_millis(5));
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        let lines = std::mem::take(&mut *self.lines.lock().unwrap());
        match status {
            None => Err(format!(
                "child still running after {patience:?}; killed; lines: {lines:?}"
            )),
            Some(status) if status.success() => Ok(lines),
            Some(status) => Err(format!("child failed with {status}; lines: {lines:?}")),
        }
    }

    /// The lines printed so far, the child still running or not.
    pub fn lines_so_far(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if matches!(self.process.try_wait(), Ok(None)) {
            self.kill();
        }
    }
}

/// Waits (bounded) until `condition` holds; false if it never did.
pub fn wait_until(patience: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + patience;
    while !condition() {
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(1));
    }
    true
}

/// In a child: blocks until the parent says "go"; false if stdin closed.
pub fn wait_for_go() -> bool {
    let mut line = String::new();
    matches!(io::stdin().lock().read_line(&mut line), Ok(n) if n > 0)
}

/// In a child: prints one line to the parent and flushes it.
pub fn tell_parent(line: &str) {
    let mut stdout = io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// In a child: the value of parameter `key`, or `default`.
pub fn param(key: &str, default: &str) -> String {
    let params = std::env::var(PARAMS_ENV).unwrap_or_default();
    params
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map_or_else(|| default.to_string(), |(_, v)| v.to_string())
}

/// Wall-clock nanoseconds since the Unix epoch (one clock for every process
/// of the machine).
pub fn wall_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A random number (from the standard library's per-process hash keys).
pub fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(wall_nanos());
    hasher.finish()
}

/// Runs named scenarios like libtest: `test <name> ... ok|FAILED` each, the
/// failures' messages, and the closing `test result:` line.
#[derive(Default)]
pub struct Runner {
    filter: Option<String>,
    passed: usize,
    failed: Vec<(String, String)>,
    filtered_out: usize,
}

impl Runner {
    /// A runner that runs only scenarios whose name contains the first
    /// argument not starting with `-`, if there is one.
    pub fn from_args() -> Runner {
        Runner {
            filter: std::env::args().skip(1).find(|arg| !arg.starts_with('-')),
            ..Runner::default()
        }
    }

    /// Runs one scenario (unless filtered out); a panic is a failure.
    pub fn run(&mut self, name: &str, scenario: fn() -> Result<(), String>) {
        if self.filter.as_deref().is_some_and(|f| !name.contains(f)) {
            self.filtered_out += 1;
            return;
        }
        let outcome = std::panic::catch_unwind(scenario)
            .unwrap_or_else(|_| Err("the scenario panicked (see above)".to_string()));
        match outcome {
            Ok(()) => {
                println!("test {name} ... ok");
                self.passed += 1;
            }
            Err(message) => {
                println!("test {name} ... FAILED");
                self.failed.push((name.to_string(), message));
            }
        }
    }

    /// Prints the failures and the summary; the process's exit code.
    pub fn finish(self) -> process::ExitCode {
        for (name, message) in &self.failed {
            println!("\n---- {name} ----\n{message}");
        }
        let verdict = if self.failed.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        println!(
            "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out",
            self.passed,
            self.failed.len(),
            self.filtered_out
        );
        if self.failed.is_empty() {
            process::ExitCode::SUCCESS
        } else {
            process::ExitCode::FAILURE
        }
    }
}
