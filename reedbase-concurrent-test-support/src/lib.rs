// SPDX-License-Identifier: Apache-2.0
//! What the workspace's multi-process test binaries (`harness = false`)
//! share:
//! a binary re-runs itself as child processes, telling each its role in
//! [`CHILD_ROLE_ENV`], its base directory in [`BASE_ENV`] and its
//! parameters in [`PARAMS_ENV`], and talks to it through lines on stdin and
//! stdout.
//!
//! Every wait here is bounded: a child that hangs is killed and reported,
//! never waited for forever, and a child still running when its
//! [`ChildProcess`] is dropped is killed and reaped.
//!
//! xtask's child processes speak the same protocol through [`ChildProcess`]
//! (`xtask/src/child_process.rs`), and draw from the same [`Rng`].
//!
//! Not published: the backend crates name it as a path-only dev-dependency,
//! which `cargo package` drops from their packaged manifests.

use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

mod child;
mod rng;
mod runner;

pub use child::ChildProcess;
pub use rng::Rng;
pub use runner::Runner;

/// The environment variable naming a child's role; unset in the parent.
pub const CHILD_ROLE_ENV: &str = "REEDBASE_TEST_CHILD";
/// The base directory a child works on.
pub const BASE_ENV: &str = "REEDBASE_TEST_BASE";
/// A child's parameters, `key=value` pairs separated by commas.
pub const PARAMS_ENV: &str = "REEDBASE_TEST_PARAMS";

/// This process's child role, or `None` in the parent.
pub fn child_role() -> Option<String> {
    std::env::var(CHILD_ROLE_ENV).ok()
}

/// In a child: the base directory the parent gave it.
///
/// # Panics
///
/// If the parent gave none.
pub fn base_dir() -> PathBuf {
    std::env::var_os(BASE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("a child needs a base directory in {BASE_ENV}"))
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

/// In a child: parameter `key` parsed as `T`.
///
/// # Panics
///
/// If the parent did not give it or it does not parse: a child started
/// wrongly is a bug in the test.
pub fn param_as<T: std::str::FromStr>(key: &str) -> T {
    let value = std::env::var(PARAMS_ENV)
        .unwrap_or_default()
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v.to_string())
        .unwrap_or_else(|| panic!("parameter {key} missing from {PARAMS_ENV}"));
    value
        .parse()
        .unwrap_or_else(|_| panic!("parameter {key}={value} does not parse"))
}

/// In a child: prints one line to the parent and flushes it at once. A
/// parent that has gone away is not an error: there is no one to tell.
pub fn tell_parent(line: &str) {
    let _ = try_tell_parent(line);
}

/// In a child: as [`tell_parent`], but reports a failed write (the parent
/// has gone away), for a child that should stop then.
///
/// # Errors
///
/// The write or the flush of stdout failed.
pub fn try_tell_parent(line: &str) -> io::Result<()> {
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{line}").and_then(|()| stdout.flush())
}

/// In a child: the next line from the parent, or `None` at end of input
/// (the parent closed stdin or died).
pub fn line_from_parent() -> Option<String> {
    try_line_from_parent().ok().flatten()
}

/// In a child: as [`line_from_parent`], but reports a failed read.
///
/// # Errors
///
/// Reading stdin failed.
pub fn try_line_from_parent() -> io::Result<Option<String>> {
    let mut line = String::new();
    match io::stdin().lock().read_line(&mut line)? {
        0 => Ok(None),
        _ => Ok(Some(line.trim_end().to_string())),
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
