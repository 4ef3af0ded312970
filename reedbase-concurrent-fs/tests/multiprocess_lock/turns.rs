// SPDX-License-Identifier: Apache-2.0
//! Taking turns across processes: children acquire one table's lock in a
//! loop and, under the lock, log who they are and which waiters have
//! claimed a turn (`claimed_turns`). The log must show the bound of the
//! lock module: while a waiter's claim is in `write.lock`, every other
//! process takes the lock at most once before the claimant does.

use std::collections::HashMap;
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::thread;
use std::time::Duration;

use reedbase_concurrent_fs::acquire_lock;
use reedbase_concurrent_fs::lock::claimed_turns;

use crate::support::ChildProcess;
use crate::{Outcome, PATIENCE, TABLE, check};

/// How many children contend.
const PROCESSES: usize = 4;
/// How many times each takes the lock.
const ROUNDS: usize = 400;
/// The log the children write under the lock.
const LOG: &str = "turns.log";

/// Child role `turns`: takes the lock `count` times, each time logging
/// `<pid> <claimant pids, comma-separated>` under it, holding it a little
/// (so that the others wait long enough to claim turns), then says `done`.
pub(crate) fn child(base: &Path, rounds: usize) {
    let pid = std::process::id();
    let mut log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(base.join(LOG))
        .unwrap();
    for _ in 0..rounds {
        let guard = acquire_lock(base, TABLE, PATIENCE).unwrap();
        let claimants: Vec<String> = claimed_turns(base, TABLE)
            .unwrap()
            .iter()
            .map(|turn| turn.pid.to_string())
            .collect();
        writeln!(log, "{pid} {}", claimants.join(",")).unwrap();
        thread::sleep(Duration::from_micros(50));
        drop(guard);
    }
    crate::support::tell_parent("done");
}

pub(crate) fn turns_are_taken() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let params = format!("count={ROUNDS}");
    let mut children: Vec<ChildProcess> = (0..PROCESSES)
        .map(|_| ChildProcess::spawn("turns", dir.path(), &params))
        .collect::<Result<_, _>>()?;
    for child in &mut children {
        child.expect_line("done", PATIENCE)?;
        child.wait_success(PATIENCE)?;
    }
    let text = fs::read_to_string(dir.path().join(LOG)).map_err(|e| e.to_string())?;
    let log: Vec<(u32, Vec<u32>)> = text.lines().map(parse_line).collect::<Result<_, _>>()?;
    let mut per_child: HashMap<u32, usize> = HashMap::new();
    for (holder, _) in &log {
        *per_child.entry(*holder).or_default() += 1;
    }
    check(
        per_child.len() == PROCESSES && per_child.values().all(|&n| n == ROUNDS),
        &format!("every child took the lock {ROUNDS} times: {per_child:?}"),
    )?;
    let sightings = log
        .iter()
        .filter(|(_, claimants)| !claimants.is_empty())
        .count();
    check(
        sightings > 0,
        "some holder saw a claimed turn (else the test shows nothing)",
    )?;
    check_bound(&log)
}

/// `<pid> <pid>,<pid>...` (the list may be empty).
fn parse_line(line: &str) -> Result<(u32, Vec<u32>), String> {
    let (holder, claimants) = line.split_once(' ').unwrap_or((line, ""));
    let number = |text: &str| text.parse().map_err(|e| format!("{line:?}: {e}"));
    let claimants = claimants
        .split(',')
        .filter(|pid| !pid.is_empty())
        .map(number)
        .collect::<Result<_, _>>()?;
    Ok((number(holder)?, claimants))
}

/// For every claimant, in every stretch of consecutive acquisitions whose
/// holders saw its claim, no other process holds the lock twice.
fn check_bound(log: &[(u32, Vec<u32>)]) -> Outcome {
    // Per claimant: the acquisitions per other process in its current
    // stretch.
    let mut stretches: HashMap<u32, HashMap<u32, usize>> = HashMap::new();
    for (at, (holder, claimants)) in log.iter().enumerate() {
        stretches.retain(|claimant, _| claimants.contains(claimant) && claimant != holder);
        for &claimant in claimants.iter().filter(|&&claimant| claimant != *holder) {
            let takes = stretches
                .entry(claimant)
                .or_default()
                .entry(*holder)
                .or_default();
            *takes += 1;
            if *takes > 1 {
                return Err(format!(
                    "acquisition {at}: process {holder} took the lock a second time while \
                     process {claimant} had claimed its turn"
                ));
            }
        }
    }
    Ok(())
}
