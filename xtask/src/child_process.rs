// SPDX-License-Identifier: Apache-2.0
//! The child processes of bench, parity and stress: this same binary run as
//! `xtask __child <role> ...`, spoken to through stdin and stdout one line
//! at a time, with the workspace's one line protocol
//! (`reedbase-concurrent-test-support`, which the multi-process tests use
//! too). Only the way a child learns its role differs: here it is the
//! command line, which clap parses.

use std::ffi::OsStr;
use std::process::{Command, ExitStatus};
use std::thread;
use std::time::Duration;

use reedbase_concurrent_test_support as support;

/// How long a parent waits for a child's next line: far longer than any
/// answer of a task takes, so that only a hung child reaches it, and the
/// task then fails instead of hanging.
const PATIENCE: Duration = Duration::from_secs(600);

/// A running child with its stdin and stdout piped (stderr inherited).
///
/// Dropping it kills the child if it is still running, so that a failed
/// run leaves no process behind.
pub struct ChildProcess {
    role: String,
    inner: support::ChildProcess,
}

impl ChildProcess {
    /// Starts `xtask __child <args...>`; `args[0]` is the role.
    pub fn spawn<S: AsRef<OsStr>>(args: &[S]) -> Result<ChildProcess, String> {
        let role = args
            .first()
            .map_or("?".into(), |a| a.as_ref().to_string_lossy().into_owned());
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find this executable to start a child: {e}"))?;
        let mut command = Command::new(exe);
        command.arg("__child").args(args);
        let inner = support::ChildProcess::start(&role, command)?;
        Ok(ChildProcess { role, inner })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.inner.pid()
    }

    /// Reads the child's next line, without its line break.
    pub fn read_line(&mut self) -> Result<String, String> {
        self.inner.read_line(PATIENCE)
    }

    /// Reads the next line, which must start with `word`; returns the rest,
    /// trimmed.
    pub fn expect(&mut self, word: &str) -> Result<String, String> {
        let line = self.read_line()?;
        match line.strip_prefix(word) {
            Some(rest) => Ok(rest.trim().to_string()),
            None => Err(format!(
                "the {} child said {line:?}, expected {word:?}",
                self.role
            )),
        }
    }

    /// Sends one line to the child.
    pub fn send(&mut self, line: &str) -> Result<(), String> {
        self.inner.send_line(line)
    }

    /// Hands the child's lines to a thread that collects `parse`'s result
    /// for every line it accepts, until the child closes its stdout.
    pub fn collect_lines<T: Send + 'static>(
        &mut self,
        parse: fn(&str) -> Option<T>,
    ) -> Result<thread::JoinHandle<Vec<T>>, String> {
        Ok(self.inner.collect_lines(parse))
    }

    /// Sends SIGKILL (and reaps the child).
    pub fn kill(&mut self) -> Result<(), String> {
        self.inner.kill().map(drop)
    }

    /// Closes stdin and waits for the child, at most `patience`; one still
    /// running then is killed, and the call fails.
    pub fn wait(&mut self, patience: Duration) -> Result<ExitStatus, String> {
        self.inner.close_stdin();
        self.inner.wait(patience)
    }

    /// Closes stdin, waits for the child (at most a minute) and checks that
    /// it succeeded.
    pub fn finish(mut self) -> Result<(), String> {
        self.inner.close_stdin();
        self.inner.wait_success(Duration::from_secs(60))
    }
}

/// In a child: prints one line on stdout for the parent, flushed at once.
pub fn say(line: &str) -> Result<(), String> {
    support::try_tell_parent(line).map_err(|e| format!("writing to the parent: {e}"))
}

/// In a child: waits for one line from the parent on stdin (an empty line
/// when stdin closes, when the parent is gone).
pub fn wait_for_parent() -> Result<String, String> {
    support::try_line_from_parent()
        .map(Option::unwrap_or_default)
        .map_err(|e| format!("reading from the parent: {e}"))
}
