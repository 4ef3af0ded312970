// SPDX-License-Identifier: Apache-2.0
//! On-disk and cross-process compatibility between the old module and the
//! fs backend, in both directions: each reads the queue entries the other
//! wrote, and a lock held by either in a child process excludes the other
//! in this process. With a server, queue entries copied between the file
//! queues and the pg backend's queue table ([`super::pg_entries`])
//! read the same on either side.

use std::path::Path;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{LockBackend, QueueBackend};
use reedbase_concurrent_fs::FsBackend;
use reedbase_last::concurrent as last;
use reedbase_last::error::ReedError as LastError;

use super::backends::{Bases, quietly};
use super::compat_samples::{TABLE, err, sample};
use super::conformance_runs::SKIPPED;
use super::findings::{BACKENDS, Backend, BackendSet, Divergence, Finding, Group, brief};
use super::pg_entries;
use crate::child_process::ChildProcess;

/// How long the side that should be excluded tries to take the lock.
const EXCLUDED_FOR: Duration = Duration::from_millis(300);

/// A check, on a fresh temporary directory (and, with a server, fresh pg
/// namespaces from the bases).
type CheckFn = fn(&Path, &Bases) -> Result<(), String>;

/// One check: its scenario name, what each backend does in it (last, fs,
/// mem, pg), the two backends it involves, and the check itself.
struct Check {
    scenario: &'static str,
    cells: [&'static str; BACKENDS],
    involves: [Backend; 2],
    check: CheckFn,
}

const NO_DISK: &str = "n/a (no disk)";
const IN_PROCESS: &str = "n/a (in-process only)";
const OWN_LOCK: &str = "n/a (a lock on the server)";
const NOT_HERE: &str = "n/a";

const CHECKS: [Check; 7] = [
    Check {
        scenario: "cross:last-entries-read-by-fs",
        cells: [
            "queues 2 entries",
            "reads them first, in order",
            NO_DISK,
            NOT_HERE,
        ],
        involves: [Backend::Last, Backend::Fs],
        check: last_entries_read_by_fs,
    },
    Check {
        scenario: "cross:fs-entries-read-by-last",
        cells: [
            "reads 3 entries, in order",
            "queues 3 entries (JSON)",
            NO_DISK,
            NOT_HERE,
        ],
        involves: [Backend::Last, Backend::Fs],
        check: fs_entries_read_by_last,
    },
    Check {
        scenario: "cross:last-lock-excludes-fs",
        cells: [
            "holds the lock in a child",
            "excluded, then free",
            IN_PROCESS,
            OWN_LOCK,
        ],
        involves: [Backend::Last, Backend::Fs],
        check: last_lock_excludes_fs,
    },
    Check {
        scenario: "cross:fs-lock-excludes-last",
        cells: [
            "excluded, then free",
            "holds the lock in a child",
            IN_PROCESS,
            OWN_LOCK,
        ],
        involves: [Backend::Last, Backend::Fs],
        check: fs_lock_excludes_last,
    },
    Check {
        scenario: "cross:fs-entries-read-by-pg",
        cells: [
            NOT_HERE,
            "queues 3 entries (JSON)",
            NO_DISK,
            "reads the copies, in order",
        ],
        involves: [Backend::Fs, Backend::Pg],
        check: pg_entries::fs_entries_read_by_pg,
    },
    Check {
        scenario: "cross:pg-entries-read-by-fs",
        cells: [
            NOT_HERE,
            "reads the copies, in order",
            NO_DISK,
            "queues 3 entries",
        ],
        involves: [Backend::Fs, Backend::Pg],
        check: pg_entries::pg_entries_read_by_fs,
    },
    Check {
        scenario: "cross:last-entries-read-by-pg",
        cells: [
            "queues 2 entries",
            NOT_HERE,
            NO_DISK,
            "reads the copies, in order",
        ],
        involves: [Backend::Last, Backend::Pg],
        check: pg_entries::last_entries_read_by_pg,
    },
];

/// Runs every check on a fresh temporary directory; one finding each. A
/// check that involves pg is skipped without a server.
pub fn run(bases: &Bases) -> Vec<Finding> {
    let started = Instant::now();
    let bases = bases.fresh();
    let findings: Vec<Finding> = CHECKS
        .iter()
        .map(|check| run_check(check, &bases))
        .collect();
    eprintln!(
        "  cross-compatibility: {} checks, {:.1} s",
        findings.len(),
        started.elapsed().as_secs_f64()
    );
    findings
}

fn run_check(check: &Check, bases: &Bases) -> Finding {
    let mut cells = check.cells.map(str::to_string);
    let skipped = check.involves.contains(&Backend::Pg) && !bases.has_pg();
    let outcome = if skipped {
        cells[Backend::Pg.index()] = SKIPPED.to_string();
        Ok(())
    } else {
        let dir = bases.temp_dir();
        quietly(|| (check.check)(&dir, bases)).and_then(|inner| inner)
    };
    let divergence = outcome.err().map(|message| {
        let [first, second] = check.involves;
        cells[first.index()] = "see details".to_string();
        cells[second.index()] = format!("FAIL: {}", brief(&message, 40));
        Divergence {
            differs_on: BackendSet::of(&check.involves),
            detail: format!("{}: {message}\n", check.scenario),
            intermittent: None,
        }
    });
    Finding {
        group: Group::CrossCompat,
        scenario: check.scenario.to_string(),
        cells,
        divergence,
    }
}

/// A child process holding `TABLE`'s lock under `base` with `kind` (`last`
/// or `fs`).
fn hold(kind: &str, base: &Path) -> Result<ChildProcess, String> {
    let mut holder = ChildProcess::spawn(&[
        "hold".as_ref(),
        kind.as_ref(),
        base.as_os_str(),
        TABLE.as_ref(),
        "--timeout-ms=5000".as_ref(),
    ])?;
    holder.expect("locked")?;
    Ok(holder)
}

/// Lets the holder go and waits until it has exited (so its lock is gone).
fn release(mut holder: ChildProcess) -> Result<(), String> {
    holder.send("release")?;
    holder.expect("released")?;
    holder.finish()
}

/// The old module queues two entries; fs queues one after them; fs then
/// drains all three in that order, the old ones first under their ids.
fn last_entries_read_by_fs(base: &Path, _bases: &Bases) -> Result<(), String> {
    let mut expected = Vec::new();
    for n in 1..=2 {
        let (core, old) = sample(n);
        let id = last::queue_write(base, TABLE, old).map_err(err("old queue_write"))?;
        expected.push((Some(id), core));
        // The old module orders by creation time; give it distinct ones.
        thread::sleep(Duration::from_millis(5));
    }
    let fs = FsBackend::new(base);
    let (core, _) = sample(3);
    fs.queue_write(TABLE, &core)
        .map_err(err("fs queue_write"))?;
    expected.push((None, core));
    let count = fs.count_pending(TABLE).map_err(err("fs count_pending"))?;
    if count != 3 {
        return Err(format!("fs count_pending: {count}, expected 3"));
    }
    for (position, (id, write)) in expected.into_iter().enumerate() {
        let next = fs
            .get_next_pending(TABLE)
            .map_err(err("fs get_next_pending"))?;
        let Some((got_id, got)) = next else {
            return Err(format!("fs get_next_pending: None at entry {position}"));
        };
        if got != write || id.as_ref().is_some_and(|id| *id != got_id) {
            return Err(format!(
                "fs get_next_pending at entry {position}: got {got_id} {got:?}, expected {id:?} {write:?}"
            ));
        }
        fs.remove_from_queue(TABLE, &got_id)
            .map_err(err("fs remove_from_queue"))?;
    }
    Ok(())
}

/// fs queues three entries; the old module counts them and drains them in
/// order, with the same content.
fn fs_entries_read_by_last(base: &Path, _bases: &Bases) -> Result<(), String> {
    let fs = FsBackend::new(base);
    let mut expected = Vec::new();
    for n in 1..=3 {
        let (core, old) = sample(n);
        let id = fs
            .queue_write(TABLE, &core)
            .map_err(err("fs queue_write"))?;
        expected.push((id, old));
        // The old module reads in creation-time order, which ties for
        // writes within one tick of a coarse clock (see PARITY.md).
        thread::sleep(Duration::from_millis(5));
    }
    let count = last::count_pending(base, TABLE).map_err(err("old count_pending"))?;
    if count != 3 {
        return Err(format!("old count_pending: {count}, expected 3"));
    }
    for (position, (id, write)) in expected.into_iter().enumerate() {
        let next = last::get_next_pending(base, TABLE).map_err(err("old get_next_pending"))?;
        let Some((got_id, got)) = next else {
            return Err(format!("old get_next_pending: None at entry {position}"));
        };
        if got != write || got_id != id {
            return Err(format!(
                "old get_next_pending at entry {position}: got {got_id} {got:?}, expected {id} {write:?}"
            ));
        }
        last::remove_from_queue(base, TABLE, &got_id).map_err(err("old remove_from_queue"))?;
    }
    Ok(())
}

/// A child holds the old module's lock: fs cannot take it (try, and a
/// 300 ms acquire that times out), sees it held, and takes it once the
/// child has let go.
fn last_lock_excludes_fs(base: &Path, _bases: &Bases) -> Result<(), String> {
    let holder = hold("last", base)?;
    let fs = FsBackend::new(base);
    if fs
        .try_acquire_lock(TABLE)
        .map_err(err("fs try_acquire_lock"))?
        .is_some()
    {
        return Err("fs try_acquire_lock took a lock the old module holds".to_string());
    }
    if !fs.is_locked(TABLE).map_err(err("fs is_locked"))? {
        return Err("fs is_locked: false while the old module holds the lock".to_string());
    }
    let started = Instant::now();
    match fs.acquire_lock(TABLE, EXCLUDED_FOR) {
        Ok(_) => return Err("fs acquire_lock took a lock the old module holds".to_string()),
        Err(e) if e.is_lock_timeout() && started.elapsed() >= EXCLUDED_FOR => {}
        Err(e) => {
            return Err(format!(
                "fs acquire_lock: expected a timeout after 300 ms, got {e}"
            ));
        }
    }
    release(holder)?;
    fs.acquire_lock(TABLE, Duration::from_secs(2))
        .map(drop)
        .map_err(err("fs acquire_lock after the old module released"))
}

/// A child holds fs's lock: the old module's 300 ms acquire times out, its
/// `is_locked` says held, and it takes the lock once the child has let go.
fn fs_lock_excludes_last(base: &Path, _bases: &Bases) -> Result<(), String> {
    let holder = hold("fs", base)?;
    if !last::is_locked(base, TABLE).map_err(err("old is_locked"))? {
        return Err("old is_locked: false while fs holds the lock".to_string());
    }
    match last::acquire_lock(base, TABLE, EXCLUDED_FOR) {
        Ok(_) => return Err("old acquire_lock took a lock fs holds".to_string()),
        Err(LastError::LockTimeout { .. }) => {}
        Err(e) => return Err(format!("old acquire_lock: expected LockTimeout, got {e}")),
    }
    release(holder)?;
    last::acquire_lock(base, TABLE, Duration::from_secs(2))
        .map(drop)
        .map_err(err("old acquire_lock after fs released"))
}
