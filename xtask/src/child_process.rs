// SPDX-License-Identifier: Apache-2.0
//! The one child-process helper of bench, parity and stress: this same
//! binary run as `xtask __child <role> ...`, spoken to through stdin and
//! stdout, one line at a time.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

/// A running child with its stdin and stdout piped (stderr inherited).
///
/// Dropping it kills the child if it is still running, so that a failed
/// run leaves no process behind.
pub struct ChildProcess {
    role: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: Option<BufReader<ChildStdout>>,
}

impl ChildProcess {
    /// Starts `xtask __child <args...>`; `args[0]` is the role.
    pub fn spawn<S: AsRef<OsStr>>(args: &[S]) -> Result<ChildProcess, String> {
        let role = args
            .first()
            .map_or("?".into(), |a| a.as_ref().to_string_lossy().into_owned());
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find this executable to start a child: {e}"))?;
        let mut child = Command::new(exe)
            .arg("__child")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the {role} child: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().map(BufReader::new);
        Ok(ChildProcess {
            role,
            child,
            stdin,
            stdout,
        })
    }

    /// The child's process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// Reads the child's next line, without its line break.
    pub fn read_line(&mut self) -> Result<String, String> {
        let role = &self.role;
        let stdout = self
            .stdout
            .as_mut()
            .ok_or_else(|| format!("the {role} child's stdout was taken"))?;
        let mut line = String::new();
        let read = stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading from the {role} child: {e}"))?;
        if read == 0 {
            let status = self
                .child
                .wait()
                .map_or_else(|e| e.to_string(), |s| s.to_string());
            return Err(format!(
                "the {role} child ended without answering ({status})"
            ));
        }
        Ok(line.trim_end().to_string())
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
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| format!("the {} child's stdin is closed", self.role))?;
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .map_err(|e| format!("writing to the {} child: {e}", self.role))
    }

    /// Hands the child's stdout to a thread that collects `parse`'s result
    /// for every line it accepts, until the child closes it.
    pub fn collect_lines<T: Send + 'static>(
        &mut self,
        parse: fn(&str) -> Option<T>,
    ) -> Result<thread::JoinHandle<Vec<T>>, String> {
        let stdout = self
            .stdout
            .take()
            .ok_or_else(|| format!("the {} child's stdout was taken", self.role))?;
        Ok(thread::spawn(move || {
            stdout
                .lines()
                .map_while(Result::ok)
                .filter_map(|line| parse(&line))
                .collect()
        }))
    }

    /// Sends SIGKILL.
    pub fn kill(&mut self) -> Result<(), String> {
        self.child
            .kill()
            .map_err(|e| format!("kill {} child {}: {e}", self.role, self.child.id()))
    }

    /// Closes stdin and waits for the child, at most `patience`; one still
    /// running then is killed, and the call fails.
    pub fn wait(&mut self, patience: Duration) -> Result<ExitStatus, String> {
        self.stdin = None;
        let give_up = Instant::now() + patience;
        loop {
            if let Some(status) = self
                .child
                .try_wait()
                .map_err(|e| format!("waiting for the {} child: {e}", self.role))?
            {
                return Ok(status);
            }
            if Instant::now() >= give_up {
                let _ = self.child.kill();
                let _ = self.child.wait();
                return Err(format!(
                    "the {} child (pid {}) hung for {patience:?}; killed it",
                    self.role,
                    self.child.id()
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
    }

    /// Closes stdin, waits for the child (at most a minute) and checks that
    /// it succeeded.
    pub fn finish(mut self) -> Result<(), String> {
        let status = self.wait(Duration::from_secs(60))?;
        if status.success() {
            Ok(())
        } else {
            Err(format!("the {} child failed ({status})", self.role))
        }
    }
}

impl Drop for ChildProcess {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// In a child: prints one line on stdout for the parent, flushed at once.
pub fn say(line: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing to the parent: {e}"))
}

/// In a child: waits for one line from the parent on stdin (or for stdin
/// to close, when the parent is gone).
pub fn wait_for_parent() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading from the parent: {e}"))?;
    Ok(line.trim_end().to_string())
}
