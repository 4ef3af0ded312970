// SPDX-License-Identifier: Apache-2.0
//! Producers killed with SIGKILL: no partial entry, no acknowledged entry
//! lost, and their temporaries swept; a live producer's temporary is left
//! to it, and swept once it is killed.

use std::os::unix::fs::MetadataExt as _;
use std::path::Path;
use std::process::ExitCode;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::queue_producers::{
    PATIENCE, TABLE, drain, numbered_write, numbers_of, parse_lines, random_u64, same_rows,
    temporaries,
};
use crate::support::{self, ChildProcess, wait_until};
use crate::{Outcome, drain_positions};
use reedbase_concurrent_fs::queue::{moved_aside, queue_write_with};
use reedbase_concurrent_fs::{FsOptions, count_pending};

/// The temporary the `hold_temporary` child makes: a name no producer picks.
const HELD_TEMPORARY: &str = ".incoming-heldbyachild.tmp";

/// A child standing for a producer in the middle of a write: creates a
/// temporary in the queue, holds its `flock` as a producer does, says
/// `held`, and waits until it is killed or its input ends.
pub(crate) fn hold_temporary() -> ExitCode {
    let queue = support::base_dir().join("tables").join(TABLE).join("queue");
    let file = std::fs::File::create_new(queue.join(HELD_TEMPORARY)).unwrap();
    fs2::FileExt::try_lock_exclusive(&file).unwrap();
    support::tell_parent("held");
    let _ = support::line_from_parent();
    ExitCode::SUCCESS
}

pub(crate) fn live_temporary_across_processes() -> Outcome {
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

pub(crate) fn sigkilled_producers() -> Outcome {
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
