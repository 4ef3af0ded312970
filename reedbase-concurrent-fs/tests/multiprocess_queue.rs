// SPDX-License-Identifier: Apache-2.0
//! The queue across real processes. This binary re-runs itself as child
//! processes (role in `REEDBASE_TEST_CHILD`, see `support`), so it has its
//! own `main` instead of libtest's, and prints libtest's lines.
//!
//! - 4 producers x 50 writes into a capacity-100 queue: exactly 100 accepted;
//! - per-producer order and global enqueue order survive the drain;
//! - producers killed with SIGKILL mid-enqueue leave no partial entry, lose
//!   no acknowledged entry, and their temporaries are swept;
//! - entries cross between this crate and the old module both ways;
//! - an old-module producer (writing in place) racing a consumer here never
//!   gets an entry moved aside or delivered twice;
//! - a consumer that keeps its listing (`FsBackend`) delivers old-module
//!   entries written by another process first, shares the queue with a
//!   consumer process (each in order, together every entry once), and
//!   drains in enqueue order while four producer processes write;
//! - a temporary whose producer process is alive (its `flock` held) is never
//!   swept by another process's producer, and is swept once that process
//!   is killed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod queue_producers;
use reedbase_concurrent_test_support as support;

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use queue_producers::{
    PATIENCE, TABLE, drain, numbered_write, numbers_of, parse_lines, random_u64, run_child,
    run_producers, same_rows, temporaries,
};
use reedbase_concurrent_core::{CsvRow, PendingWrite, QueueBackend, WriteOperation};
use reedbase_concurrent_fs::queue::{moved_aside, queue_write_with};
use reedbase_concurrent_fs::{
    FsBackend, FsOptions, count_pending, get_next_pending, queue_write, remove_from_queue,
};
use support::{ChildProcess, Runner, child_role, wait_until};

type Outcome = Result<(), String>;

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        if role == "hold_temporary" {
            return hold_temporary();
        }
        return run_child(&role);
    }
    let mut runner = Runner::from_args();
    runner.run("capacity_is_exact_across_four_processes", capacity_is_exact);
    runner.run(
        "producer_and_global_enqueue_order_survive_the_drain",
        order_survives,
    );
    runner.run(
        "sigkilled_producers_leave_no_partial_or_lost_entry",
        sigkilled_producers,
    );
    runner.run(
        "entries_cross_between_old_module_and_this_crate",
        cross_compat,
    );
    runner.run(
        "old_module_producer_racing_a_consumer_here",
        old_producer_racing_consumer,
    );
    runner.run(
        "a_kept_listing_meets_old_module_entries_written_by_another_process",
        kept_listing_meets_old_entries,
    );
    runner.run(
        "a_kept_listing_beside_a_consumer_process",
        kept_listing_beside_a_consumer,
    );
    runner.run(
        "a_kept_listing_while_producer_processes_write",
        kept_listing_while_producers_write,
    );
    runner.run(
        "a_live_producers_temporary_is_left_to_it_and_swept_once_it_dies",
        live_temporary_across_processes,
    );
    runner.finish()
}

/// The temporary the `hold_temporary` child makes: a name no producer picks.
const HELD_TEMPORARY: &str = ".incoming-heldbyachild.tmp";

/// A child standing for a producer in the middle of a write: creates a
/// temporary in the queue, holds its `flock` as a producer does, says
/// `held`, and waits until it is killed or its input ends.
fn hold_temporary() -> ExitCode {
    let queue = support::base_dir().join("tables").join(TABLE).join("queue");
    let file = std::fs::File::create_new(queue.join(HELD_TEMPORARY)).unwrap();
    fs2::FileExt::try_lock_exclusive(&file).unwrap();
    support::tell_parent("held");
    let _ = support::line_from_parent();
    ExitCode::SUCCESS
}

fn live_temporary_across_processes() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    // Listing on every write, so that every write looks for temporaries.
    let options = FsOptions::new().watch_queues(false);
    let write = |n| queue_write_with(base, TABLE, &numbered_write("w", n, 1), &options);
    write(0).map_err(|e| e.to_string())?;
    let queue_dir = base.join("tables").join(TABLE).join("queue");
    let temporary = queue_dir.join(HELD_TEMPORARY);
    let mut child = ChildProcess::spawn("hold_temporary", base, "")?;
    child.expect_line("held", PATIENCE)?;
    write(1).map_err(|e| e.to_string())?;
    if !temporary.exists() {
        return Err("a live producer's temporary was swept by another process".to_string());
    }
    child.kill()?;
    wait_until_settled(&queue_dir);
    write(2).map_err(|e| e.to_string())?;
    if temporary.exists() {
        return Err("the temporary of a killed producer was not swept".to_string());
    }
    let drained = drain(base)?;
    let numbers: Vec<usize> = drained.iter().map(|(_, w)| numbers_of(w).1).collect();
    if numbers != [0, 1, 2] {
        return Err(format!("drained {numbers:?}, expected [0, 1, 2]"));
    }
    Ok(())
}

/// Longer than the sweep leaves an empty temporary nobody holds (two
/// seconds: it may be a live producer's, created and not yet locked).
const SETTLED: Duration = Duration::from_secs(3);

/// Waits until every empty temporary in `queue_dir` (of a producer killed
/// before it wrote into it) last changed more than [`SETTLED`] ago, so
/// that the next sweep takes it.
fn wait_until_settled(queue_dir: &Path) {
    for name in temporaries(queue_dir) {
        let Ok(facts) = std::fs::symlink_metadata(queue_dir.join(name)) else {
            continue;
        };
        if facts.len() > 0 {
            continue;
        }
        let changed = UNIX_EPOCH
            + Duration::new(
                u64::try_from(facts.ctime()).unwrap_or(0),
                u32::try_from(facts.ctime_nsec()).unwrap_or(0),
            );
        let age = SystemTime::now()
            .duration_since(changed)
            .unwrap_or_default();
        thread::sleep(SETTLED.saturating_sub(age));
    }
}

fn capacity_is_exact() -> Outcome {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let params: Vec<String> = (0..4)
            .map(|p| format!("tag=p{p},count=50,capacity=100"))
            .collect();
        let (acked, full) = run_producers(dir.path(), "producer", &params)?;
        let distinct: HashSet<&str> = acked.iter().map(|a| a.id.as_str()).collect();
        let pending = count_pending(dir.path(), TABLE).map_err(|e| e.to_string())?;
        if acked.len() != 100 || full != 100 || distinct.len() != 100 || pending != 100 {
            return Err(format!(
                "round {round}: {} accepted ({} distinct), {full} refused, {pending} pending; expected 100, 100, 100",
                acked.len(),
                distinct.len()
            ));
        }
    }
    Ok(())
}

fn order_survives() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let params: Vec<String> = (0..4)
        .map(|p| {
            let codec = if p < 2 { "json" } else { "postcard" };
            format!("tag=p{p},count=50,capacity=1000,durability=relaxed,codec={codec}")
        })
        .collect();
    let (acked, _) = run_producers(dir.path(), "producer", &params)?;
    let drained = drain(dir.path())?;
    if drained.len() != 200 || acked.len() != 200 {
        return Err(format!(
            "{} acknowledged, {} drained; expected 200",
            acked.len(),
            drained.len()
        ));
    }
    let position = drain_positions(&drained);
    for a in &acked {
        let at = *position
            .get(a.id.as_str())
            .ok_or_else(|| format!("{a:?} was not drained"))?;
        if numbers_of(&drained[at].1) != (format!("p{}", a.producer), a.n) {
            return Err(format!("{a:?} came out with the content of another write"));
        }
    }
    let mut checked = 0usize;
    for a in &acked {
        for b in &acked {
            let must_precede = a.after < b.before || (a.producer == b.producer && a.n < b.n);
            if must_precede {
                checked += 1;
                if position[a.id.as_str()] > position[b.id.as_str()] {
                    return Err(format!(
                        "{a:?} finished before {b:?} started, but came out after it"
                    ));
                }
            }
        }
    }
    eprintln!("    note: {checked} ordered pairs checked");
    Ok(())
}

fn sigkilled_producers() -> Outcome {
    let modes = [
        "durability=durable,codec=json",
        "durability=relaxed,codec=json",
        "durability=relaxed,codec=postcard",
    ];
    let mut temporaries_seen = 0;
    for round in 0..4 {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path();
        let mut children: Vec<ChildProcess> = modes
            .iter()
            .enumerate()
            .map(|(p, mode)| {
                ChildProcess::spawn(
                    "producer",
                    base,
                    &format!("tag=p{p},rows=100,capacity=1000000,{mode}"),
                )
            })
            .collect::<Result<_, _>>()?;
        children.iter_mut().try_for_each(ChildProcess::go)?;
        let mut acked = Vec::new();
        for (p, child) in children.iter_mut().enumerate() {
            let wanted = 3 + (random_u64() % 20) as usize;
            if !wait_until(PATIENCE, || child.line_count() >= wanted) {
                return Err(format!(
                    "round {round}: producer {p} acknowledged too little: {:?}",
                    child.lines_so_far()
                ));
            }
            thread::sleep(Duration::from_micros(random_u64() % 3000));
            child.kill()?;
            let (mut a, _) = parse_lines(p, &child.lines_so_far())?;
            acked.append(&mut a);
        }
        drop(children);
        let queue_dir = base.join("tables").join(TABLE).join("queue");
        temporaries_seen += temporaries(&queue_dir).len();
        let pending = count_pending(base, TABLE).map_err(|e| e.to_string())?;
        wait_until_settled(&queue_dir);

        // The next enqueue (bounded: a dead producer must not hold the queue lock).
        let (sender, receiver) = mpsc::channel();
        let next_base = base.to_path_buf();
        thread::spawn(move || {
            let _ = sender.send(queue_write_with(
                &next_base,
                TABLE,
                &numbered_write("next", 0, 1),
                &FsOptions::new().capacity(1_000_000),
            ));
        });
        let next = receiver
            .recv_timeout(PATIENCE)
            .map_err(|_| "the next enqueue hangs".to_string())?;
        let next_id = next.map_err(|e| format!("the next enqueue failed: {e}"))?;
        let left = temporaries(&queue_dir);
        if !left.is_empty() {
            return Err(format!(
                "round {round}: temporaries left after the next enqueue: {left:?}"
            ));
        }

        let drained = drain(base)?;
        let moved = moved_aside(base, TABLE).map_err(|e| e.to_string())?;
        if !moved.is_empty()
            || drained.len() != pending + 1
            || drained.last().map(|d| &d.0) != Some(&next_id)
        {
            return Err(format!(
                "round {round}: {pending} pending + 1, {} drained, moved aside {moved:?}",
                drained.len()
            ));
        }
        let position = drain_positions(&drained);
        let mut last_position = vec![None; modes.len()];
        for a in &acked {
            let at = *position
                .get(a.id.as_str())
                .ok_or_else(|| format!("round {round}: acknowledged {a:?} is lost"))?;
            if !same_rows(
                &drained[at].1,
                &numbered_write(&format!("p{}", a.producer), a.n, 100),
            ) {
                return Err(format!("round {round}: {a:?} came back altered"));
            }
            if last_position[a.producer].is_some_and(|last| last > at) {
                return Err(format!(
                    "round {round}: producer {}'s entries came out of order",
                    a.producer
                ));
            }
            last_position[a.producer] = Some(at);
        }
    }
    eprintln!("    note: {temporaries_seen} abandoned temporaries seen and swept in 4 rounds");
    Ok(())
}

fn cross_compat() -> Outcome {
    use reedbase_last::concurrent as old;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    // Old module -> this crate: read, and first.
    let ours_first =
        queue_write(base, TABLE, numbered_write("new", 0, 2)).map_err(|e| e.to_string())?;
    let old_write = old::PendingWrite {
        rows: vec![old::CsvRow::new("old:0:0", vec!["v", "w"])],
        timestamp: 1_700_000_000_000_000_001,
        operation: old::WriteOperation::Delete,
    };
    let old_id = old::queue_write(base, TABLE, old_write).map_err(|e| format!("{e:?}"))?;
    let expected = PendingWrite {
        rows: vec![CsvRow::new("old:0:0", vec!["v", "w"])],
        timestamp: 1_700_000_000_000_000_001,
        operation: WriteOperation::Delete,
    };
    let head = get_next_pending(base, TABLE).map_err(|e| e.to_string())?;
    if head != Some((old_id.clone(), expected)) {
        return Err(format!("the old module's entry is not first: {head:?}"));
    }
    remove_from_queue(base, TABLE, &old_id).map_err(|e| e.to_string())?;
    // This crate (JSON) -> old module.
    let head = old::get_next_pending(base, TABLE).map_err(|e| format!("{e:?}"))?;
    match head {
        Some((id, write))
            if id == ours_first && write.rows[0].key == "new:0:0" && write.rows.len() == 2 => {}
        other => {
            return Err(format!(
                "the old module read {other:?}, expected {ours_first}"
            ));
        }
    }
    old::remove_from_queue(base, TABLE, &ours_first).map_err(|e| format!("{e:?}"))?;
    let left = old::count_pending(base, TABLE).map_err(|e| format!("{e:?}"))?;
    if left != 0 {
        return Err(format!("{left} entries left"));
    }
    Ok(())
}

fn old_producer_racing_consumer() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let total = 300;
    let mut child = ChildProcess::spawn(
        "old_producer",
        base,
        &format!("tag=old,rows=100,count={total}"),
    )?;
    child.go()?;
    let deadline = Instant::now() + PATIENCE;
    let mut delivered = Vec::new();
    while delivered.len() < total && Instant::now() < deadline {
        match get_next_pending(base, TABLE).map_err(|e| e.to_string())? {
            Some((id, write)) => {
                remove_from_queue(base, TABLE, &id).map_err(|e| e.to_string())?;
                delivered.push((id, numbers_of(&write).1));
            }
            None => thread::sleep(Duration::from_micros(200)),
        }
    }
    let (acked, _) = parse_lines(0, &child.finish(PATIENCE)?)?;
    let moved = moved_aside(base, TABLE).map_err(|e| e.to_string())?;
    let acked_ids: HashSet<&str> = acked.iter().map(|a| a.id.as_str()).collect();
    let delivered_ids: HashSet<&str> = delivered.iter().map(|d| d.0.as_str()).collect();
    if !moved.is_empty()
        || acked.len() != total
        || delivered.len() != total
        || acked_ids != delivered_ids
    {
        return Err(format!(
            "{} written, {} delivered ({} distinct), moved aside {moved:?}",
            acked.len(),
            delivered.len(),
            delivered_ids.len()
        ));
    }
    Ok(())
}

/// A consumer here (an `FsBackend`, which keeps its listing between pops)
/// and old-module entries written by another process while it holds one:
/// they come next, before the rest of what it listed.
fn kept_listing_meets_old_entries() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let backend = FsBackend::with_options(base, FsOptions::new().capacity(1000));
    let ours: Vec<String> = (0..10)
        .map(|n| backend.queue_write(TABLE, &numbered_write("new", n, 1)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let first = backend_pop(&backend)?;
    if first.as_deref() != Some(ours[0].as_str()) {
        return Err(format!("first pop {first:?}, expected {}", ours[0]));
    }
    let child = ChildProcess::spawn("old_producer", base, "tag=old,count=3")
        .and_then(|mut child| child.go().map(|()| child))?;
    let (old, _) = parse_lines(0, &child.finish(PATIENCE)?)?;
    let mut drained = Vec::new();
    while let Some(id) = backend_pop(&backend)? {
        drained.push(id);
    }
    let old_ids: HashSet<&str> = old.iter().map(|a| a.id.as_str()).collect();
    let head: HashSet<&str> = drained.iter().take(3).map(String::as_str).collect();
    if old.len() != 3 || head != old_ids || drained[3..] != ours[1..] {
        return Err(format!(
            "old-module entries {old_ids:?}, drained {drained:?}, ours {ours:?}"
        ));
    }
    Ok(())
}

/// A consumer here with a kept listing and a consumer process taking from
/// the same queue at once: each removes entries in queue order, and
/// together every entry exactly once.
fn kept_listing_beside_a_consumer() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let options = FsOptions::new()
        .capacity(1000)
        .durability(reedbase_concurrent_fs::Durability::Relaxed);
    let backend = FsBackend::with_options(base, options);
    let written: Vec<String> = (0..400)
        .map(|n| backend.queue_write(TABLE, &numbered_write("w", n, 1)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    backend_pop(&backend)?;
    let mut child = ChildProcess::spawn("consumer", base, "")?;
    child.go()?;
    let mut ours = vec![written[0].clone()];
    while let Some(id) = backend_pop(&backend)? {
        ours.push(id);
    }
    let theirs: Vec<String> = child
        .finish(PATIENCE)?
        .iter()
        .map(|line| match line.strip_prefix("took ") {
            Some(id) => Ok(id.to_string()),
            None => Err(format!("the consumer said {line:?}")),
        })
        .collect::<Result<_, _>>()?;
    let position: HashMap<&str, usize> = written
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    for (who, taken) in [("ours", &ours), ("theirs", &theirs)] {
        let at: Vec<usize> = taken.iter().map(|id| position[id.as_str()]).collect();
        if at.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(format!("{who} removed out of order: {at:?}"));
        }
    }
    let mut all: Vec<&str> = ours.iter().chain(&theirs).map(String::as_str).collect();
    all.sort_unstable();
    let mut expected: Vec<&str> = written.iter().map(String::as_str).collect();
    expected.sort_unstable();
    if all != expected {
        return Err(format!(
            "{} removed here and {} there, {} written",
            ours.len(),
            theirs.len(),
            written.len()
        ));
    }
    eprintln!(
        "    note: {} removed here, {} by the other process",
        ours.len(),
        theirs.len()
    );
    Ok(())
}

/// A consumer here with a kept listing drains while four producer processes
/// write: every entry once, and an entry whose write finished before
/// another's began comes out first.
fn kept_listing_while_producers_write() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let backend = FsBackend::with_options(base, FsOptions::new().capacity(10_000));
    let mut children: Vec<ChildProcess> = (0..4)
        .map(|p| {
            ChildProcess::spawn(
                "producer",
                base,
                &format!("tag=p{p},count=100,capacity=10000,durability=relaxed"),
            )
        })
        .collect::<Result<_, _>>()?;
    children.iter_mut().try_for_each(ChildProcess::go)?;
    let deadline = Instant::now() + PATIENCE;
    let mut drained = Vec::new();
    while drained.len() < 400 && Instant::now() < deadline {
        match backend.get_next_pending(TABLE).map_err(|e| e.to_string())? {
            Some((id, write)) => {
                backend
                    .remove_from_queue(TABLE, &id)
                    .map_err(|e| e.to_string())?;
                drained.push((id, write));
            }
            None => thread::sleep(Duration::from_micros(100)),
        }
    }
    let mut acked = Vec::new();
    for (producer, child) in children.into_iter().enumerate() {
        acked.append(&mut parse_lines(producer, &child.finish(PATIENCE)?)?.0);
    }
    if drained.len() != 400 || acked.len() != 400 {
        return Err(format!(
            "{} acknowledged, {} drained; expected 400",
            acked.len(),
            drained.len()
        ));
    }
    let position = drain_positions(&drained);
    for a in &acked {
        for b in &acked {
            if a.after < b.before && position[a.id.as_str()] > position[b.id.as_str()] {
                return Err(format!(
                    "{a:?} finished before {b:?} started, but came out after it"
                ));
            }
        }
    }
    Ok(())
}

/// One pop through `backend`: the id removed, `None` when empty; an entry
/// another consumer removed first is passed over.
fn backend_pop(backend: &FsBackend) -> Result<Option<String>, String> {
    loop {
        let Some((id, _)) = backend.get_next_pending(TABLE).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        match backend.remove_from_queue(TABLE, &id) {
            Ok(()) => return Ok(Some(id)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Where each drained id came out: its index in the drain order.
fn drain_positions<T>(drained: &[(String, T)]) -> HashMap<&str, usize> {
    drained
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect()
}
