// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask bench`: the old module (`reedbase-last`) and the new
//! backends (fs, mem) measured side by side in one run.
//!
//! Groups, run in this order (`--only` picks some):
//! - `lock`: uncontended acquire+release and `is_locked` ([`lock`]);
//! - `handoff`: lock hand-off between two processes, and a waiter's CPU
//!   ([`handoff`]);
//! - `queue`: `queue_write` of 1 and 100 rows, empty queue and 99 pending,
//!   in every fs mode ([`queue`]), beside the bare disk's cost ([`disk`]);
//! - `drain`: emptying 100 entries ([`drain`]);
//! - `throughput`: four writing processes ([`throughput`]).
//!
//! Progress goes to stderr, one line per measurement; the tables and the
//! DESIGN.md targets go to stdout; everything is also written as JSON to
//! `<target dir>/xtask-bench.json`. Timings only mean something in a
//! release build, so a debug build (the `cargo xtask` alias builds one)
//! re-runs itself with `cargo run --release`. Child processes are this same
//! binary, run as `xtask __bench-child <role> ...`.

mod child_lock;
mod data;
mod disk;
mod drain;
mod handoff;
mod lock;
mod measure;
mod process;
mod queue;
mod queue_subject;
mod report;
mod targets;
mod throughput;
mod throughput_child;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use measure::Recorder;

/// Set in the environment of the release re-run, so that it never re-runs
/// itself again.
const RELEASE_RERUN_ENV: &str = "XTASK_BENCH_RELEASE_RERUN";

/// A group's `run` function.
type RunGroup = fn(&mut Recorder, &Options, &Path);

/// The groups, in the order they run.
const GROUPS: [&str; 5] = [
    lock::GROUP,
    handoff::GROUP,
    queue::GROUP,
    drain::GROUP,
    throughput::GROUP,
];

const USAGE: &str = "\
usage: cargo xtask bench [--quick] [--only GROUP[,GROUP...]] [--json PATH] [--no-release]

  --quick        about a tenth of the samples (a smoke test; the numbers are rough)
  --only GROUPS  run only these groups: lock, handoff, queue, drain, throughput
  --json PATH    write the JSON results here (default: <target dir>/xtask-bench.json)
  --no-release   run in this build even if it is a debug build (for tests; the
                 numbers of a debug build are not meaningful)
";

/// The command-line options of `bench`.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Fewer samples, for a smoke test.
    pub quick: bool,
    /// The groups to run; empty means all.
    only: Vec<String>,
    /// Where to write the JSON.
    json: Option<PathBuf>,
    /// Do not re-run in release mode.
    no_release: bool,
}

impl Options {
    /// Parses `bench`'s arguments; `Ok(None)` when help was asked for.
    fn parse(args: &[String]) -> Result<Option<Options>, String> {
        let mut options = Options::default();
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => options.quick = true,
                "--no-release" => options.no_release = true,
                "--only" => {
                    let list = args.next().ok_or("--only needs a group list")?;
                    for group in list.split(',').filter(|g| !g.is_empty()) {
                        if !GROUPS.contains(&group) {
                            return Err(format!(
                                "unknown group {group:?}; the groups are {}",
                                GROUPS.join(", ")
                            ));
                        }
                        options.only.push(group.to_string());
                    }
                }
                "--json" => {
                    let path = args.next().ok_or("--json needs a path")?;
                    options.json = Some(PathBuf::from(path));
                }
                "--help" | "-h" => return Ok(None),
                other => return Err(format!("unknown option {other:?}\n\n{USAGE}")),
            }
        }
        Ok(Some(options))
    }

    /// The number of samples or trials for a measurement that takes `full`
    /// in a normal run: a tenth (at least 1) with `--quick`.
    pub fn count(&self, full: usize) -> usize {
        if self.quick { (full / 10).max(1) } else { full }
    }

    /// Whether `group` is to run.
    fn wants(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|g| g == group)
    }
}

/// `cargo xtask bench [options]`: runs the groups, prints their tables and
/// the targets, and writes the JSON.
///
/// # Errors
///
/// Bad options, a bench directory or JSON file that cannot be written, or
/// any measurement that failed (the others are still reported).
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(options) = Options::parse(args)? else {
        print!("{USAGE}");
        return Ok(());
    };
    let debug_build = cfg!(debug_assertions);
    if debug_build && !options.no_release && std::env::var_os(RELEASE_RERUN_ENV).is_none() {
        return rerun_in_release(args);
    }
    if debug_build {
        eprintln!("bench: WARNING: this is a debug build; its timings are not meaningful");
    }

    let target = target_dir()?;
    let scratch = target.join("xtask-bench-tmp");
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&scratch)
        .map_err(|e| format!("cannot create a directory in {}: {e}", scratch.display()))?;
    let json_path = options
        .json
        .clone()
        .unwrap_or_else(|| target.join("xtask-bench.json"));
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    eprintln!(
        "bench: {} build, {}, files under {}",
        if debug_build { "debug" } else { "release" },
        if options.quick {
            "quick run"
        } else {
            "full run"
        },
        dir.path().display()
    );

    let mut recorder = Recorder::new();
    let groups: [(&str, RunGroup); 5] = [
        (lock::GROUP, lock::run),
        (handoff::GROUP, handoff::run),
        (queue::GROUP, queue::run),
        (drain::GROUP, drain::run),
        (throughput::GROUP, throughput::run),
    ];
    for (group, run_group) in groups {
        if options.wants(group) {
            run_group(&mut recorder, &options, dir.path());
        }
    }
    let seconds = recorder.elapsed().as_secs_f64();
    eprintln!("bench: done in {seconds:.1}s\n");

    for layout in report::layouts() {
        if let Some(table) = report::group_table(&layout, &recorder.measurements) {
            println!("{table}");
        }
    }
    let checks = targets::check(&recorder.measurements);
    if !checks.is_empty() {
        println!("{}", targets::table(&checks));
    }

    let json = serde_json::json!({
        "tool": "cargo xtask bench",
        "format_version": 1,
        "build": if debug_build { "debug" } else { "release" },
        "quick": options.quick,
        "groups": GROUPS.iter().filter(|g| options.wants(g)).collect::<Vec<_>>(),
        "started_unix_s": started_unix,
        "duration_s": seconds,
        "machine": {
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "cpus": std::thread::available_parallelism().map_or(0, usize::from),
            "bench_dir": scratch.display().to_string(),
        },
        "measurements": recorder.measurements,
        "targets": checks,
        "failures": recorder.failures,
    });
    write_json(&json_path, &json)?;
    println!("results written to {}", json_path.display());

    if recorder.failures.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = recorder
        .failures
        .iter()
        .map(|f| {
            format!(
                "  {} / {} / {}: {}",
                f.group, f.operation, f.backend, f.error
            )
        })
        .collect();
    Err(format!(
        "{} measurement(s) failed:\n{}",
        recorder.failures.len(),
        list.join("\n")
    ))
}

/// Entry point of the child processes this task spawns
/// (`xtask __bench-child <role> ...`).
///
/// # Errors
///
/// An unknown role, bad arguments, or the role's own failure.
pub fn child(args: &[String]) -> Result<(), String> {
    let Some((role, rest)) = args.split_first() else {
        return Err("__bench-child needs a role".to_string());
    };
    match role.as_str() {
        "hold" => handoff::child_hold(rest),
        "wait" => handoff::child_wait(rest),
        "cpu-wait" => handoff::child_cpu_wait(rest),
        "write" => throughput::child_write(rest),
        other => Err(format!(
            "unknown bench child role {other:?} (hold, wait, cpu-wait, write)"
        )),
    }
}

/// Re-runs `bench` with the same arguments from a release build, and exits
/// with its status.
fn rerun_in_release(args: &[String]) -> Result<(), String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let manifest = workspace_root().join("Cargo.toml");
    eprintln!(
        "bench: timings need a release build; running `cargo run --release -p xtask -- bench{}` \
         (the first build takes a minute)",
        args.iter().map(|a| format!(" {a}")).collect::<String>()
    );
    let status = Command::new(cargo)
        .args(["run", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .args(["-p", "xtask", "--", "bench"])
        .args(args)
        .env(RELEASE_RERUN_ENV, "1")
        .status()
        .map_err(|e| format!("cannot start cargo for the release build: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        std::process::exit(status.code().unwrap_or(1))
    }
}

/// The workspace root: the parent of the xtask crate.
fn workspace_root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().unwrap_or(xtask).to_path_buf()
}

/// `CARGO_TARGET_DIR` (relative to the current directory, as cargo reads
/// it) if set, else `<workspace>/target`.
fn target_dir() -> Result<PathBuf, String> {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => {
            let current = std::env::current_dir()
                .map_err(|e| format!("cannot read the current directory: {e}"))?;
            Ok(current.join(dir))
        }
        _ => Ok(workspace_root().join("target")),
    }
}

/// Writes `json`, pretty-printed, creating the parent directory.
fn write_json(path: &Path, json: &serde_json::Value) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    let text = serde_json::to_string_pretty(json).map_err(|e| e.to_string())?;
    std::fs::write(path, text + "\n").map_err(|e| format!("cannot write {}: {e}", path.display()))
}
