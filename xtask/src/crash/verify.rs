// SPDX-License-Identifier: Apache-2.0
//! The checks after a restart, from the writers' outcomes and what the
//! restart found (the formats are in [`super::child`]).
//!
//! A write is *acknowledged* when a call for it returned `Ok` (applied, or
//! queued), *refused* when every call for it returned an error and the
//! power stayed on, *unknown* after a call that returned
//! `QueueOutcomeUnknown` (queued, then the queue directory's fsync failed:
//! applied once or not at all, and once more for each time the writer
//! submitted it again), and *in flight* when its last call was running when
//! the power went: a process dies with the power, so no one hears that
//! call's outcome, and the write may or may not have taken effect (once at
//! most). The checks:
//!
//! - every acknowledged write is in `table.csv` exactly once (with the
//!   relaxed queue, a write acknowledged as queued may be lost in a power
//!   cut: counted, not failed);
//! - no line of `table.csv`, read as a plain reader reads it, belongs to a
//!   refused write or to one never submitted, and none lies past the
//!   committed length (the plain lines are exactly the committed lines);
//! - each writer's lines are in the order it submitted them;
//! - the queue is empty after the drain, no acknowledged write is moved
//!   aside (durable queue), and each moved-aside entry has its reason.

use std::collections::{BTreeMap, BTreeSet};

use super::child::key;

/// What a writer's calls returned, by sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    Queued,
    Failed,
    /// Queued, then a later step failed: applied once or not at all.
    Unknown,
}

/// One writer's printed outcomes: each call, in order.
pub fn parse_writer(stdout: &str) -> Vec<(u32, Outcome)> {
    let mut calls = Vec::new();
    for line in stdout.lines() {
        let mut words = line.split(' ');
        let (Some(word), Some(seq)) = (words.next(), words.next()) else {
            continue;
        };
        let Ok(seq) = seq.parse() else { continue };
        let outcome = match (word, words.next()) {
            ("OK", Some("applied")) => Outcome::Applied,
            ("OK", _) => Outcome::Queued,
            ("ERR", _) if line.contains("outcome is unknown") => Outcome::Unknown,
            ("ERR", _) => Outcome::Failed,
            _ => continue,
        };
        calls.push((seq, outcome));
    }
    calls
}

/// What a restart found.
#[derive(Debug, Default)]
pub struct Found {
    pub settled: usize,
    pub repaired: usize,
    pub failures: Vec<String>,
    pub pending: usize,
    pub plain: Vec<String>,
    pub committed: Vec<String>,
    /// (id, reason, keys in the entry's file)
    pub moved: Vec<(String, String, Vec<String>)>,
}

pub fn parse_restart(stdout: &str) -> Found {
    let mut found = Found::default();
    for line in stdout.lines() {
        let (word, rest) = line.split_once(' ').unwrap_or((line, ""));
        match word {
            "SETTLED" => found.settled = rest.parse().unwrap_or(0),
            "REPAIRED" => found.repaired = rest.parse().unwrap_or(0),
            "FAIL" => found.failures.push(rest.to_string()),
            "PENDING" => found.pending = rest.parse().unwrap_or(usize::MAX),
            "PLAIN" => found.plain.push(rest.to_string()),
            "COMMITTED" => found.committed.push(rest.to_string()),
            "MOVED" => {
                let mut fields = rest.split('\t');
                let id = fields.next().unwrap_or("").to_string();
                let reason = fields.next().unwrap_or("").to_string();
                let keys = fields
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .filter(|key| !key.is_empty())
                    .map(str::to_string)
                    .collect();
                found.moved.push((id, reason, keys));
            }
            _ => {}
        }
    }
    found
}

/// The counts of one checked run.
#[derive(Debug, Default, Clone, Copy)]
pub struct Tally {
    pub acknowledged: usize,
    pub in_flight: usize,
    pub in_flight_applied: usize,
    pub relaxed_lost: usize,
    pub refused: usize,
    pub settled: usize,
    pub repaired: usize,
    pub moved: usize,
}

/// Checks one run; returns its counts, or every violation found.
pub fn check(
    writers: &[Vec<(u32, Outcome)>],
    found: &Found,
    cut_during: bool,
    power_cut: bool,
    relaxed: bool,
) -> Result<Tally, Vec<String>> {
    let mut problems: Vec<String> = found
        .failures
        .iter()
        .map(|f| format!("restart: {f}"))
        .collect();
    let mut tally = Tally {
        settled: found.settled,
        repaired: found.repaired,
        moved: found.moved.len(),
        ..Tally::default()
    };
    let mut rows: BTreeMap<String, usize> = BTreeMap::new();
    for line in &found.plain {
        let row_key = line.split('|').next().unwrap_or("").to_string();
        *rows.entry(row_key).or_default() += 1;
    }
    if found.plain != found.committed {
        problems.push(format!(
            "table.csv has {} lines, {} committed: a plain reader sees rows never committed",
            found.plain.len(),
            found.committed.len()
        ));
    }
    let mut allowed = BTreeSet::new();
    let mut queued = BTreeSet::new();
    for (writer, calls) in writers.iter().enumerate() {
        let writer = writer as u32;
        let mut last = BTreeMap::new();
        let mut unknowns: BTreeMap<u32, usize> = BTreeMap::new();
        for (seq, outcome) in calls {
            let was = last.insert(*seq, *outcome);
            if *outcome == Outcome::Unknown {
                *unknowns.entry(*seq).or_default() += 1;
            }
            if was.is_some_and(|was| !matches!(was, Outcome::Failed | Outcome::Unknown)) {
                problems.push(format!(
                    "{}: called again after it was acknowledged",
                    key(writer, *seq)
                ));
            }
        }
        let final_call = calls.last().map(|(seq, _)| *seq);
        for (seq, outcome) in last {
            let write = key(writer, seq);
            let count = rows.get(&write).copied().unwrap_or(0);
            // A call whose outcome is unknown may have applied it once.
            let unknown = unknowns.get(&seq).copied().unwrap_or(0);
            match outcome {
                Outcome::Applied | Outcome::Queued => {
                    tally.acknowledged += 1;
                    allowed.insert(write.clone());
                    if outcome == Outcome::Queued {
                        queued.insert(write.clone());
                    }
                    // A writer never submits again after an unknown
                    // outcome, so an acknowledged write lands exactly once.
                    match count {
                        1 if unknown == 0 => {}
                        0 if relaxed && power_cut && outcome == Outcome::Queued => {
                            tally.relaxed_lost += 1
                        }
                        n => {
                            problems.push(format!("{write}: acknowledged, {n} times in table.csv"))
                        }
                    }
                }
                Outcome::Failed if cut_during && final_call == Some(seq) => {
                    tally.in_flight += 1;
                    tally.in_flight_applied += count;
                    allowed.insert(write.clone());
                    if count > 1 {
                        problems.push(format!(
                            "{write}: in flight at the cut, {count} times in table.csv"
                        ));
                    }
                }
                Outcome::Failed | Outcome::Unknown if unknown > 0 => {
                    // Counted with the writes in flight: no one knows
                    // whether it took effect.
                    tally.in_flight += 1;
                    tally.in_flight_applied += count;
                    allowed.insert(write.clone());
                    if count > unknown {
                        problems.push(format!(
                            "{write}: outcome unknown {unknown} time(s), {count} times in table.csv"
                        ));
                    }
                }
                Outcome::Failed | Outcome::Unknown => tally.refused += 1,
            }
        }
        let mut previous = None;
        for line in &found.plain {
            let row_key = line.split('|').next().unwrap_or("");
            let Some(seq) = row_key
                .strip_prefix(&format!("w{writer}-"))
                .and_then(|seq| seq.parse::<u32>().ok())
            else {
                continue;
            };
            if previous.is_some_and(|previous| previous >= seq) {
                problems.push(format!("{row_key}: out of its writer's order in table.csv"));
            }
            previous = Some(seq);
        }
    }
    for (row_key, count) in &rows {
        if !allowed.contains(row_key) {
            problems.push(format!(
                "{row_key}: {count} line(s) in table.csv, never acknowledged"
            ));
        }
    }
    if found.pending != 0 {
        problems.push(format!(
            "{} entries still pending after the drain",
            found.pending
        ));
    }
    for (id, reason, keys) in &found.moved {
        if reason.trim().is_empty() || reason.contains("reason not recorded") {
            problems.push(format!(
                "moved-aside entry {id} lost its reason ({reason:?})"
            ));
        }
        for moved_key in keys {
            if allowed.contains(moved_key) && !(relaxed && queued.contains(moved_key)) {
                problems.push(format!(
                    "{moved_key}: acknowledged, moved aside as {id} ({reason})"
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(tally)
    } else {
        Err(problems)
    }
}
