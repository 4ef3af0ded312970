// SPDX-License-Identifier: Apache-2.0
//! Child processes for the multi-process tests (`harness = false`): the
//! test binary re-runs itself with a role, a base directory and parameters
//! in the environment, and reads the child's stdout line by line. Every wait
//! is bounded, and a child still running when its [`Child`] is dropped is
//! killed and reaped.
// Not every test binary uses every piece.
#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::panic::{self, UnwindSafe};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, ExitStatus, Stdio};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

const ROLE_ENV: &str = "REEDBASE_TABLE_TEST_ROLE";
const BASE_ENV: &str = "REEDBASE_TABLE_TEST_BASE";
const PARAMS_ENV: &str = "REEDBASE_TABLE_TEST_PARAMS";

/// This process's role, or `None` in the parent.
pub fn role() -> Option<String> {
    std::env::var(ROLE_ENV).ok()
}

/// In a child: its base directory.
pub fn base_dir() -> PathBuf {
    std::env::var_os(BASE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("a child needs {BASE_ENV}"))
}

/// In a child: parameter `key` (`key=value,...` in the environment), parsed.
pub fn param<T: std::str::FromStr>(key: &str) -> T {
    let params = std::env::var(PARAMS_ENV).unwrap_or_default();
    let value = params
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("parameter {key} missing from {params:?}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("parameter {key}={value} does not parse"))
}

/// In a child: one line to the parent, flushed at once.
pub fn tell_parent(line: &str) {
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{line}").and_then(|()| stdout.flush());
}

/// A child process whose stdout lines are collected on a helper thread.
pub struct Child {
    label: String,
    child: std::process::Child,
    lines: Arc<Mutex<Vec<String>>>,
    reader: Option<JoinHandle<()>>,
    reaped: bool,
}

impl Child {
    /// Starts this test binary again as `role` on `base` with `params`.
    pub fn spawn(role: &str, base: &Path, params: &str) -> Child {
        let exe = std::env::current_exe().expect("the test binary's path");
        let mut command = Command::new(exe);
        command
            .env(ROLE_ENV, role)
            .env(BASE_ENV, base)
            .env(PARAMS_ENV, params);
        Child::start(&format!("{role}({params})"), command)
    }

    /// Starts `command` with stdout piped and stderr inherited.
    pub fn start(label: &str, mut command: Command) -> Child {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {label}: {e}"));
        let stdout = child.stdout.take().expect("a piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&lines);
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                collected
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push(line);
            }
        });
        Child {
            label: label.to_string(),
            child,
            lines,
            reader: Some(reader),
            reaped: false,
        }
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Every line printed so far.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// Waits (at most `patience`) until a printed line satisfies `found`.
    pub fn wait_for_line(
        &self,
        patience: Duration,
        found: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(line) = self.lines().into_iter().find(|line| found(line)) {
                return Ok(line);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "{} printed no awaited line in {patience:?}",
                    self.label
                ));
            }
            thread::sleep(Duration::from_millis(1));
        }
    }

    /// True once the child has exited.
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// SIGKILLs the child, reaps it, and returns every line it printed.
    pub fn kill(mut self) -> Vec<String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.reaped = true;
        self.drain_reader();
        self.lines()
    }

    /// Waits at most `patience` for the child to exit successfully; returns
    /// every line it printed.
    pub fn finish(mut self, patience: Duration) -> Result<Vec<String>, String> {
        let deadline = Instant::now() + patience;
        let status: ExitStatus = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(5)),
                Ok(None) => return Err(format!("{} still running after {patience:?}", self.label)),
                Err(error) => return Err(format!("cannot wait for {}: {error}", self.label)),
            }
        };
        self.reaped = true;
        self.drain_reader();
        if status.success() {
            Ok(self.lines())
        } else {
            Err(format!(
                "{} failed: {status}; lines: {:?}",
                self.label,
                self.lines()
            ))
        }
    }

    /// Joins the stdout reader, which ends once the child's stdout closes.
    fn drain_reader(&mut self) {
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        if !self.reaped {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A small xorshift generator: random kill times without a dependency. The
/// seed is printed so that a failing run can be repeated
/// (`REEDBASE_TABLE_TEST_SEED`).
pub struct Rng(u64);

impl Rng {
    /// Seeded from the environment, or from the clock.
    pub fn from_env_or_clock() -> Rng {
        let seed = std::env::var("REEDBASE_TABLE_TEST_SEED")
            .ok()
            .and_then(|seed| seed.parse().ok())
            .unwrap_or_else(|| {
                let nanos = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(1, |d| d.subsec_nanos());
                u64::from(nanos) | 1
            });
        println!("random seed {seed} (set REEDBASE_TABLE_TEST_SEED to repeat)");
        Rng(seed)
    }

    /// A number in `low..high`.
    pub fn below(&mut self, low: u64, high: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        low + self.0 % (high - low).max(1)
    }
}

/// Runs named scenarios with libtest-like output; arguments that do not
/// start with `-` filter them by name.
pub struct Runner {
    filters: Vec<String>,
    passed: usize,
    failed: Vec<String>,
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
        }
    }

    /// Runs `scenario` unless filtered out; an `Err` or a panic fails it.
    pub fn run(&mut self, name: &str, scenario: impl FnOnce() -> Result<(), String> + UnwindSafe) {
        if !self.filters.is_empty() && !self.filters.iter().any(|f| name.contains(f.as_str())) {
            return;
        }
        match panic::catch_unwind(scenario) {
            Ok(Ok(())) => {
                println!("test {name} ... ok");
                self.passed += 1;
            }
            outcome => {
                if let Ok(Err(reason)) = outcome {
                    eprintln!("---- {name} ----\n{reason}");
                }
                println!("test {name} ... FAILED");
                self.failed.push(name.to_string());
            }
        }
    }

    /// Prints the summary and returns the exit code.
    pub fn finish(self) -> ExitCode {
        let verdict = if self.failed.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        println!(
            "\ntest result: {verdict}. {} passed; {} failed ({})",
            self.passed,
            self.failed.len(),
            self.failed.join(", ")
        );
        if self.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
