// SPDX-License-Identifier: Apache-2.0
//! Child processes of the bench: this same binary run as
//! `xtask __bench-child <role> ...`, spoken to through stdin and stdout, one
//! line at a time.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

/// A running child process with its stdin and stdout piped.
///
/// Dropping it kills the child if it is still running, so that a failed
/// measurement leaves no process behind.
pub struct ChildProcess {
    role: String,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
}

impl ChildProcess {
    /// Starts `xtask __bench-child <args...>`; `args[0]` is the role.
    pub fn spawn(args: &[&str]) -> Result<ChildProcess, String> {
        let role = args.first().copied().unwrap_or("?").to_string();
        let exe = std::env::current_exe()
            .map_err(|e| format!("cannot find this executable to start a child: {e}"))?;
        let mut child = Command::new(exe)
            .arg("__bench-child")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start the {role} child: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| format!("the {role} child has no stdout"))?;
        Ok(ChildProcess {
            role,
            child,
            stdin,
            stdout: BufReader::new(stdout),
        })
    }

    /// Reads the child's next line, without its line break.
    pub fn read_line(&mut self) -> Result<String, String> {
        let mut line = String::new();
        let read = self
            .stdout
            .read_line(&mut line)
            .map_err(|e| format!("reading from the {} child: {e}", self.role))?;
        if read == 0 {
            let status = self
                .child
                .wait()
                .map_or_else(|e| e.to_string(), |s| s.to_string());
            return Err(format!(
                "the {} child ended without answering ({status})",
                self.role
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

    /// Closes stdin, waits for the child and checks that it succeeded.
    pub fn finish(mut self) -> Result<(), String> {
        self.stdin = None;
        let status = self
            .child
            .wait()
            .map_err(|e| format!("waiting for the {} child: {e}", self.role))?;
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

/// The argument at `index` of a child's argument list, named `name` in the
/// error.
pub fn arg<'a>(args: &'a [String], index: usize, name: &str) -> Result<&'a str, String> {
    args.get(index)
        .map(String::as_str)
        .ok_or_else(|| format!("child argument {index} ({name}) is missing"))
}

/// Parses the argument at `index` as a number.
pub fn number_arg<T: std::str::FromStr>(
    args: &[String],
    index: usize,
    name: &str,
) -> Result<T, String> {
    let text = arg(args, index, name)?;
    text.parse()
        .map_err(|_| format!("child argument {name} is not a number: {text:?}"))
}

/// Prints one line on stdout for the parent, flushed at once.
pub fn say(line: &str) -> Result<(), String> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("writing to the parent: {e}"))
}

/// Waits for one line from the parent on stdin (or for stdin to close).
pub fn wait_for_parent() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading from the parent: {e}"))?;
    Ok(line.trim_end().to_string())
}
