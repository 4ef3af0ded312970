// SPDX-License-Identifier: Apache-2.0
//! Group `handoff`: how long a waiting process takes to get a lock that
//! another process releases, and how much CPU a waiter burns meanwhile; for
//! the old module, fs, SQLite, pg (children connected over TCP) and the
//! floor (a bare blocking `flock`).
//!
//! Latency: a holder child takes the lock; a waiter child waits for it with
//! a long timeout; after a random 20-120 ms (so that a polling waiter is
//! caught at a random phase) the holder reads the wall clock and releases;
//! the waiter reads the wall clock as soon as it has the lock.
//!
//! CPU: a waiter child waits on a lock held throughout, until its timeout,
//! and reports the CPU time of all its threads against the wall time.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use reedbase_concurrent_core::now_nanos;
use reedbase_concurrent_test_support::Rng;

use super::measure::{Recorder, Stats, Unit};
use super::{Options, PgSites};
use crate::child_process::ChildProcess;
use crate::held_lock::BACKENDS;
use crate::pg_site::PgSite;

/// The group's name.
pub const GROUP: &str = "handoff";
/// Operation: release in one process to acquisition in another.
pub const OP_LATENCY: &str = "hand-off latency, waiter already waiting";
/// Operation: CPU a waiter uses while the lock stays held.
pub const OP_WAITER_CPU: &str = "waiter CPU while the lock is held";

/// The table the children lock.
const TABLE: &str = "handoff";

/// Runs the group with base directories under `dir` and the pg lock in a
/// namespace of `pg`'s (pg's rows are left out without a server).
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path, pg: &PgSites) {
    recorder.begin_group(GROUP, "lock hand-off between two processes");
    let trials = if options.quick { 10 } else { 40 };
    let (cpu_trials, cpu_wait) = if options.quick {
        (1, Duration::from_millis(300))
    } else {
        (3, Duration::from_secs(1))
    };
    let mut random = Rng::with_seed(now_nanos() as u64 | 1);
    let backends: Vec<&str> = BACKENDS
        .into_iter()
        .filter(|backend| *backend != "pg" || pg.available())
        .collect();
    let site = |backend: &str| match backend {
        "pg" => pg.site(),
        _ => PgSite::default(),
    };
    for &backend in &backends {
        let place = (dir.join(format!("handoff-{backend}")), site(backend));
        recorder.measure_stats(GROUP, OP_LATENCY, backend, Unit::Nanos, || {
            let mut latencies = Vec::with_capacity(trials);
            for _ in 0..trials {
                let pause = Duration::from_millis(random.below(20, 120));
                latencies.push(handoff_trial(backend, &place, pause)?);
            }
            Ok(Stats::from_values(latencies))
        });
    }
    for &backend in &backends {
        let place = (dir.join(format!("handoff-{backend}")), site(backend));
        recorder.measure(GROUP, OP_WAITER_CPU, backend, Unit::Percent, || {
            let shares = (0..cpu_trials)
                .map(|_| waiter_cpu_trial(backend, &place, cpu_wait))
                .collect::<Result<Vec<f64>, String>>()?;
            let detail = serde_json::json!({ "wait_ms": cpu_wait.as_millis() as u64 });
            Ok((Stats::from_values(shares), Some(detail)))
        });
    }
}

/// Where a backend's lock is: its base directory, and for pg its site.
type Place = (PathBuf, PgSite);

/// A lock role's child: `role` on `backend` at `place`, with `extra`
/// arguments.
fn lock_child(
    role: &str,
    backend: &str,
    (base, site): &Place,
    extra: &[String],
) -> Result<ChildProcess, String> {
    let mut args: Vec<OsString> = vec![role.into(), backend.into(), base.into(), TABLE.into()];
    args.extend(site.args().into_iter().map(OsString::from));
    args.extend(extra.iter().map(OsString::from));
    ChildProcess::spawn(&args)
}

/// A `hold` child on `backend`, holding the lock.
fn holder(backend: &str, place: &Place) -> Result<ChildProcess, String> {
    let mut holder = lock_child("hold", backend, place, &[])?;
    holder.expect("locked")?;
    Ok(holder)
}

/// One hand-off: nanoseconds from the holder's release to the waiter's
/// acquisition.
fn handoff_trial(backend: &str, place: &Place, pause: Duration) -> Result<f64, String> {
    let mut holder = holder(backend, place)?;
    let mut waiter = lock_child("wait", backend, place, &[])?;
    waiter.expect("waiting")?;
    thread::sleep(pause);
    holder.send("release")?;
    let released = parse_nanos(&holder.expect("released")?)?;
    let acquired = parse_nanos(&waiter.expect("acquired")?)?;
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

/// One CPU measurement: the waiter's CPU time as a percentage of its wall
/// time.
fn waiter_cpu_trial(backend: &str, place: &Place, wait: Duration) -> Result<f64, String> {
    let mut holder = holder(backend, place)?;
    let timeout = format!("--timeout-ms={}", wait.as_millis());
    let mut waiter = lock_child("cpu-wait", backend, place, &[timeout])?;
    let report = waiter.expect("cpu")?;
    waiter.finish()?;
    holder.send("release")?;
    holder.expect("released")?;
    holder.finish()?;
    let mut numbers = report.split_whitespace().map(parse_nanos);
    match (numbers.next(), numbers.next()) {
        (Some(Ok(cpu)), Some(Ok(wall))) if wall > 0 => Ok(cpu as f64 * 100.0 / wall as f64),
        _ => Err(format!("the cpu waiter sent {report:?}")),
    }
}

fn parse_nanos(text: &str) -> Result<u128, String> {
    text.parse()
        .map_err(|_| format!("a child sent {text:?} for a time in nanoseconds"))
}
