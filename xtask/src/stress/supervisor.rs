// SPDX-License-Identifier: Apache-2.0
//! The stress supervisor: starts the children, kills and restarts them at
//! random with `--kill`, samples the queue depth, and collects what each
//! child acknowledged.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::QueueBackend;

use super::StressOptions;
use super::TABLE;
use super::child::{backend, wall_nanos};

/// A SIGKILL the supervisor sent: to whom, and the wall clock just before.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Kill {
    pub pid: u32,
    pub at: u128,
}

/// What the supervisor saw during the run.
#[derive(Debug, Default)]
pub(crate) struct RunRecord {
    /// `(writer, seq)` of every write a child acknowledged.
    pub acks: Vec<(u64, u64)>,
    pub kills: Vec<Kill>,
    /// Children that exited with an error of their own (not killed by us).
    pub child_failures: Vec<String>,
    /// The largest queue depth sampled.
    pub max_pending: usize,
    pub writers: u64,
}

struct Running {
    child: Child,
    writer: u64,
    acks: JoinHandle<Vec<(u64, u64)>>,
}

/// xorshift64: enough randomness to pick victims and intervals.
struct Rng(u64);

impl Rng {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound.max(1)
    }
}

fn spawn(
    base: &Path,
    writer: u64,
    options: &StressOptions,
    until: u128,
) -> Result<Running, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current exe: {e}"))?;
    let mut child = Command::new(exe)
        .arg("__stress-child")
        .arg("--base")
        .arg(base)
        .args(["--writer", &writer.to_string()])
        .args(["--capacity", &options.capacity.to_string()])
        .args(["--until", &until.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .map_err(|e| format!("spawn stress child: {e}"))?;
    let stdout = child.stdout.take().ok_or("child has no stdout")?;
    let acks = thread::spawn(move || {
        // A line cut short by a SIGKILL does not parse and is not counted.
        BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .filter_map(|line| {
                let mut words = line.strip_prefix("ACK ")?.split(' ');
                let writer = words.next()?.parse().ok()?;
                let seq = words.next()?.parse().ok()?;
                Some((writer, seq))
            })
            .collect()
    });
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
    let status = wait_bounded(&mut child)?;
    if !killed && !status.success() {
        record.child_failures.push(format!(
            "writer {writer} (pid {}) exited with {status}",
            child.id()
        ));
    }
    let acks = acks.join().map_err(|_| "ack reader panicked")?;
    record.acks.extend(acks);
    Ok(())
}

/// Waits for a child; one still running a minute after its deadline is
/// hung, and is killed (its exit status then reports the failure).
fn wait_bounded(child: &mut Child) -> Result<std::process::ExitStatus, String> {
    let give_up = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child
            .try_wait()
            .map_err(|e| format!("wait for child: {e}"))?
        {
            return Ok(status);
        }
        if Instant::now() >= give_up {
            eprintln!(
                "stress: child {} hung past its deadline; killing it",
                child.id()
            );
            child.kill().map_err(|e| format!("kill hung child: {e}"))?;
        }
        thread::sleep(Duration::from_millis(10));
    }
}

/// Runs the children for the configured time and returns what was seen.
pub(crate) fn supervise(base: &Path, options: &StressOptions) -> Result<RunRecord, String> {
    let mut record = RunRecord::default();
    let mut rng = Rng((wall_nanos() as u64) | 1);
    let until = wall_nanos() + options.duration.as_nanos();
    let deadline = Instant::now() + options.duration;
    let queue = backend(base, options.capacity);
    let mut running = Vec::new();
    for _ in 0..options.processes {
        running.push(spawn(base, record.writers, options, until)?);
        record.writers += 1;
    }
    eprintln!(
        "stress: {} processes for {:?}{}, capacity {}, in {}",
        options.processes,
        options.duration,
        if options.kill {
            ", killing at random"
        } else {
            ""
        },
        options.capacity,
        base.display()
    );
    let mut next_kill = Instant::now() + Duration::from_millis(100 + rng.next(300));
    let mut next_progress = Instant::now() + Duration::from_secs(1);
    while Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        let pending = queue.count_pending(TABLE).map_err(|e| e.to_string())?;
        record.max_pending = record.max_pending.max(pending);
        if options.kill && Instant::now() >= next_kill {
            let victim = running.swap_remove(rng.next(running.len() as u64) as usize);
            let pid = victim.child.id();
            let at = wall_nanos();
            let mut victim = victim;
            victim
                .child
                .kill()
                .map_err(|e| format!("kill {pid}: {e}"))?;
            record.kills.push(Kill { pid, at });
            collect(victim, &mut record, true)?;
            running.push(spawn(base, record.writers, options, until)?);
            record.writers += 1;
            next_kill = Instant::now() + Duration::from_millis(100 + rng.next(300));
        }
        if Instant::now() >= next_progress {
            let acked: usize = record.acks.len();
            eprintln!(
                "stress: {:>4.0?} left, {} kills, {} acks from finished children, queue {pending}",
                deadline.saturating_duration_since(Instant::now()),
                record.kills.len(),
                acked
            );
            next_progress += Duration::from_secs(1);
        }
    }
    eprintln!("stress: time is up; waiting for the children to finish their last write");
    for child in running {
        collect(child, &mut record, false)?;
    }
    Ok(record)
}
