// SPDX-License-Identifier: Apache-2.0
//! A child process that holds a table lock, for the cross-process checks.
//!
//! The parent runs `xtask __parity-child hold-lock <last|fs> <base> <table>`
//! (this same binary). The child takes the lock, prints `holding` on a line
//! of its own, and lets go when its stdin closes or after
//! [`HOLD_AT_MOST`], whichever comes first, so that it never outlives a
//! parent that died.

use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::LockBackend;
use reedbase_concurrent_fs::FsBackend;

/// The longest a child holds a lock.
const HOLD_AT_MOST: Duration = Duration::from_secs(30);

/// How long the parent waits for the child to hold, and then to exit.
const CHILD_PATIENCE: Duration = Duration::from_secs(10);

/// The line a child prints once it holds the lock.
const HOLDING: &str = "holding";

/// A running child that holds a lock until released.
pub struct Holder {
    child: Child,
    stdin: Option<ChildStdin>,
}

impl Holder {
    /// Starts a child that takes `table`'s lock under `base` with `kind`
    /// (`last` or `fs`), and waits until it says it holds it.
    ///
    /// # Errors
    ///
    /// The child cannot be started, fails, or does not hold the lock within
    /// [`CHILD_PATIENCE`].
    pub fn spawn(kind: &str, base: &Path, table: &str) -> Result<Holder, String> {
        let exe =
            std::env::current_exe().map_err(|e| format!("cannot find this xtask binary: {e}"))?;
        let mut child = Command::new(exe)
            .args(["__parity-child", "hold-lock", kind])
            .arg(base)
            .arg(table)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the {kind} lock holder: {e}"))?;
        let stdin = child.stdin.take();
        let stdout = child.stdout.take();
        let mut holder = Holder { child, stdin };
        let (sender, receiver) = mpsc::channel();
        if let Some(stdout) = stdout {
            thread::spawn(move || {
                let mut line = String::new();
                let _ = BufReader::new(stdout).read_line(&mut line);
                let _ = sender.send(line);
            });
        }
        match receiver.recv_timeout(CHILD_PATIENCE) {
            Ok(line) if line.trim() == HOLDING => Ok(holder),
            Ok(line) => Err(format!(
                "the {kind} lock holder did not hold the lock: {:?} {}",
                line.trim(),
                holder.stderr_text()
            )),
            Err(_) => Err(format!(
                "the {kind} lock holder did not report within {} s",
                CHILD_PATIENCE.as_secs()
            )),
        }
    }

    /// Closes the child's stdin and waits for it to exit (so its lock is
    /// gone).
    ///
    /// # Errors
    ///
    /// The child exits with a failure or not within [`CHILD_PATIENCE`].
    pub fn release(mut self) -> Result<(), String> {
        drop(self.stdin.take());
        let started = Instant::now();
        while started.elapsed() < CHILD_PATIENCE {
            match self.child.try_wait() {
                Ok(Some(status)) if status.success() => return Ok(()),
                Ok(Some(status)) => {
                    return Err(format!(
                        "the lock holder failed ({status}): {}",
                        self.stderr_text()
                    ));
                }
                Ok(None) => thread::sleep(Duration::from_millis(5)),
                Err(e) => return Err(format!("cannot wait for the lock holder: {e}")),
            }
        }
        Err(format!(
            "the lock holder did not exit within {} s of its stdin closing",
            CHILD_PATIENCE.as_secs()
        ))
    }

    fn stderr_text(&mut self) -> String {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let mut text = String::new();
        if let Some(mut stderr) = self.child.stderr.take() {
            let _ = stderr.read_to_string(&mut text);
        }
        text.trim().to_string()
    }
}

impl Drop for Holder {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// The child's side: `hold-lock <last|fs> <base> <table>`.
///
/// # Errors
///
/// Bad arguments, or the lock cannot be taken within 5 s.
pub fn hold_lock(args: &[String]) -> Result<(), String> {
    let [kind, base, table] = args else {
        return Err("usage: __parity-child hold-lock <last|fs> <base> <table>".to_string());
    };
    let base = Path::new(base);
    let wait = Duration::from_secs(5);
    let guard: Box<dyn std::any::Any> = match kind.as_str() {
        "last" => Box::new(
            reedbase_last::concurrent::acquire_lock(base, table, wait)
                .map_err(|e| format!("old acquire_lock: {e}"))?,
        ),
        "fs" => Box::new(
            FsBackend::new(base)
                .acquire_lock(table, wait)
                .map_err(|e| format!("fs acquire_lock: {e}"))?,
        ),
        other => return Err(format!("unknown lock kind {other:?} (last or fs)")),
    };
    let mut stdout = io::stdout();
    writeln!(stdout, "{HOLDING}")
        .and_then(|()| stdout.flush())
        .map_err(|e| format!("cannot tell the parent: {e}"))?;
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        let _ = sender.send(());
    });
    let _ = receiver.recv_timeout(HOLD_AT_MOST);
    drop(guard);
    Ok(())
}
