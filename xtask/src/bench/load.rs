// SPDX-License-Identifier: Apache-2.0
//! Groups `throughput` and `group-commit`: several processes writing one
//! table at once, each write a 1-row append to a table file, for a fixed
//! time; the parent then drains what is left and checks that the table
//! holds one line per acknowledged write.
//!
//! - `throughput`: 4 processes, the apply a plain append; the old module's
//!   pattern (lock, else queue, drain under the lock), fs and pg through
//!   the coordinator with a durable or relaxed queue, and SQLite (its write
//!   lock, its queue table, draining in the lock's transaction).
//! - `group-commit`: 8 processes, the apply durable (append, then fsync the
//!   table file); fs and pg apply per write (`submit`) or per batch
//!   (`submit_batch`: one fsync for every write drained in one go), beside
//!   the old module, and SQLite per write or per transaction (its group
//!   commit: the drained writes and the holder's own in one append); with
//!   the p99 latency of an acknowledged write.
//!
//! The floors, in the same run and the same writer children: in
//! `throughput`, `floor: bare flock` (a blocking `flock`, an append, unlock:
//! any file-lock-per-write design's bound); in `group-commit`,
//! `floor: durable append` (the same with the append fsynced: the bound of
//! applying per write), `floor: durable enqueue` (a durable
//! file-per-entry queue's two flushes, no lock, no table: the bound of
//! queueing every write durably, so of batching behind such a queue) and
//! `floor: timeout + enqueue` (a sleep of the lock timeout, then the same
//! without the flushes: the bound of a writer that honours its timeout
//! while the lock stays busy, so of batching behind a relaxed queue), and
//! `pg floor: ordered enqueue` (one transaction per write on the server,
//! in one message: the table's producers' advisory lock, one insert, a
//! durable commit; the bound of a pg queue that keeps its producers in
//! order, so of batching behind it). The enqueue floors apply nothing:
//! their check is that each writer's last entry is in its directory (on
//! the server: that the floor's table holds one row per acknowledged
//! write) instead of the table's lines.
//!
//! The pg writers connect to the server over TCP, each standing for a
//! process on another host; each pg column runs in a namespace of its own,
//! and is left out without a server.

use std::ffi::OsString;
use std::fs;
use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::now_nanos;

use super::load_child::{
    TABLE_FILE, check_enqueue_floor, check_pg_enqueue_floor, drain_rest, drop_pg_enqueue_floor,
    prepare,
};
use super::load_mode::{
    Counts, FLOOR_DURABLE_APPEND, FLOOR_DURABLE_ENQUEUE, FLOOR_FLOCK, FLOOR_PG_ENQUEUE,
    FLOOR_TIMEOUT_ENQUEUE, GROUPED, Mode,
};
use super::measure::{Recorder, Stats, Unit};
use super::subjects::is_pg;
use super::{Options, PgSites};
use crate::child_process::ChildProcess;
use crate::pg_site::PgSite;

/// The throughput group.
pub const THROUGHPUT: &str = "throughput";
/// The group-commit group.
pub const GROUP_COMMIT: &str = "group-commit";
/// The throughput group's columns.
pub const THROUGHPUT_MODES: [&str; 8] = [
    "last",
    "fs durable",
    "fs relaxed",
    FLOOR_FLOCK,
    "sqlite durable",
    "sqlite relaxed",
    "pg durable",
    "pg relaxed",
];
/// The group-commit group's columns: fs with a durable queue, and with a
/// relaxed one (whose enqueue, without its two fsyncs, is cheaper than the
/// apply's fsync, which is where batching pays); SQLite (its queue table
/// durable) applying per write, or per transaction: what a lock holder
/// drains and its own write in one append; pg with a durable queue; and
/// the floors, beside the columns they bound.
pub const GROUP_COMMIT_MODES: [&str; 14] = [
    "last",
    "fs per-write",
    "fs batch",
    GROUPED,
    FLOOR_DURABLE_ENQUEUE,
    FLOOR_DURABLE_APPEND,
    "fs per-write relaxed",
    "fs batch relaxed",
    FLOOR_TIMEOUT_ENQUEUE,
    "sqlite per-write",
    "sqlite batch",
    "pg per-write",
    "pg batch",
    FLOOR_PG_ENQUEUE,
];

/// Operation: acknowledged (applied or queued) writes per second.
pub const OP_ACKNOWLEDGED: &str = "writes/s acknowledged";
/// Operation: writes applied to the table per second during the run.
pub const OP_APPLIED: &str = "writes/s applied in the run";
/// Operation: 99th percentile of a write's time until acknowledged.
pub const OP_P99: &str = "p99 latency of an acknowledged write";

/// Runs the throughput group with base directories under `dir` (and the
/// pg columns in namespaces of `pg`'s).
pub fn run_throughput(recorder: &mut Recorder, options: &Options, dir: &Path, pg: &PgSites) {
    recorder.begin_group(THROUGHPUT, "four writing processes, one table");
    for label in THROUGHPUT_MODES {
        run_mode(recorder, options, (dir, pg), THROUGHPUT, label, 4);
    }
}

/// Runs the group-commit group with base directories under `dir` (and the
/// pg columns in namespaces of `pg`'s).
pub fn run_group_commit(recorder: &mut Recorder, options: &Options, dir: &Path, pg: &PgSites) {
    recorder.begin_group(GROUP_COMMIT, "eight processes, durable apply");
    for label in GROUP_COMMIT_MODES {
        run_mode(recorder, options, (dir, pg), GROUP_COMMIT, label, 8);
    }
}

fn run_mode(
    recorder: &mut Recorder,
    options: &Options,
    (dir, pg): (&Path, &PgSites),
    group: &'static str,
    label: &str,
    processes: usize,
) {
    if is_pg(label) && !pg.available() {
        return;
    }
    let site = if is_pg(label) {
        pg.site()
    } else {
        PgSite::default()
    };
    let duration = if options.quick {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(3)
    };
    let name: String = label
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let base = dir.join(format!("{group}-{name}"));
    let mut result = None;
    recorder.measure(group, OP_ACKNOWLEDGED, label, Unit::PerSecond, || {
        let mode = Mode::parse(label, group == GROUP_COMMIT)?;
        let (totals, seconds, detail) = run_processes(&mode, (&base, &site), processes, duration)?;
        let rate = (totals.applied_direct + totals.queued) as f64 / seconds;
        result = Some((totals, seconds));
        Ok((Stats::single(rate), Some(detail)))
    });
    let Some((totals, seconds)) = result else {
        return;
    };
    // The enqueue floors apply nothing: no applied rate to show.
    if ![
        FLOOR_DURABLE_ENQUEUE,
        FLOOR_TIMEOUT_ENQUEUE,
        FLOOR_PG_ENQUEUE,
    ]
    .contains(&label)
    {
        let applied = (totals.applied_direct + totals.drained) as f64 / seconds;
        recorder.measure_stats(group, OP_APPLIED, label, Unit::PerSecond, || {
            Ok(Stats::single(applied))
        });
    }
    if group == GROUP_COMMIT {
        let latencies = totals.latencies.iter().map(|&l| l as f64).collect();
        recorder.measure_stats(group, OP_P99, label, Unit::Nanos, || {
            let stats = Stats::from_values(latencies);
            Ok(Stats {
                median: stats.p99,
                ..stats
            })
        });
        return;
    }
    let counts = [
        ("writes queued (lock timed out)", totals.queued),
        ("writes refused (queue full or busy)", totals.rejected),
        ("writes failed (torn entry read)", totals.failed),
    ];
    for (operation, count) in counts {
        recorder.measure_stats(group, operation, label, Unit::Count, || {
            Ok(Stats::single(count as f64))
        });
    }
}

/// Starts the writers together, collects their counts, drains what is left
/// and checks the table; the totals, the seconds the run took, and the
/// detail for the JSON. The pg floor's table on the server is dropped
/// whatever became of the run.
fn run_processes(
    mode: &Mode,
    (base, site): (&Path, &PgSite),
    processes: usize,
    duration: Duration,
) -> Result<(Counts, f64, serde_json::Value), String> {
    let outcome = run_and_check(mode, (base, site), processes, duration);
    if mode.backend != "pg-enqueue" {
        return outcome;
    }
    let dropped = drop_pg_enqueue_floor(site);
    let outcome = outcome?;
    dropped.map(|()| outcome)
}

fn run_and_check(
    mode: &Mode,
    (base, site): (&Path, &PgSite),
    processes: usize,
    duration: Duration,
) -> Result<(Counts, f64, serde_json::Value), String> {
    fs::create_dir_all(base).map_err(|e| format!("creating {}: {e}", base.display()))?;
    prepare(mode, base, site)?;
    let start = now_nanos() + 300_000_000;
    let (start_text, millis) = (start.to_string(), duration.as_millis().to_string());
    let mut children = Vec::with_capacity(processes);
    for index in 0..processes {
        let index = index.to_string();
        let mut args: Vec<OsString> = vec![
            "write".into(),
            mode.label.clone().into(),
            base.into(),
            start_text.clone().into(),
            millis.clone().into(),
            index.into(),
        ];
        if mode.durable_apply {
            args.push("--durable-apply".into());
        }
        args.extend(site.args().into_iter().map(OsString::from));
        children.push(ChildProcess::spawn(&args)?);
    }
    let mut per_child = Vec::with_capacity(processes);
    let mut totals = Counts::default();
    for mut child in children {
        let line = child.expect("counts")?;
        child.finish()?;
        let counts: Counts = serde_json::from_str(&line)
            .map_err(|e| format!("a writer sent unreadable counts: {e}"))?;
        totals.add(&counts);
        per_child.push(Counts {
            latencies: Vec::new(),
            ..counts
        });
    }
    let seconds = totals.ended_at.saturating_sub(start) as f64 / 1e9;
    match mode.backend {
        "enqueue" => check_enqueue_floor(base, &per_child)?,
        "pg-enqueue" => check_pg_enqueue_floor(site, &per_child)?,
        _ => {}
    }
    let drained_after = drain_rest(mode, base, site)?;
    let table_lines = fs::read_to_string(base.join(TABLE_FILE))
        .map_err(|e| format!("reading the table: {e}"))?
        .lines()
        .count() as u64;
    // Every acknowledged write is a line of the table, but the enqueue
    // floors', which stay in their directory or on the server (checked
    // above).
    let expected = match mode.backend {
        "enqueue" | "pg-enqueue" => 0,
        _ => totals.applied_direct + totals.queued,
    };
    if table_lines != expected {
        return Err(format!(
            "the table holds {table_lines} lines for {expected} acknowledged writes"
        ));
    }
    let detail = serde_json::json!({
        "processes": processes,
        "seconds": seconds,
        "mode": mode,
        "per_process": per_child,
        "drained_after_run": drained_after,
        "table_lines": table_lines,
    });
    Ok((totals, seconds, detail))
}
