// SPDX-License-Identifier: Apache-2.0
//! The pg lock across processes standing for hosts: this binary re-runs
//! itself as child processes (role in `REEDBASE_TEST_CHILD`, see the fs
//! crate's test `support` module, shared here), and each child connects to
//! the server over TCP with a pool of its own, as a ReedBase process on
//! another host would (the frame is in `pg_children`). So it has its own
//! `main` instead of libtest's.
//!
//! - mutual exclusion: 4 processes x 50 increments of a counter file under
//!   the lock, never two inside, no update lost;
//! - a holder killed with SIGKILL releases the lock;
//! - a holder whose session the server ends finds out through the
//!   `WriteCoordinator` before it removes or applies anything more.
//!
//! The table writer on pg across processes (SIGKILLs, the fencing token)
//! and the multi-process example are the table crate's
//! (`multiprocess_writer`, `multiprocess_fencing`, `table_writers`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_test_support as support;

mod pg_children;
mod pg_support;

use std::fs::{self, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use pg_children::{Outcome, Scenario};
use pg_support::{TABLE, sequenced_write as write};
use reedbase_concurrent_core::{LockBackend, QueueBackend, WriteCoordinator};
use reedbase_concurrent_pg::PgBackend;
use reedbase_concurrent_pg::testing::TestServer;
use support::{ChildProcess, tell_parent};

/// No wait in this file is longer than this; a hang is a failure.
const PATIENCE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    const SCENARIOS: &[(&str, Scenario)] = &[
        (
            "four_hosts_increment_a_counter_under_the_lock",
            four_hosts_increment_a_counter_under_the_lock,
        ),
        (
            "sigkilled_holder_releases_the_lock",
            sigkilled_holder_releases_the_lock,
        ),
        (
            "terminated_holder_finds_out_before_it_removes",
            terminated_holder_finds_out_before_it_removes,
        ),
    ];
    pg_children::run("multiprocess_lock", child, SCENARIOS)
}

fn child(role: &str, backend: &PgBackend, base: &Path) {
    match role {
        "incrementer" => child_incrementer(backend, base),
        "holder" => child_holder(backend),
        "drain_and_pause" => child_drain_and_pause(backend, base),
        other => panic!("unknown child role {other}"),
    }
}

// Mutual exclusion.

const INCREMENTS: usize = 50;

fn child_incrementer(backend: &PgBackend, base: &Path) {
    let counter = base.join("counter");
    let inside = base.join("inside");
    for n in 0..INCREMENTS {
        let guard = backend.acquire_lock(TABLE, PATIENCE).unwrap();
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&inside)
        {
            Ok(_) => {}
            Err(error) if error.kind() == ErrorKind::AlreadyExists => {
                panic!("iteration {n}: another process was inside the lock")
            }
            Err(error) => panic!("marker: {error}"),
        }
        let value: usize = fs::read_to_string(&counter)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        thread::yield_now();
        fs::write(&counter, format!("{}\n", value + 1)).unwrap();
        fs::remove_file(&inside).unwrap();
        drop(guard);
    }
}

fn four_hosts_increment_a_counter_under_the_lock(_server: &TestServer, namespace: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("counter"), "0\n").unwrap();
    let params = format!("ns={namespace}");
    let children: Vec<ChildProcess> = (0..4)
        .map(|_| spawn("incrementer", dir.path(), &params))
        .collect::<Result<_, _>>()?;
    for child in children {
        child.finish(PATIENCE)?;
    }
    let value = fs::read_to_string(dir.path().join("counter")).unwrap();
    assert_eq!(
        value.trim(),
        (4 * INCREMENTS).to_string(),
        "no increment lost"
    );
    Ok(())
}

// A holder killed with SIGKILL.

fn child_holder(backend: &PgBackend) {
    let guard = backend.acquire_lock(TABLE, PATIENCE).unwrap();
    tell_parent(&format!("LOCKED {}", guard.server_pid()));
    thread::sleep(PATIENCE);
    panic!("the parent should have killed this child");
}

fn sigkilled_holder_releases_the_lock(server: &TestServer, namespace: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let backend = PgBackend::connect(server.url(), namespace).unwrap();
    let mut child = spawn("holder", dir.path(), &format!("ns={namespace}"))?;
    let line = child.read_line(PATIENCE)?;
    assert!(line.starts_with("LOCKED "), "{line}");
    assert!(backend.is_locked(TABLE).unwrap());
    assert!(backend.try_acquire_lock(TABLE).unwrap().is_none());
    child.kill()?;
    // The server ends the session when the socket closes: a waiter gets the
    // lock without any timeout of ours running out.
    let guard = backend
        .acquire_lock(TABLE, PATIENCE)
        .map_err(|e| e.to_string())?;
    assert!(reedbase_concurrent_core::LockGuard::is_held(&guard).unwrap());
    Ok(())
}

// A holder whose session the server ends.

/// Drains the queue through the coordinator; after applying the first
/// entry it tells the parent and waits for `go` before returning from
/// apply; prints how the drain ended.
fn child_drain_and_pause(backend: &PgBackend, base: &Path) {
    let coordinator = WriteCoordinator::new(backend.clone());
    let log = base.join("applied.log");
    let result = coordinator.drain(TABLE, PATIENCE, |key, _write| {
        let id = key.queue_id().unwrap_or("direct");
        let mut file = OpenOptions::new().create(true).append(true).open(&log)?;
        writeln!(file, "{id}")?;
        tell_parent(&format!("APPLIED {id}"));
        support::line_from_parent();
        Ok(())
    });
    match result {
        Ok(drained) => tell_parent(&format!("DRAINED {drained}")),
        Err(error) if error.is_lock_lost() => tell_parent("LOCK_LOST"),
        Err(error) => tell_parent(&format!("ERROR {error}")),
    }
}

fn terminated_holder_finds_out_before_it_removes(server: &TestServer, namespace: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let backend = PgBackend::connect(server.url(), namespace).unwrap();
    let ids: Vec<String> = (0..3)
        .map(|n| backend.queue_write(TABLE, &write(0, n)).unwrap())
        .collect();
    let mut child = spawn("drain_and_pause", dir.path(), &format!("ns={namespace}"))?;
    child.expect_line(&format!("APPLIED {}", ids[0]), PATIENCE)?;
    let holder_session = {
        let mut admin = server.client().unwrap();
        let keys = pg_support::lock_keys(&mut admin, namespace, TABLE);
        let row = admin
            .query_one(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted \
                 AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2",
                &[&keys.table_class, &keys.table_no],
            )
            .unwrap();
        let pid: i32 = row.get(0);
        pg_support::terminate(&mut admin, pid);
        pid
    };
    child.go()?;
    child.expect_line("LOCK_LOST", PATIENCE)?;
    let lines = child.finish(PATIENCE)?;
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("APPLIED")).count(),
        1,
        "{lines:?}"
    );
    let applied = fs::read_to_string(dir.path().join("applied.log")).unwrap();
    assert_eq!(
        applied.lines().collect::<Vec<_>>(),
        vec![ids[0].as_str()],
        "nothing more applied"
    );
    assert_eq!(
        backend.count_pending(TABLE).unwrap(),
        3,
        "nothing removed under the lost lock (session {holder_session})"
    );
    // The next holder applies the interrupted entry again, under its id.
    let mut replayed = Vec::new();
    let drained = WriteCoordinator::new(&backend)
        .drain(TABLE, PATIENCE, |key, _| {
            replayed.push(key.queue_id().unwrap().to_string());
            Ok(())
        })
        .map_err(|e| e.to_string())?;
    assert_eq!((drained, replayed), (3, ids));
    Ok(())
}

fn spawn(role: &str, base: &Path, params: &str) -> Result<ChildProcess, String> {
    ChildProcess::spawn(role, base, params)
}
