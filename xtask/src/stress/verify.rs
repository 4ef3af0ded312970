// SPDX-License-Identifier: Apache-2.0
//! The end-of-run checks of `cargo xtask stress`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use reedbase_concurrent_core::{Backend, WriteCoordinator};

use super::backend::{StressBackend, with_backend};
use super::chaos::Chaos;
use super::child::{apply, apply_one, events_path, table_path};
use super::supervisor::RunRecord;
use super::{Options, TABLE};

/// One applied row: the table line's fields.
struct Applied {
    writer: u64,
    seq: u64,
    pid: u32,
    queue_id: String,
}

/// The numbers the run is judged by.
#[derive(Debug, Default)]
pub struct Report {
    /// `fs` or `pg`.
    pub backend: &'static str,
    pub acknowledged: usize,
    pub applied_rows: usize,
    pub distinct_applied: usize,
    pub applied_from_queue: usize,
    pub drained_at_end: usize,
    pub kills: usize,
    pub writers: u64,
    pub replays: usize,
    /// Replays whose first application was by a process that was not
    /// killed (its lock was lost, or the removal failed).
    pub replays_without_kill: usize,
    pub lost: usize,
    pub duplicates_beyond_replays: usize,
    pub order_violations: usize,
    pub torn_lines: usize,
    pub lock_overlaps: usize,
    pub max_pending: usize,
    pub capacity: usize,
    pub capacity_violations: usize,
    pub left_in_queue: usize,
    /// The ids of the entries still in the queue after the final drain.
    pub left_names: Vec<String>,
    pub moved_aside: usize,
    pub child_failures: Vec<String>,
    /// Whether the final drain hung (a reader blocked on something).
    pub drain_hung: bool,
    /// With `--chaos`: what the attacker did, whether the base was a
    /// tmpfs, and every change found outside the base.
    pub chaos: Option<(String, String)>,
    pub outside_changes: Vec<String>,
}

impl Report {
    /// The number of broken promises (0 for a passing run).
    pub fn violations(&self) -> usize {
        self.lost
            + self.duplicates_beyond_replays
            + self.order_violations
            + self.torn_lines
            + self.lock_overlaps
            + self.capacity_violations
            + self.left_in_queue
            + self.child_failures.len()
            + usize::from(self.drain_hung)
            + self.outside_changes.len()
    }

    pub fn print(&self) {
        println!("\n{:<28} {:>24}  rule", "check", "value");
        println!("{}", "-".repeat(66));
        let row = |name: &str, value: &dyn std::fmt::Display, rule: &str| {
            println!("{name:<28} {:>24}  {rule}", value.to_string());
        };
        let capacity = format!(
            "{} (max depth {} of {})",
            self.capacity_violations, self.max_pending, self.capacity
        );
        row("backend", &self.backend, "");
        row("writer processes started", &self.writers, "");
        row("children SIGKILLed", &self.kills, "");
        row("writes acknowledged", &self.acknowledged, "");
        row(
            "rows applied (distinct)",
            &self.distinct_applied,
            ">= acknowledged",
        );
        row("  of them via the queue", &self.applied_from_queue, "");
        row("replays (at-least-once)", &self.replays, "allowed");
        row(
            "  of them after a lost lock",
            &self.replays_without_kill,
            "allowed",
        );
        row("lost", &self.lost, "must be 0");
        row(
            "duplicates beyond replays",
            &self.duplicates_beyond_replays,
            "must be 0",
        );
        row("out-of-order rows", &self.order_violations, "must be 0");
        row("torn table lines", &self.torn_lines, "must be 0");
        row("lock overlaps", &self.lock_overlaps, "must be 0");
        row("capacity violations", &capacity, "must be 0");
        row("entries drained at the end", &self.drained_at_end, "");
        row(
            "left in queue after drain",
            &self.left_in_queue,
            "must be 0",
        );
        row("entries moved aside", &self.moved_aside, "reported");
        row("final drain hung", &self.drain_hung, "must be false");
        row(
            "writes outside the base",
            &self.outside_changes.len(),
            "must be 0",
        );
        for name in &self.left_names {
            println!("left in the queue: {name}");
        }
        for failure in &self.child_failures {
            println!("child failure: {failure}");
        }
        if let Some((actions, tmpfs)) = &self.chaos {
            println!("chaos actions: {actions}");
            println!("chaos tmpfs: {tmpfs}");
        }
        for change in &self.outside_changes {
            println!("outside the base: {change}");
        }
        let verdict = if self.violations() == 0 {
            "PASS"
        } else {
            "FAIL"
        };
        println!("\nstress: {verdict} ({} violations)", self.violations());
    }
}

fn parse_table(dir: &Path, report: &mut Report) -> Result<Vec<(String, Applied)>, String> {
    let content = match fs::read_to_string(table_path(dir)) {
        Ok(content) => content,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("read table: {e}")),
    };
    if !content.is_empty() && !content.ends_with('\n') {
        report.torn_lines += 1;
    }
    let mut rows = Vec::new();
    for line in content.lines() {
        let fields: Vec<&str> = line.split('|').collect();
        let parsed = match fields[..] {
            [key, writer, seq, pid, id] => (|| {
                Some(Applied {
                    writer: writer.parse().ok()?,
                    seq: seq.parse().ok()?,
                    pid: pid.parse().ok()?,
                    queue_id: id.to_string(),
                })
            })()
            .map(|applied| (key.to_string(), applied)),
            _ => None,
        };
        match parsed {
            Some(row) if row.0 == format!("w{}-{}", row.1.writer, row.1.seq) => rows.push(row),
            _ => report.torn_lines += 1,
        }
    }
    Ok(rows)
}

/// Counts applies that began while another process was inside the table.
/// A process killed inside its apply leaves a `B` without an `E`; the next
/// `B` is legitimate only if it came after that process was killed.
fn count_overlaps(dir: &Path, kills: &HashMap<u32, u128>) -> Result<usize, String> {
    let content = fs::read_to_string(events_path(dir)).unwrap_or_default();
    let mut inside: Option<u32> = None;
    let mut overlaps = 0;
    for line in content.lines() {
        let mut words = line.split(' ');
        let (Some(kind), Some(pid), Some(at)) = (words.next(), words.next(), words.next()) else {
            return Err(format!("malformed event line {line:?}"));
        };
        let pid: u32 = pid.parse().map_err(|_| format!("bad pid in {line:?}"))?;
        let at: u128 = at.parse().map_err(|_| format!("bad time in {line:?}"))?;
        match kind {
            "B" => {
                if let Some(holder) = inside {
                    let holder_died_first = kills.get(&holder).is_some_and(|&killed| killed <= at);
                    if !holder_died_first {
                        overlaps += 1;
                    }
                }
                inside = Some(pid);
            }
            "E" => {
                if inside != Some(pid) {
                    overlaps += 1;
                }
                inside = None;
            }
            _ => return Err(format!("unknown event {line:?}")),
        }
    }
    Ok(overlaps)
}

/// Drains the queue in a thread, waiting at most a minute (a reader
/// blocked on a FIFO must not hang the run); `None` when it hung.
fn final_drain(
    dir: &Path,
    options: &Options,
    queue: &StressBackend,
) -> Result<Option<usize>, String> {
    let (sender, receiver) = mpsc::channel();
    let (dir, batch, queue): (PathBuf, bool, StressBackend) = (
        dir.to_path_buf(),
        options.batch || options.grouped,
        queue.clone(),
    );
    thread::spawn(move || {
        let drained = with_backend!(queue, b => drain_with(b, &dir, batch));
        let _ = sender.send(drained.map_err(|e| format!("final drain: {e}")));
    });
    match receiver.recv_timeout(Duration::from_secs(60)) {
        Ok(drained) => drained.map(Some),
        Err(_) => Ok(None),
    }
}

/// Drains the table through a coordinator on `backend`, as the writers
/// apply.
fn drain_with<B: Backend>(
    backend: B,
    dir: &Path,
    batch: bool,
) -> Result<usize, reedbase_concurrent_core::WriteError> {
    let coordinator = WriteCoordinator::new(backend);
    let timeout = Duration::from_secs(30);
    if batch {
        coordinator.drain_batch(TABLE, timeout, |items| Ok(apply(dir, items)?))
    } else {
        coordinator.drain(TABLE, timeout, |key, w| Ok(apply_one(dir, key, w)?))
    }
}

/// The end-of-run checks.
pub fn verify(
    dir: &Path,
    options: &Options,
    queue: &StressBackend,
    run: &RunRecord,
    mut chaos: Option<&mut Chaos>,
) -> Result<Report, String> {
    let mut report = Report {
        backend: queue.name(),
        acknowledged: run.acks.len(),
        kills: run.kills.len(),
        writers: run.writers,
        max_pending: run.max_pending,
        capacity: usize::try_from(options.capacity).unwrap_or(usize::MAX),
        capacity_violations: usize::from(run.max_pending as u64 > options.capacity),
        child_failures: run.child_failures.clone(),
        ..Report::default()
    };
    if let Some(chaos) = chaos.as_deref_mut() {
        chaos.calm();
    }
    match final_drain(dir, options, queue)? {
        Some(drained) => report.drained_at_end = drained,
        None => report.drain_hung = true,
    }
    if let Some(chaos) = chaos {
        report.chaos = Some((format!("{:?}", chaos.actions), format!("{:?}", chaos.tmpfs)));
        report.outside_changes = chaos.outside_changes();
    }
    with_backend!(queue, b => left_behind(b, &mut report))?;

    let rows = parse_table(dir, &mut report)?;
    report.applied_rows = rows.len();
    let killed: HashMap<u32, u128> = run.kills.iter().map(|kill| (kill.pid, kill.at)).collect();
    let mut by_key: HashMap<&str, Vec<&Applied>> = HashMap::new();
    let mut last_seq: HashMap<u64, u64> = HashMap::new();
    for (key, applied) in &rows {
        let applications = by_key.entry(key.as_str()).or_default();
        if applications.is_empty() {
            report.applied_from_queue += usize::from(applied.queue_id != "direct");
            // First application of this write: each writer's rows in order.
            if last_seq
                .get(&applied.writer)
                .is_some_and(|&last| applied.seq <= last)
            {
                report.order_violations += 1;
            }
            last_seq.insert(applied.writer, applied.seq);
        }
        applications.push(applied);
    }
    report.distinct_applied = by_key.len();
    for applications in by_key.values() {
        let (last, earlier) = applications.split_last().ok_or("empty application list")?;
        for replayed in earlier {
            // A replay: a queued entry applied again under the same queue id,
            // because the process that applied it first could not remove it:
            // it was killed, or (under --chaos) its lock was lost when the
            // lock file was deleted or renamed, so the coordinator stopped
            // before removing anything. A table writer skips it by its id.
            // The same write applied under two different keys is a
            // duplicate no idempotency key can catch.
            let same_key = replayed.queue_id != "direct" && replayed.queue_id == last.queue_id;
            if same_key {
                report.replays += 1;
                if !killed.contains_key(&replayed.pid) {
                    report.replays_without_kill += 1;
                }
            } else {
                report.duplicates_beyond_replays += 1;
            }
        }
    }
    let applied_keys: HashSet<String> = by_key.keys().map(|key| (*key).to_string()).collect();
    report.lost = run
        .acks
        .iter()
        .filter(|(writer, seq)| !applied_keys.contains(&format!("w{writer}-{seq}")))
        .count();
    report.lock_overlaps = count_overlaps(dir, &killed)?;
    Ok(report)
}

/// What the final drain left: the pending entries (their ids) and the
/// entries moved aside, which are reported, not a violation. (Under
/// `--chaos` the attacker may have renamed fs's corrupt directory away;
/// what it held is not counted then.)
fn left_behind<B: Backend>(backend: &B, report: &mut Report) -> Result<(), String> {
    report.left_in_queue = backend.count_pending(TABLE).map_err(|e| e.to_string())?;
    if report.left_in_queue > 0 {
        let left = backend
            .get_pending_batch(TABLE, report.left_in_queue)
            .map_err(|e| e.to_string())?;
        report.left_names = left.into_iter().map(|(id, _)| id).collect();
    }
    report.moved_aside = backend.moved_aside(TABLE).map_or(0, |moved| moved.len());
    Ok(())
}
