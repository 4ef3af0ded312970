// SPDX-License-Identifier: Apache-2.0
//! [`ChildProcess`]: a child started by a test, spoken to in lines.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crate::{BASE_ENV, CHILD_ROLE_ENV, PARAMS_ENV, wait_until};

/// A child process, with its stdout read line by line on a helper thread:
/// each line can be read in turn with a timeout
/// ([`read_line`](Self::read_line)), and every line printed so far is kept
/// as well ([`lines_so_far`](Self::lines_so_far)).
pub struct ChildProcess {
    label: String,
    child: Child,
    stdin: Option<ChildStdin>,
    unread: Receiver<String>,
    printed: Arc<Mutex<Vec<String>>>,
    /// Whether the reader still keeps every line in `printed`.
    keep: Arc<AtomicBool>,
    reader: Option<JoinHandle<()>>,
    reaped: bool,
}

impl ChildProcess {
    /// Starts this binary again with `role` in [`CHILD_ROLE_ENV`], `base` in
    /// [`BASE_ENV`] and `params` (`key=value,...`) in [`PARAMS_ENV`].
    pub fn spawn(role: &str, base: &Path, params: &str) -> Result<ChildProcess, String> {
        let exe = std::env::current_exe().map_err(|e| format!("spawn {role}: {e}"))?;
        let mut command = Command::new(exe);
        command
            .env(CHILD_ROLE_ENV, role)
            .env(BASE_ENV, base)
            .env(PARAMS_ENV, params);
        ChildProcess::start(role, command)
    }

    /// Starts `command`, called `label` in messages, with stdin and stdout
    /// piped and stderr inherited (so that a child's panic shows).
    pub fn start(label: &str, mut command: Command) -> Result<ChildProcess, String> {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("spawn {label}: {e}"))?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("child {label} has no stdout"))?;
        let (sender, unread) = mpsc::channel();
        let printed = Arc::new(Mutex::new(Vec::new()));
        let collected = Arc::clone(&printed);
        let keep = Arc::new(AtomicBool::new(true));
        let keeping = Arc::clone(&keep);
        let reader = thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if keeping.load(Ordering::Relaxed) {
                    lock(&collected).push(line.clone());
                }
                // Nobody reading them one by one is fine: they are kept.
                let _ = sender.send(line);
            }
        });
        Ok(ChildProcess {
            label: label.to_string(),
            stdin: child.stdin.take(),
            child,
            unread,
            printed,
            keep,
            reader: Some(reader),
            reaped: false,
        })
    }

    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The next line the child printed, waiting at most `timeout`.
    pub fn read_line(&mut self, timeout: Duration) -> Result<String, String> {
        match self.unread.recv_timeout(timeout) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => Err(format!(
                "child {} printed nothing within {timeout:?}",
                self.label
            )),
            Err(RecvTimeoutError::Disconnected) => {
                Err(format!("child {} closed its stdout", self.label))
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
                self.label
            ))
        }
    }

    /// Hands the lines not read yet, and every later one, to a thread that
    /// collects `parse`'s result for each line it accepts, until the child
    /// closes its stdout. [`read_line`](Self::read_line) reads nothing after
    /// this, and [`lines_so_far`](Self::lines_so_far) stops growing (a
    /// long-lived child's lines are not kept twice).
    pub fn collect_lines<T: Send + 'static>(
        &mut self,
        parse: impl Fn(&str) -> Option<T> + Send + 'static,
    ) -> JoinHandle<Vec<T>> {
        self.keep.store(false, Ordering::Relaxed);
        let (_, nothing) = mpsc::channel();
        let unread = std::mem::replace(&mut self.unread, nothing);
        thread::spawn(move || unread.into_iter().filter_map(|line| parse(&line)).collect())
    }

    /// True if the child prints nothing for `quiet` (used to check that a
    /// child is still waiting).
    pub fn stays_quiet(&mut self, quiet: Duration) -> bool {
        matches!(
            self.unread.recv_timeout(quiet),
            Err(RecvTimeoutError::Timeout)
        )
    }

    /// Every line the child has printed so far, read or not, the child
    /// still running or not.
    pub fn lines_so_far(&self) -> Vec<String> {
        lock(&self.printed).clone()
    }

    /// Waits at most `patience` until a line printed so far (read or not)
    /// satisfies `found`, and returns it.
    pub fn wait_for_line(
        &self,
        patience: Duration,
        found: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let mut seen = None;
        wait_until(patience, || {
            seen = lock(&self.printed).iter().find(|line| found(line)).cloned();
            seen.is_some()
        });
        seen.ok_or_else(|| {
            format!(
                "child {} printed no awaited line in {patience:?}",
                self.label
            )
        })
    }

    /// True once the child has exited (it is reaped then).
    pub fn has_exited(&mut self) -> bool {
        let exited = matches!(self.child.try_wait(), Ok(Some(_)));
        self.reaped |= exited;
        exited
    }

    /// Kills the child with SIGKILL, reaps it, and returns every line it
    /// printed before it died (waiting at most `timeout` for its stdout to
    /// end, so that no line it printed is missed).
    pub fn kill_and_collect(mut self, timeout: Duration) -> Result<Vec<String>, String> {
        self.kill()?;
        if self.join_reader(timeout) {
            Ok(self.lines_so_far())
        } else {
            Err(format!(
                "child {} was killed but its stdout stayed open for {timeout:?}",
                self.label
            ))
        }
    }

    /// How many lines the child has printed so far.
    pub fn line_count(&self) -> usize {
        lock(&self.printed).len()
    }

    /// Sends one line to the child's stdin.
    pub fn send_line(&mut self, line: &str) -> Result<(), String> {
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("stdin of child {} is closed", self.label))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|error| format!("cannot write to child {}: {error}", self.label))
    }

    /// Sends the start signal, `go`.
    pub fn go(&mut self) -> Result<(), String> {
        self.send_line("go")
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
                        "child {} still running after {timeout:?}; killed",
                        self.label
                    ));
                }
                Err(error) => {
                    return Err(format!("cannot wait for child {}: {error}", self.label));
                }
            }
        }
    }

    /// Waits as [`wait`](Self::wait) and checks that the child succeeded.
    pub fn wait_success(&mut self, timeout: Duration) -> Result<(), String> {
        let status = self.wait(timeout)?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("child {} failed: {status}", self.label))
        }
    }

    /// Closes stdin, waits as [`wait_success`](Self::wait_success), and
    /// returns every line the child printed (waiting, also at most
    /// `timeout`, for its stdout to end). On failure the lines are in the
    /// message.
    pub fn finish(mut self, timeout: Duration) -> Result<Vec<String>, String> {
        self.close_stdin();
        let outcome = self.wait_success(timeout);
        let complete = self.join_reader(timeout);
        let lines = self.lines_so_far();
        match outcome {
            Err(error) => Err(format!("{error}; lines: {lines:?}")),
            Ok(()) if !complete => Err(format!(
                "child {} exited but its stdout stayed open for {timeout:?}; lines: {lines:?}",
                self.label
            )),
            Ok(()) => Ok(lines),
        }
    }

    /// Kills the child with SIGKILL (on Unix) and reaps it.
    pub fn kill(&mut self) -> Result<ExitStatus, String> {
        self.child
            .kill()
            .and_then(|()| self.child.wait())
            .inspect(|_| self.reaped = true)
            .map_err(|error| format!("cannot kill child {}: {error}", self.label))
    }

    /// Waits at most `timeout` for the stdout reader to reach end of input;
    /// false if it did not.
    fn join_reader(&mut self, timeout: Duration) -> bool {
        let Some(reader) = self.reader.take() else {
            return true;
        };
        if wait_until(timeout, || reader.is_finished()) {
            let _ = reader.join();
            true
        } else {
            false
        }
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

/// The collected lines, even if a thread panicked while holding them.
fn lock(lines: &Mutex<Vec<String>>) -> std::sync::MutexGuard<'_, Vec<String>> {
    lines.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
#[path = "child_test.rs"]
mod tests;
