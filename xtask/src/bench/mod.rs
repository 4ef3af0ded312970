// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask bench`: the old module (`reedbase-last`), the new backends
//! (fs, mem, pg), SQLite and the bare kernel and disk, measured in one run
//! and shown side by side with ratios, then the performance
//! targets.
//!
//! The pg rows need a PostgreSQL server, found as the pg crate's tests find
//! it ([`crate::pg_server`]); each pg subject and column works in a
//! namespace of its own, all removed at the end. Without a server the pg
//! rows are SKIPPED (said at the start and the end, and in the JSON), which
//! is not a failure of the bench.
//!
//! Every measurement has one home. The in-process micro-benchmarks are
//! criterion benchmarks ([`micro`]: groups `lock`, `disk`, `queue`,
//! `drain`), run in a child process whose results (criterion's JSON) are
//! read into the table. The multi-process measurements and the deep queues
//! are measured here (`handoff.rs`, `load.rs`, `deep.rs`); the load groups
//! carry floor columns, the physical bounds measured in the same run that
//! their targets are read against. Three old-API rows of the micro groups
//! (`remove_from_queue`; `is_locked` and `wait_for_unlock` on a free lock)
//! carry checks floors (`check_floors.rs`): not physical bounds, but the
//! system calls the fs crate's threat model requires of the call, made
//! bare.
//!
//! Group `paired` (`paired.rs`) measures the old API's rows of the 110%
//! rule again with their columns interleaved in short rounds, so that a
//! ratio compares calls made within the same few hundred milliseconds;
//! those targets read it, the criterion ratio shown beside.
//!
//! Group `calls` ([`calls`]) counts, per old-API operation of the old
//! module, `FsBackend` and the fs crate's free functions, the system calls
//! (`strace -f`) and user-space instructions (callgrind) of one call, in a
//! child process run under each tool; printed as markdown tables. Without
//! `strace` or `valgrind` its halves are SKIPPED (said at the start and the
//! end, and in the JSON). It takes about half a minute; `--only calls` runs
//! it alone.
//!
//! Progress goes to stderr; the tables and the targets to stdout; every
//! number also to `<target dir>/xtask-bench.json`. Timings only mean
//! something in a release build, so a debug build (the `cargo xtask` alias
//! builds one) re-runs itself with `cargo run --release`.

pub mod calls;
pub mod calls_child;
mod calls_parse;
mod check_floors;
mod criterion_results;
mod deep;
mod file_system;
mod free_subjects;
mod handoff;
mod load;
pub mod load_child;
mod load_mode;
mod measure;
pub mod micro;
mod paired;
mod pg_sites;
mod report;
pub mod sqlite;
pub mod subject;
pub mod subjects;
mod targets;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use clap::Args;
use clap::builder::PossibleValuesParser;

use crate::child_process::ChildProcess;
use crate::pg_site::PgSite;
use crate::workspace::{cargo, target_dir, workspace_root};
use measure::Recorder;
use pg_sites::PG_SKIPPED;
pub use pg_sites::PgSites;

/// Set in the environment of the release re-run, so that it never re-runs
/// itself again.
const RELEASE_RERUN_ENV: &str = "XTASK_BENCH_RELEASE_RERUN";

/// A multi-process group's `run` function.
type RunGroup = fn(&mut Recorder, &Options, &Path, &PgSites);

/// Every bench group, in the order they run, with what it measures.
pub const GROUPS: [(&str, &str); 10] = [
    ("lock", "uncontended locking, one process (criterion)"),
    (
        "disk",
        "bare file writes with and without fsyncs: the floor (criterion)",
    ),
    (
        "queue",
        "queue_write, get_next_pending, count_pending (criterion)",
    ),
    ("drain", "draining 100 entries (criterion)"),
    (
        paired::GROUP,
        "the old API's rows again, their columns interleaved in rounds",
    ),
    (
        handoff::GROUP,
        "lock hand-off between processes, waiter CPU",
    ),
    (deep::GROUP, "queues 100 to 100,000 deep"),
    (load::THROUGHPUT, "four processes writing one table"),
    (
        load::GROUP_COMMIT,
        "eight processes, durable apply, per write or in batches",
    ),
    (
        calls::GROUP,
        "system calls and instructions per old-API call (strace, callgrind)",
    ),
];

/// The options of `cargo xtask bench`.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// About a tenth of the samples (a smoke test; the numbers are rough)
    #[arg(long)]
    pub quick: bool,
    /// Add the rows at depth 100,000 (filling and draining take minutes)
    #[arg(long)]
    pub deep: bool,
    /// Run only these groups (comma-separated)
    #[arg(long, value_delimiter = ',', value_parser = PossibleValuesParser::new(GROUPS.map(|(name, _)| name)))]
    pub only: Vec<String>,
    /// Write the JSON results here (default: xtask-bench.json in the target directory)
    #[arg(long, value_name = "PATH")]
    pub json: Option<PathBuf>,
    /// Put the run's files in a new directory under this one (default:
    /// xtask-bench-tmp in the target directory), e.g. on a mount of another
    /// file system; every column of the run (the old module, SQLite, the
    /// floors) works there, and the JSON says which file system it was
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Run in this build even if it is a debug build (for tests; the
    /// numbers of a debug build mean nothing)
    #[arg(long)]
    pub no_release: bool,
}

impl Options {
    /// Whether `group` is to run.
    fn wants(&self, group: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|g| g == group)
    }
}

/// Runs the bench.
///
/// # Errors
///
/// A directory or file that cannot be written, or any measurement that
/// failed (the others are still reported).
pub fn run(options: &Options) -> Result<(), String> {
    let debug_build = cfg!(debug_assertions);
    if debug_build && !options.no_release && std::env::var_os(RELEASE_RERUN_ENV).is_none() {
        return rerun_in_release();
    }
    let target = target_dir()?;
    let scratch = match &options.dir {
        Some(dir) => dir.clone(),
        None => target.join("xtask-bench-tmp"),
    };
    std::fs::create_dir_all(&scratch)
        .map_err(|e| format!("cannot create {}: {e}", scratch.display()))?;
    let dir = tempfile::Builder::new()
        .prefix("run-")
        .tempdir_in(&scratch)
        .map_err(|e| format!("cannot create a directory in {}: {e}", scratch.display()))?;
    let started_unix = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    eprintln!(
        "bench: {} build, {} run, files under {}",
        if debug_build {
            "debug (timings mean nothing)"
        } else {
            "release"
        },
        if options.quick { "quick" } else { "full" },
        dir.path().display()
    );
    let file_system = file_system::describe(&scratch);
    eprintln!("bench: file system {file_system}");

    let pg = PgSites::find();
    if !pg.available() {
        eprintln!("bench: {PG_SKIPPED}");
    }
    let calls_skipped = if options.wants(calls::GROUP) {
        calls::skipped()
    } else {
        Vec::new()
    };
    for said in &calls_skipped {
        eprintln!("bench: {said}");
    }
    let mut recorder = Recorder::new();
    let micro: Vec<String> = micro::GROUPS
        .iter()
        .filter(|g| options.wants(g))
        .map(|g| g.to_string())
        .collect();
    if !micro.is_empty() {
        recorder.begin_group("micro", &micro.join(", "));
        let (found, failed) = run_micro(options, dir.path(), &pg.site(), &micro);
        recorder.measurements.extend(found);
        if let Err(error) = failed {
            recorder.fail("micro", "criterion run", error);
        }
    }
    let groups: [(&str, RunGroup); 6] = [
        (paired::GROUP, paired::run),
        (handoff::GROUP, handoff::run),
        (deep::GROUP, deep::run),
        (load::THROUGHPUT, load::run_throughput),
        (load::GROUP_COMMIT, load::run_group_commit),
        (calls::GROUP, calls::run),
    ];
    for (group, run_group) in groups {
        if options.wants(group) {
            run_group(&mut recorder, options, dir.path(), &pg);
        }
    }
    let seconds = recorder.elapsed().as_secs_f64();
    eprintln!("bench: done in {seconds:.1}s\n");

    for layout in report::layouts() {
        if let Some(table) = report::group_table(&layout, &recorder.measurements) {
            println!("{table}");
        }
    }
    if let Some(tables) = calls::tables(&recorder.measurements) {
        println!("{tables}");
    }
    let checks = targets::check_all(&recorder.measurements);
    println!("{}", targets::table(&checks));
    let mut skipped = calls_skipped;
    if !pg.available() {
        skipped.insert(0, PG_SKIPPED.to_string());
    }
    for said in &skipped {
        println!("{said}\n");
    }

    let json = serde_json::json!({
        "tool": "cargo xtask bench",
        "format_version": 2,
        "arguments": std::env::args().skip(1).collect::<Vec<_>>(),
        "build": if debug_build { "debug" } else { "release" },
        "quick": options.quick,
        "deep": options.deep,
        "groups": GROUPS.iter().map(|(g, _)| *g).filter(|g| options.wants(g)).collect::<Vec<_>>(),
        "started_unix_s": started_unix,
        "duration_s": seconds,
        "machine": {
            "os": std::env::consts::OS,
            "arch": std::env::consts::ARCH,
            "cpus": std::thread::available_parallelism().map_or(0, usize::from),
            "bench_dir": scratch.display().to_string(),
            "file_system": file_system,
        },
        "measurements": recorder.measurements,
        "targets": checks,
        "failures": recorder.failures,
        "skipped": skipped,
    });
    let json_path = options
        .json
        .clone()
        .unwrap_or_else(|| target.join("xtask-bench.json"));
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

/// Runs the criterion groups `groups` in a child (its output shown on
/// stderr as progress) and reads their results: those of every benchmark
/// that finished, and whether the child succeeded.
fn run_micro(
    options: &Options,
    dir: &Path,
    pg: &PgSite,
    groups: &[String],
) -> (Vec<measure::Measurement>, Result<(), String>) {
    let mut args = vec!["micro".to_string(), "--dir".to_string()];
    args.push(dir.display().to_string());
    args.push(format!("--only={}", groups.join(",")));
    args.extend(pg.args());
    if options.quick {
        args.push("--quick".to_string());
    }
    let ran = ChildProcess::spawn(&args).and_then(|mut child| {
        let echo = child.collect_lines(|line| {
            eprintln!("    {line}");
            None::<()>
        })?;
        // The echo ends when the child closes its stdout, that is when it
        // is done: only then is the child's exit waited for.
        let _ = echo.join();
        child.finish()
    });
    match criterion_results::read(&dir.join("criterion")) {
        Ok(found) => (found, ran),
        Err(error) => (Vec::new(), ran.and(Err(error))),
    }
}

/// Child role `micro`: the criterion groups.
#[derive(Debug, Args)]
pub struct MicroArgs {
    /// Where the benchmarks' files and criterion's results go.
    #[arg(long)]
    dir: PathBuf,
    /// The groups to run.
    #[arg(long, value_delimiter = ',')]
    only: Vec<String>,
    /// Few samples, short times.
    #[arg(long)]
    quick: bool,
    /// Where the pg subjects live, each in a namespace beside this one
    /// (none: the pg subjects are left out).
    #[command(flatten)]
    pg: PgSite,
}

/// Runs child role `micro`.
pub fn micro_child(args: &MicroArgs) -> Result<(), String> {
    // Beside this run's files, so that only this run's results are read.
    let mut criterion = micro::criterion(args.quick).output_directory(&args.dir.join("criterion"));
    micro::run(
        &mut criterion,
        &args.dir.join("files"),
        &args.pg,
        &args.only,
    )?;
    criterion.final_summary();
    Ok(())
}

/// Re-runs `bench` with the same arguments from a release build, and exits
/// with its status.
fn rerun_in_release() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    eprintln!(
        "bench: timings need a release build; running `cargo run --release -p xtask -- {}`",
        args.join(" ")
    );
    let status = Command::new(cargo())
        .args(["run", "--release", "--quiet", "--manifest-path"])
        .arg(workspace_root().join("Cargo.toml"))
        .args(["-p", "xtask", "--"])
        .args(&args)
        .env(RELEASE_RERUN_ENV, "1")
        .status()
        .map_err(|e| format!("cannot start cargo for the release build: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        std::process::exit(status.code().unwrap_or(1))
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
