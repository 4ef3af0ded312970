// SPDX-License-Identifier: Apache-2.0
//! Group `handoff`: how long a waiting process takes to get a lock that
//! another process releases, and how much CPU a waiter burns meanwhile, for
//! the old module and the fs backend.
//!
//! Latency: a holder child takes the lock; a waiter child calls
//! `acquire_lock` with a long timeout; after a random 20-120 ms (so that a
//! polling waiter is caught at a random phase) the holder records the wall
//! clock (`SystemTime`, comparable across processes) and releases; the
//! waiter records the wall clock as soon as it has the lock.
//!
//! CPU: a waiter child waits on a lock held throughout, until its timeout,
//! and reports the CPU time it used (`/proc/self/schedstat`, else
//! `/proc/self/stat`) against the wall time.

use std::path::Path;
use std::thread;
use std::time::Duration;

use reedbase_concurrent_core::now_nanos;

use super::Options;
use super::child_lock::{acquire, cpu_time_ns};
use super::measure::{Recorder, Stats, Unit};
use super::process::{ChildProcess, arg, number_arg, say, wait_for_parent};

/// The group's name.
pub const GROUP: &str = "handoff";
/// Operation: release in one process to acquisition in another.
pub const OP_LATENCY: &str = "hand-off latency, waiter already waiting";
/// Operation: CPU a waiter uses while the lock stays held.
pub const OP_WAITER_CPU: &str = "waiter CPU while the lock is held";
/// The backends a child can lock with.
pub const BACKENDS: [&str; 2] = ["last", "fs"];

/// Hand-off trials per backend (`--quick`: 10).
const TRIALS: usize = 30;
/// Trials of the waiter CPU measurement per backend (`--quick`: 1).
const CPU_TRIALS: usize = 3;
/// How long the CPU waiter waits (`--quick`: 300 ms).
const CPU_WAIT: Duration = Duration::from_secs(1);
/// The table the children lock.
const TABLE: &str = "handoff";

/// Runs the group's measurements with base directories under `dir`.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path) {
    recorder.begin_group(GROUP, "lock hand-off between two processes");
    let trials = if options.quick { 10 } else { TRIALS };
    let mut random = Random::seeded();
    for backend in BACKENDS {
        let base = dir.join(format!("handoff-{backend}"));
        recorder.measure_stats(GROUP, OP_LATENCY, backend, Unit::Nanos, || {
            let mut latencies = Vec::with_capacity(trials);
            for _ in 0..trials {
                let pause = Duration::from_millis(20 + random.below(100));
                latencies.push(handoff_trial(backend, &base, pause)?);
            }
            Ok(Stats::from_values(latencies))
        });
    }
    let (cpu_trials, cpu_wait) = if options.quick {
        (1, Duration::from_millis(300))
    } else {
        (CPU_TRIALS, CPU_WAIT)
    };
    for backend in BACKENDS {
        let base = dir.join(format!("handoff-{backend}"));
        recorder.measure(GROUP, OP_WAITER_CPU, backend, Unit::Percent, || {
            let mut shares = Vec::with_capacity(cpu_trials);
            for _ in 0..cpu_trials {
                shares.push(waiter_cpu_trial(backend, &base, cpu_wait)?);
            }
            let detail = serde_json::json!({ "wait_ms": cpu_wait.as_millis() as u64 });
            Ok((Stats::from_values(shares), Some(detail)))
        });
    }
}

/// One hand-off: returns nanoseconds from the holder's release to the
/// waiter's acquisition.
fn handoff_trial(backend: &str, base: &Path, pause: Duration) -> Result<f64, String> {
    let base_text = path_text(base)?;
    let mut holder = ChildProcess::spawn(&["hold", backend, base_text, TABLE])?;
    holder.expect("locked")?;
    let mut waiter = ChildProcess::spawn(&["wait", backend, base_text, TABLE])?;
    waiter.expect("waiting")?;
    thread::sleep(pause);
    holder.send("release")?;
    let released: u128 = parse_nanos(&holder.expect("released")?)?;
    let acquired: u128 = parse_nanos(&waiter.expect("acquired")?)?;
    holder.finish()?;
    waiter.finish()?;
    if acquired < released {
        return Err(format!(
            "the waiter got the lock {} ns before the holder released it (clock step?)",
            released - acquired
        ));
    }
    Ok((acquired - released) as f64)
}

/// One CPU measurement: returns the waiter's CPU time as a percentage of
/// its wall time.
fn waiter_cpu_trial(backend: &str, base: &Path, wait: Duration) -> Result<f64, String> {
    let base_text = path_text(base)?;
    let mut holder = ChildProcess::spawn(&["hold", backend, base_text, TABLE])?;
    holder.expect("locked")?;
    let millis = wait.as_millis().to_string();
    let mut waiter = ChildProcess::spawn(&["cpu-wait", backend, base_text, TABLE, &millis])?;
    let answer = waiter.expect("cpu")?;
    holder.send("release")?;
    holder.expect("released")?;
    holder.finish()?;
    waiter.finish()?;
    let mut numbers = answer.split_whitespace().map(str::parse::<f64>);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(cpu)), Some(Ok(wall))) if wall > 0.0 => Ok(cpu / wall * 100.0),
        _ => Err(format!("the cpu-wait child said {answer:?}")),
    }
}

/// Child role `hold <backend> <base> <table>`: takes the lock, says
/// `locked`, waits for a line from the parent, then says
/// `released <nanos>` with the wall clock read just before releasing.
pub fn child_hold(args: &[String]) -> Result<(), String> {
    let (backend, base, table) = lock_args(args)?;
    let held = acquire(backend, base, table, Duration::from_secs(10))?
        .ok_or("the holder could not take the lock within 10 s")?;
    say("locked")?;
    wait_for_parent()?;
    let released = now_nanos();
    drop(held);
    say(&format!("released {released}"))
}

/// Child role `wait <backend> <base> <table>`: says `waiting`, waits for
/// the lock (up to 30 s), then says `acquired <nanos>`.
pub fn child_wait(args: &[String]) -> Result<(), String> {
    let (backend, base, table) = lock_args(args)?;
    say("waiting")?;
    let held = acquire(backend, base, table, Duration::from_secs(30))?
        .ok_or("the waiter did not get the lock within 30 s")?;
    let acquired = now_nanos();
    drop(held);
    say(&format!("acquired {acquired}"))
}

/// Child role `cpu-wait <backend> <base> <table> <millis>`: waits for a
/// lock that stays held until the timeout, then says
/// `cpu <cpu_nanos> <wall_nanos>`.
pub fn child_cpu_wait(args: &[String]) -> Result<(), String> {
    let (backend, base, table) = lock_args(args)?;
    let millis: u64 = number_arg(args, 3, "millis")?;
    let cpu_before = cpu_time_ns()?;
    let wall_before = now_nanos();
    let held = acquire(backend, base, table, Duration::from_millis(millis))?;
    let wall = now_nanos().saturating_sub(wall_before);
    let cpu = cpu_time_ns()?.saturating_sub(cpu_before);
    if held.is_some() {
        return Err("the cpu waiter got a lock that should have stayed held".to_string());
    }
    say(&format!("cpu {cpu} {wall}"))
}

/// The backend, base directory and table of a lock child role.
fn lock_args(args: &[String]) -> Result<(&str, &Path, &str), String> {
    Ok((
        arg(args, 0, "backend")?,
        Path::new(arg(args, 1, "base directory")?),
        arg(args, 2, "table")?,
    ))
}

fn parse_nanos(text: &str) -> Result<u128, String> {
    text.parse()
        .map_err(|_| format!("a child sent {text:?} for a time in nanoseconds"))
}

fn path_text(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("the bench directory {} is not UTF-8", path.display()))
}

/// A small xorshift generator for the pauses, seeded from the clock.
struct Random(u64);

impl Random {
    fn seeded() -> Random {
        Random((now_nanos() as u64) | 1)
    }

    /// A number in `0..bound`.
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}
