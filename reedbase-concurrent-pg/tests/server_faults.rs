// SPDX-License-Identifier: Apache-2.0
//! The backend when the server, or another session on it, misbehaves, on
//! the real server: every call returns while the fault lasts (run with a
//! patience far beyond its bound; `MEASURED` lines print the time taken).
//!
//! - a paused server session (SIGSTOP): the guard's holder learns it lost
//!   the lock, and the calls on a paused work session time out;
//! - the pool: work under a held lock never waits for the lock's
//!   connections, and many threads on many tables get at worst
//!   `LockTimeout` or `QueueBusy`;
//! - row locks: a fresh process registers a table without waiting for
//!   another producer's open transaction; a transaction that holds the
//!   registry row bounds `queue_write` and `acquire_lock`;
//! - the DBA's `statement_timeout`, `lock_timeout` and
//!   `idle_session_timeout` neither cut a lock wait nor lose a lock;
//! - a commit whose answer is lost is settled (queued or not), or reported
//!   as unknown with its own SQLSTATE, never applied twice.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod net_proxy;
mod pg_support;

use std::process::Command;
use std::thread;
use std::time::Duration;

use net_proxy::{Mode, Proxy, Upstream};
use pg_support::{TABLE, bounded, lock_keys, sequenced_write as write};
use reedbase_concurrent_core::{
    LockBackend, LockGuard, QueueBackend, ReedError, SubmitOutcome, WriteCoordinator,
};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{PgBackend, PgOptions};

const PATIENCE: Duration = Duration::from_secs(15);

fn short() -> PgOptions {
    PgOptions::new()
        .call_timeout(Duration::from_millis(300))
        .queue_timeout(Duration::from_millis(200))
        .connect_timeout(Duration::from_millis(500))
        .lease(Duration::from_secs(1))
}

/// A server session paused with SIGSTOP until this is dropped.
struct Paused(i32);

impl Paused {
    fn pause(pid: i32) -> Paused {
        let status = Command::new("kill")
            .args(["-STOP", &pid.to_string()])
            .status();
        assert!(status.unwrap().success(), "cannot pause session {pid}");
        Paused(pid)
    }
}

impl Drop for Paused {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-CONT", &self.0.to_string()])
            .status();
    }
}

#[test]
fn a_paused_server_session_bounds_the_calls() {
    let Some(server) = TestServer::find("a_paused_server_session_bounds_the_calls") else {
        return;
    };
    let run = server.run("paused");
    let holder = run.backend(short()).unwrap();
    let guard = holder.acquire_lock(TABLE, PATIENCE).unwrap();
    let paused = Paused::pause(guard.server_pid());
    let (held, _) = bounded("paused session: is_held (lease 1 s)", PATIENCE, move || {
        let held = guard.is_held().unwrap();
        drop(guard);
        held
    });
    assert!(!held, "a guard whose session does not answer is not held");
    let other = PgBackend::connect_with(server.url(), holder.namespace(), short()).unwrap();
    let o = other.clone();
    let (error, _) = bounded(
        "paused holder: acquire_lock(300 ms) elsewhere",
        PATIENCE,
        move || {
            o.acquire_lock(TABLE, Duration::from_millis(300))
                .unwrap_err()
        },
    );
    assert!(
        error.is_lock_timeout(),
        "the paused session still holds it: {error:?}"
    );
    drop(paused);
    drop(other.acquire_lock(TABLE, PATIENCE).unwrap());

    // A work session paused: one work connection, named so it can be found.
    let name = format!("reedbase_paused_{}", std::process::id());
    let url = format!(
        "{} application_name='{name}'",
        server.url_with(None, None, None)
    );
    let options = short().pool_size(1);
    let worker = PgBackend::connect_with(&url, holder.namespace(), options).unwrap();
    worker.queue_write(TABLE, &write(0, 0)).unwrap();
    let mut admin = server.client().unwrap();
    let pid: i32 = admin
        .query_one(
            "SELECT pid FROM pg_stat_activity WHERE application_name = $1",
            &[&name],
        )
        .unwrap()
        .get(0);
    let paused = Paused::pause(pid);
    let w = worker.clone();
    let (result, _) = bounded(
        "paused work session: count_pending (call 300 ms)",
        PATIENCE,
        move || w.count_pending(TABLE),
    );
    assert!(result.is_err(), "{result:?}");
    drop(paused);
    assert_eq!(
        worker.count_pending(TABLE).unwrap(),
        1,
        "the backend recovers"
    );
}

#[test]
fn the_pool_is_not_starved_by_work_under_a_lock() {
    let Some(server) = TestServer::find("the_pool_is_not_starved_by_work_under_a_lock") else {
        return;
    };
    let run = server.run("pool");
    let one = run.backend(PgOptions::new().pool_size(1)).unwrap();
    for seq in 0..3 {
        one.queue_write(TABLE, &write(0, seq)).unwrap();
    }
    let coordinator = WriteCoordinator::new(one);
    let outcome = coordinator.submit(
        TABLE,
        write(0, 3),
        Duration::from_millis(100),
        |_, _| Ok(()),
    );
    assert!(
        matches!(outcome, Ok(SubmitOutcome::Applied { drained: 3 })),
        "{outcome:?}"
    );

    let backend = run.backend(PgOptions::new().pool_size(2)).unwrap();
    let coordinator = WriteCoordinator::new(backend);
    let outcomes: Vec<String> = thread::scope(|scope| {
        let threads: Vec<_> = (0..8)
            .map(|thread| {
                let coordinator = &coordinator;
                scope.spawn(move || {
                    (0..3)
                        .map(|seq| {
                            let table = format!("t{thread}");
                            match coordinator.submit(
                                &table,
                                write(thread, seq),
                                Duration::from_millis(100),
                                |_, _| Ok(()),
                            ) {
                                Ok(_) => "ok".to_string(),
                                Err(error) if error.is_lock_timeout() || error.is_queue_busy() => {
                                    "busy".to_string()
                                }
                                Err(error) => format!("{error:?}"),
                            }
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|t| t.join().unwrap())
            .collect()
    });
    let failures: Vec<&String> = outcomes
        .iter()
        .filter(|o| *o != "ok" && *o != "busy")
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
}

#[test]
fn row_locks_of_other_transactions_neither_block_registration_nor_outlive_the_bounds() {
    let Some(server) = TestServer::find("row_locks_of_other_transactions") else {
        return;
    };
    let run = server.run("row_locks");
    let first = run.backend(short()).unwrap();
    first.queue_write(TABLE, &write(0, 0)).unwrap();
    let mut admin = server.client().unwrap();
    let keys = lock_keys(&mut admin, first.namespace(), TABLE);
    // Another producer's open transaction: its insert holds a key-share
    // lock on the table's registry row.
    let mut producer = server.client().unwrap();
    producer
        .batch_execute(&format!(
            "BEGIN; INSERT INTO reedbase.queue (table_no, seq, id, body) \
             VALUES ({}, nextval('reedbase.queue_seq'), 'open-transaction', '\\x7b7d')",
            keys.table_no
        ))
        .unwrap();
    let fresh = PgBackend::connect_with(server.url(), first.namespace(), short()).unwrap();
    let f = fresh.clone();
    let (result, _) = bounded(
        "fresh process: queue_write during another's transaction",
        PATIENCE,
        move || f.queue_write(TABLE, &write(1, 0)),
    );
    result.unwrap();
    let fresh = PgBackend::connect_with(server.url(), first.namespace(), short()).unwrap();
    let (result, _) = bounded(
        "fresh process: acquire_lock during another's transaction",
        PATIENCE,
        move || {
            fresh
                .acquire_lock(TABLE, Duration::from_millis(100))
                .map(drop)
        },
    );
    result.unwrap();
    producer.batch_execute("ROLLBACK").unwrap();

    // A transaction that holds the registry row itself.
    admin
        .batch_execute(&format!(
            "BEGIN; SELECT 1 FROM reedbase.tables WHERE table_no = {} FOR UPDATE",
            keys.table_no
        ))
        .unwrap();
    let f = first.clone();
    let (error, _) = bounded(
        "row locked: queue_write (queue_timeout 200 ms)",
        PATIENCE,
        move || f.queue_write(TABLE, &write(0, 1)).unwrap_err(),
    );
    assert!(matches!(error, ReedError::QueueBusy { .. }), "{error:?}");
    let f = first.clone();
    let (error, _) = bounded("row locked: acquire_lock(200 ms)", PATIENCE, move || {
        f.acquire_lock(TABLE, Duration::from_millis(200))
            .unwrap_err()
    });
    assert!(error.is_lock_timeout(), "{error:?}");
    admin.batch_execute("COMMIT").unwrap();
    assert_eq!(first.count_pending(TABLE).unwrap(), 2);
}

#[test]
fn the_dbas_timeouts_neither_cut_lock_waits_nor_lose_locks() {
    let Some(server) = TestServer::find("the_dbas_timeouts_neither_cut_lock_waits_nor_lose_locks")
    else {
        return;
    };
    let run = server.run("dba_timeouts");
    let role = format!("reedbase_dba_{}", std::process::id());
    let mut admin = server.client().unwrap();
    admin
        .batch_execute(&format!(
            "DROP ROLE IF EXISTS {role}; CREATE ROLE {role} LOGIN SUPERUSER; \
             ALTER ROLE {role} SET statement_timeout = '300ms'; \
             ALTER ROLE {role} SET lock_timeout = '100ms'; \
             ALTER ROLE {role} SET idle_session_timeout = '500ms'"
        ))
        .unwrap();
    let holder = run.backend(PgOptions::new()).unwrap();
    let url = server.url_with(Some(&role), None, None);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let backend = PgBackend::connect(&url, holder.namespace()).unwrap();
        let coordinator = WriteCoordinator::new(backend.clone());
        let guard = holder.acquire_lock(TABLE, PATIENCE).unwrap();
        let outcome =
            coordinator.submit(
                TABLE,
                write(0, 0),
                Duration::from_millis(500),
                |_, _| Ok(()),
            );
        assert!(
            matches!(outcome, Ok(SubmitOutcome::Queued(_))),
            "queued, not handed back: {outcome:?}"
        );
        let released = thread::spawn(move || {
            thread::sleep(Duration::from_millis(800));
            drop(guard);
        });
        let guard = backend.acquire_lock(TABLE, Duration::from_secs(5)).unwrap();
        released.join().unwrap();
        thread::sleep(Duration::from_millis(1200));
        assert!(
            guard.is_held().unwrap(),
            "the lock session outlives idle_session_timeout"
        );
        drop(guard);
        assert_eq!(
            backend.count_pending(TABLE).unwrap(),
            1,
            "idle sessions are replaced"
        );
    }));
    let _ = admin.batch_execute(&format!(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{role}'; \
         DROP ROLE IF EXISTS {role}"
    ));
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn a_commit_whose_answer_is_lost_is_settled_or_reported_as_unknown() {
    let Some(server) = TestServer::find("a_commit_whose_answer_is_lost") else {
        return;
    };
    let run = server.run("uncertain");
    let proxy = Proxy::start(Upstream::of(server.tcp_url()));
    let options = short().pool_size(1).call_timeout(Duration::from_secs(1));
    let backend =
        PgBackend::connect_with(&proxy.url(server.tcp_url()), &run.namespace(), options).unwrap();
    let direct = PgBackend::connect(server.url(), backend.namespace()).unwrap();
    backend.queue_write(TABLE, &write(0, 0)).unwrap();

    // The commit landed, its answer did not: settled as queued, once.
    proxy.set(Mode::HoldCommitReply);
    let b = backend.clone();
    let (id, _) = bounded("lost commit answer, committed", PATIENCE, move || {
        b.queue_write(TABLE, &write(0, 1))
    });
    let id = id.unwrap();
    proxy.set(Mode::Pass);
    assert!(direct.is_pending(TABLE, &id).unwrap());
    assert_eq!(direct.count_pending(TABLE).unwrap(), 2);

    // The commit never reached the server: settled as not queued.
    proxy.set(Mode::HoldCommit);
    let b = backend.clone();
    let (error, _) = bounded("lost commit, not committed", PATIENCE, move || {
        b.queue_write(TABLE, &write(0, 2)).unwrap_err()
    });
    proxy.set(Mode::Pass);
    assert!(
        !matches!(&error, ReedError::ServerError { code: Some(code), .. } if code == "08007"),
        "{error:?}"
    );
    assert_eq!(
        direct.count_pending(TABLE).unwrap(),
        2,
        "nothing was queued"
    );

    // Nothing reaches the server to settle it: unknown, with the entry id.
    proxy.stall_new(true);
    proxy.set(Mode::HoldCommitReply);
    let b = backend.clone();
    let (error, _) = bounded("lost commit answer, cannot settle", PATIENCE, move || {
        b.queue_write(TABLE, &write(0, 3)).unwrap_err()
    });
    proxy.stall_new(false);
    proxy.set(Mode::Pass);
    let ReedError::ServerError {
        code: Some(code),
        reason,
        ..
    } = &error
    else {
        panic!("expected an unknown outcome, got {error:?}");
    };
    assert_eq!(code, "08007", "{reason}");
    let id = reason
        .split("as entry ")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .unwrap();
    assert!(
        direct.is_pending(TABLE, id).unwrap(),
        "the entry the error names was queued: {reason}"
    );
    assert_eq!(direct.count_pending(TABLE).unwrap(), 3);
}
