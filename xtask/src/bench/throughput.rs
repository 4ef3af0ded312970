// SPDX-License-Identifier: Apache-2.0
//! Group `throughput`: four processes writing to one table at once, for a
//! fixed time, each write 1 row appended to `<base>/table.csv` under the
//! table's lock.
//!
//! - `fs durable` / `fs relaxed`: each child submits through
//!   `WriteCoordinator<FsBackend>` (lock, else queue; the lock holder
//!   drains older queued writes first).
//! - `last`: each child follows the old module's pattern: `acquire_lock`
//!   with the timeout; on success drain the queue with `get_next_pending` +
//!   `remove_from_queue`, then write; on timeout `queue_write`.
//!
//! Acknowledged writes are those applied or queued; a write refused because
//! the queue was full is counted apart. Afterwards the parent drains what is
//! left and checks that the table holds one line per acknowledged write.

use std::fs;
use std::path::Path;
use std::time::Duration;

use reedbase_concurrent_core::now_nanos;
use serde::{Deserialize, Serialize};

use super::Options;
use super::measure::{Recorder, Stats, Unit};
use super::process::{ChildProcess, arg, number_arg, say};
use super::throughput_child::{drain_rest, run_load};

/// The group's name.
pub const GROUP: &str = "throughput";
/// Operation: acknowledged (applied or queued) writes per second.
pub const OP_ACKNOWLEDGED: &str = "4 processes: writes/s acknowledged";
/// Operation: writes applied to the table per second during the run.
pub const OP_APPLIED: &str = "4 processes: writes/s applied in the run";
/// Operation: writes queued because the lock timed out.
pub const OP_QUEUED: &str = "4 processes: writes queued (lock timed out)";
/// Operation: writes refused because the queue was full.
pub const OP_REJECTED: &str = "4 processes: writes refused, queue full";
/// Operation: writes that failed because a partly written entry was read.
pub const OP_FAILED_TORN: &str = "4 processes: writes failed, torn entry read";
/// The modes, as the table's columns show them, and as the children's
/// argument.
pub const MODES: [(&str, &str); 3] = [
    ("last", "last"),
    ("fs durable", "fs-durable"),
    ("fs relaxed", "fs-relaxed"),
];
/// The lock timeout of every submit.
pub const TIMEOUT: Duration = Duration::from_millis(100);
/// The table the children write.
pub const TABLE: &str = "throughput";
/// The file the children append rows to.
pub const TABLE_FILE: &str = "table.csv";

/// Writing processes.
const PROCESSES: usize = 4;
/// How long they write (`--quick`: 500 ms).
const DURATION: Duration = Duration::from_secs(3);

/// What one child did.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Writes it submitted.
    pub submitted: u64,
    /// Its own writes it applied under the lock.
    pub applied_direct: u64,
    /// Its own writes that went to the queue.
    pub queued: u64,
    /// Its own writes refused because the queue was full.
    pub rejected_full: u64,
    /// Its own writes that failed because the old module read a partly
    /// written queue entry while draining (never happens with fs).
    pub failed_torn_read: u64,
    /// Queued writes (of any child) it applied while holding the lock.
    pub drained: u64,
    /// When it stopped, nanoseconds since the Unix epoch.
    pub ended_at: u128,
}

impl Counts {
    fn add(&mut self, other: &Counts) {
        self.submitted += other.submitted;
        self.applied_direct += other.applied_direct;
        self.queued += other.queued;
        self.rejected_full += other.rejected_full;
        self.failed_torn_read += other.failed_torn_read;
        self.drained += other.drained;
        self.ended_at = self.ended_at.max(other.ended_at);
    }
}

/// The totals of one load, kept for the derived measurements.
struct LoadResult {
    totals: Counts,
    seconds: f64,
}

/// Runs the group's measurements with base directories under `dir`.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path) {
    recorder.begin_group(GROUP, "four writing processes, one table");
    let duration = if options.quick {
        Duration::from_millis(500)
    } else {
        DURATION
    };
    for (label, mode) in MODES {
        let base = dir.join(format!("throughput-{mode}"));
        let mut result = None;
        recorder.measure(GROUP, OP_ACKNOWLEDGED, label, Unit::PerSecond, || {
            let (load, detail) = run_processes(mode, &base, duration)?;
            let acknowledged = load.totals.applied_direct + load.totals.queued;
            let rate = acknowledged as f64 / load.seconds;
            result = Some(load);
            Ok((Stats::single(rate), Some(detail)))
        });
        let Some(load) = result else { continue };
        let applied = load.totals.applied_direct + load.totals.drained;
        recorder.measure_stats(GROUP, OP_APPLIED, label, Unit::PerSecond, || {
            Ok(Stats::single(applied as f64 / load.seconds))
        });
        recorder.measure_stats(GROUP, OP_QUEUED, label, Unit::Count, || {
            Ok(Stats::single(load.totals.queued as f64))
        });
        recorder.measure_stats(GROUP, OP_REJECTED, label, Unit::Count, || {
            Ok(Stats::single(load.totals.rejected_full as f64))
        });
        recorder.measure_stats(GROUP, OP_FAILED_TORN, label, Unit::Count, || {
            Ok(Stats::single(load.totals.failed_torn_read as f64))
        });
    }
}

/// Starts the writing children together, collects their counts, drains
/// what is left and checks the table.
fn run_processes(
    mode: &str,
    base: &Path,
    duration: Duration,
) -> Result<(LoadResult, serde_json::Value), String> {
    fs::create_dir_all(base).map_err(|e| format!("creating {}: {e}", base.display()))?;
    let base_text = base
        .to_str()
        .ok_or_else(|| format!("the bench directory {} is not UTF-8", base.display()))?;
    let start = now_nanos() + 300_000_000;
    let (start_text, millis) = (start.to_string(), duration.as_millis().to_string());
    let mut children = Vec::with_capacity(PROCESSES);
    for index in 0..PROCESSES {
        let index = index.to_string();
        children.push(ChildProcess::spawn(&[
            "write",
            mode,
            base_text,
            &start_text,
            &millis,
            &index,
        ])?);
    }
    let mut per_child = Vec::with_capacity(PROCESSES);
    let mut totals = Counts::default();
    for mut child in children {
        let line = child.expect("counts")?;
        child.finish()?;
        let counts: Counts = serde_json::from_str(&line)
            .map_err(|e| format!("a writer sent unreadable counts {line:?}: {e}"))?;
        totals.add(&counts);
        per_child.push(counts);
    }
    let seconds = totals.ended_at.saturating_sub(start) as f64 / 1e9;
    let drained_after = drain_rest(mode, base)?;
    let table_lines = fs::read_to_string(base.join(TABLE_FILE))
        .map_err(|e| format!("reading the table: {e}"))?
        .lines()
        .count() as u64;
    let expected_lines = totals.applied_direct + totals.queued;
    if table_lines != expected_lines {
        eprint!("(table holds {table_lines} lines for {expected_lines} acknowledged writes) ");
    }
    let detail = serde_json::json!({
        "processes": PROCESSES,
        "seconds": seconds,
        "timeout_ms": TIMEOUT.as_millis() as u64,
        "totals": totals,
        "per_process": per_child,
        "drained_after_run": drained_after,
        "table_lines": table_lines,
        "acknowledged": expected_lines,
        "table_matches_acknowledged": table_lines == expected_lines,
    });
    Ok((LoadResult { totals, seconds }, detail))
}

/// Child role `write <mode> <base> <start_nanos> <millis> <index>`: writes
/// from `start_nanos` for `millis` ms, then says `counts <json>`.
pub fn child_write(args: &[String]) -> Result<(), String> {
    let mode = arg(args, 0, "mode")?;
    let base = Path::new(arg(args, 1, "base directory")?);
    let start: u128 = number_arg(args, 2, "start")?;
    let millis: u64 = number_arg(args, 3, "millis")?;
    let index: usize = number_arg(args, 4, "index")?;
    let now = now_nanos();
    if start > now {
        std::thread::sleep(Duration::from_nanos((start - now) as u64));
    }
    let end = start + u128::from(millis) * 1_000_000;
    let counts = run_load(mode, base, end, index)?;
    let json = serde_json::to_string(&counts).map_err(|e| e.to_string())?;
    say(&format!("counts {json}"))
}
