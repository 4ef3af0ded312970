// SPDX-License-Identifier: Apache-2.0
//! The stress supervisor: starts the writers, kills and restarts them at
//! random with `--kill`, lets [`Chaos`] act with `--chaos`, samples the
//! queue depth, and collects what each writer acknowledged.

use std::path::Path;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{QueueBackend, now_nanos};
use reedbase_concurrent_test_support::Rng;

use super::backend::{StressBackend, with_backend};
use super::chaos::Chaos;
use super::{Options, TABLE};
use crate::child_process::ChildProcess;
use crate::pg_site::PgSite;

/// A SIGKILL the supervisor sent: to whom, and the wall clock just before.
#[derive(Debug, Clone, Copy)]
pub struct Kill {
    pub pid: u32,
    pub at: u128,
}

/// What the supervisor saw during the run.
#[derive(Debug, Default)]
pub struct RunRecord {
    /// `(writer, seq)` of every write a writer acknowledged.
    pub acks: Vec<(u64, u64)>,
    pub kills: Vec<Kill>,
    /// Writers that exited with an error of their own (not killed by us).
    pub child_failures: Vec<String>,
    /// The largest queue depth sampled.
    pub max_pending: usize,
    /// Samples of the depth that failed (only counted under `--chaos`).
    pub failed_samples: usize,
    pub writers: u64,
}

struct Running {
    child: ChildProcess,
    writer: u64,
    acks: JoinHandle<Vec<(u64, u64)>>,
}

/// An `ACK writer seq` line; a line cut short by a SIGKILL is not counted.
fn parse_ack(line: &str) -> Option<(u64, u64)> {
    let mut words = line.strip_prefix("ACK ")?.split(' ');
    Some((words.next()?.parse().ok()?, words.next()?.parse().ok()?))
}

fn spawn(
    dir: &Path,
    writer: u64,
    options: &Options,
    site: &PgSite,
    until: u128,
) -> Result<Running, String> {
    let mut args = vec![
        "stress-writer".to_string(),
        format!("--dir={}", dir.display()),
        format!("--writer={writer}"),
        format!("--capacity={}", options.capacity),
        format!("--until={until}"),
    ];
    args.extend(options.batch.then(|| "--batch".to_string()));
    args.extend(options.grouped.then(|| "--grouped".to_string()));
    args.extend(options.chaos.then(|| "--chaos".to_string()));
    args.extend(site.args());
    let mut child = ChildProcess::spawn(&args)?;
    let acks = child.collect_lines(parse_ack)?;
    Ok(Running {
        child,
        writer,
        acks,
    })
}

fn collect(running: Running, record: &mut RunRecord, killed: bool) -> Result<(), String> {
    let Running {
        mut child,
        writer,
        acks,
    } = running;
    // A writer still running 20 s after its deadline is hung: it is
    // killed, and reported.
    match child.wait(Duration::from_secs(20)) {
        Ok(status) if !killed && !status.success() => record.child_failures.push(format!(
            "writer {writer} (pid {}) exited with {status}",
            child.id()
        )),
        Ok(_) => {}
        Err(hung) => record
            .child_failures
            .push(format!("writer {writer}: {hung}")),
    }
    let acks = acks.join().map_err(|_| "ack reader panicked")?;
    record.acks.extend(acks);
    Ok(())
}

/// Runs the writers for the configured time, through the pg backend of
/// `site` if it names one (else fs; `queue` is the same backend, for the
/// depth samples), and returns what was seen.
pub fn supervise(
    dir: &Path,
    options: &Options,
    (site, queue): (&PgSite, &StressBackend),
    mut chaos: Option<&mut Chaos>,
) -> Result<RunRecord, String> {
    let mut record = RunRecord::default();
    let mut rng = Rng::with_seed(now_nanos() as u64 | 1);
    let duration = Duration::from_secs(options.seconds);
    let until = now_nanos() + duration.as_nanos();
    let deadline = Instant::now() + duration;
    let mut running = Vec::new();
    for _ in 0..options.processes {
        running.push(spawn(dir, record.writers, options, site, until)?);
        record.writers += 1;
    }
    let modes: Vec<&str> = [
        (options.kill, "killing at random"),
        (options.batch, "batch apply"),
        (options.grouped, "grouped writes"),
        (options.chaos, "chaos"),
    ]
    .iter()
    .filter(|(on, _)| *on)
    .map(|(_, what)| *what)
    .collect();
    eprintln!(
        "stress: {} processes through {} for {duration:?} [{}], capacity {}, in {}",
        options.processes,
        queue.name(),
        modes.join(", "),
        options.capacity,
        dir.display()
    );
    let mut next_kill = Instant::now() + Duration::from_millis(100 + rng.below(0, 300));
    let mut next_progress = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        let depth = if options.chaos {
            writers_entries(dir)
        } else {
            with_backend!(queue, b => b.count_pending(TABLE))
                .map_err(|error| format!("count_pending: {error}"))
        };
        match depth {
            Ok(pending) => record.max_pending = record.max_pending.max(pending),
            Err(_) if options.chaos => record.failed_samples += 1,
            Err(error) => return Err(error),
        }
        if let Some(chaos) = chaos.as_deref_mut() {
            chaos.act(&mut rng);
        }
        if options.kill && Instant::now() >= next_kill {
            let mut victim = running.swap_remove(rng.below(0, running.len() as u64) as usize);
            let pid = victim.child.id();
            let at = now_nanos();
            victim.child.kill()?;
            record.kills.push(Kill { pid, at });
            collect(victim, &mut record, true)?;
            running.push(spawn(dir, record.writers, options, site, until)?);
            record.writers += 1;
            next_kill = Instant::now() + Duration::from_millis(100 + rng.below(0, 300));
        }
        if Instant::now() >= next_progress {
            eprintln!(
                "stress: {:>4.0?} left, {} kills, {} acks from finished writers",
                deadline.saturating_duration_since(Instant::now()),
                record.kills.len(),
                record.acks.len()
            );
            next_progress += Duration::from_secs(1);
        }
    }
    eprintln!("stress: time is up; waiting for the writers to finish their last write");
    if let Some(chaos) = chaos {
        chaos.calm();
    }
    for child in running {
        collect(child, &mut record, false)?;
    }
    Ok(record)
}

/// The number of entries the writers queued, leaving out the junk the
/// attacker drops into the queue under `--chaos` (the backend cannot keep
/// an attacker from adding files; capacity is about what producers write).
fn writers_entries(dir: &Path) -> Result<usize, String> {
    let queue_dir = dir.join("base").join("tables").join(TABLE).join("queue");
    let listing = std::fs::read_dir(&queue_dir)
        .map_err(|error| format!("list {}: {error}", queue_dir.display()))?;
    Ok(listing
        .filter_map(Result::ok)
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".pending") && !super::chaos::is_junk(name))
        .count())
}
