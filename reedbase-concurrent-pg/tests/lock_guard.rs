// SPDX-License-Identifier: Apache-2.0
//! The pg lock on a real server: fencing tokens, losing a lock when the
//! server ends its session, holders, arrival order, locks held by sessions
//! the backend did not open, and connections going back to the pool.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_support;

use std::sync::Mutex;
use std::thread;
use std::time::{Duration, SystemTime};

use pg_support::{await_waiters, lock_keys, terminate};
use reedbase_concurrent_core::{InspectBackend, LockBackend, LockGuard, QueueBackend};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{PgBackend, PgOptions};

const TABLE: &str = "orders";
const PATIENCE: Duration = Duration::from_secs(20);

/// Two backends on one namespace, each with its own pool, as two hosts
/// would have.
fn two_hosts(
    server: &TestServer,
    run: &reedbase_concurrent_pg::testing::TestRun,
) -> (PgBackend, PgBackend) {
    let namespace = run.namespace();
    let first = PgBackend::connect(server.url(), &namespace).unwrap();
    let second = PgBackend::connect(server.tcp_url(), &namespace).unwrap();
    (first, second)
}

#[test]
fn fencing_token_grows_with_every_acquisition_on_every_host() {
    let Some(server) = TestServer::find("fencing_token_grows_with_every_acquisition_on_every_host")
    else {
        return;
    };
    let run = server.run("fencing");
    let (first, second) = two_hosts(&server, &run);
    let mut tokens = Vec::new();
    for round in 0..3 {
        let guard = first.acquire_lock(TABLE, PATIENCE).unwrap();
        tokens.push(guard.fencing_token().unwrap());
        drop(guard);
        let guard = second
            .try_acquire_lock(TABLE)
            .unwrap()
            .expect("the lock is free");
        tokens.push(guard.fencing_token().unwrap());
        drop(guard);
        let guard = second.acquire_lock(TABLE, Duration::ZERO).unwrap();
        tokens.push(guard.fencing_token().unwrap());
        assert!(
            first.try_acquire_lock(TABLE).unwrap().is_none(),
            "round {round}"
        );
    }
    assert!(
        tokens.windows(2).all(|pair| pair[0] < pair[1]),
        "tokens must grow with every acquisition: {tokens:?}"
    );
    // A failed try does not consume a token.
    assert_eq!(tokens.len(), 9);
}

#[test]
fn a_lock_whose_session_the_server_ends_is_lost_and_free() {
    let Some(server) = TestServer::find("a_lock_whose_session_the_server_ends_is_lost_and_free")
    else {
        return;
    };
    let run = server.run("lost_lock");
    let (first, second) = two_hosts(&server, &run);
    let guard = first.acquire_lock(TABLE, PATIENCE).unwrap();
    assert!(guard.is_held().unwrap());
    assert!(second.try_acquire_lock(TABLE).unwrap().is_none());
    let mut admin = server.client().unwrap();
    terminate(&mut admin, guard.server_pid());
    assert!(
        !guard.is_held().unwrap(),
        "the guard must see that its session ended"
    );
    assert!(!guard.is_held().unwrap(), "and keep saying so");
    let taken_over = second.acquire_lock(TABLE, PATIENCE).unwrap();
    assert!(taken_over.fencing_token() > guard.fencing_token());
    assert!(taken_over.is_held().unwrap());
    drop(guard);
    assert!(
        taken_over.is_held().unwrap(),
        "dropping the lost guard must not release the new holder's lock"
    );
    assert!(first.is_locked(TABLE).unwrap());
    drop(taken_over);
    // The first backend's pool replaced the ended connection.
    let again = first.acquire_lock(TABLE, PATIENCE).unwrap();
    assert!(again.is_held().unwrap());
}

#[test]
fn lock_timeout_and_lock_holder_name_the_holder() {
    let Some(server) = TestServer::find("lock_timeout_and_lock_holder_name_the_holder") else {
        return;
    };
    let run = server.run("holder");
    let (first, second) = two_hosts(&server, &run);
    assert_eq!(second.lock_holder(TABLE).unwrap(), None);
    let before = SystemTime::now() - Duration::from_secs(1);
    let guard = first.acquire_lock(TABLE, PATIENCE).unwrap();
    let holder = second.lock_holder(TABLE).unwrap().expect("a holder");
    assert_eq!(holder.pid, Some(std::process::id()));
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(holder.host.as_deref(), Some(host.trim()));
    let since = holder.acquired_at.expect("the acquisition time");
    assert!(since >= before && since <= SystemTime::now(), "{since:?}");

    let timeout = Duration::from_millis(200);
    let error = match second.acquire_lock(TABLE, timeout) {
        Err(error) => error,
        Ok(_) => panic!("acquired a held lock"),
    };
    assert!(error.is_lock_timeout(), "{error}");
    let reedbase_concurrent_core::ReedError::LockTimeout { waited, .. } = &error else {
        unreachable!()
    };
    assert!(*waited >= timeout, "waited {waited:?}");
    assert_eq!(error.holder(), Some(&holder));
    assert!(
        error
            .to_string()
            .contains(&format!("pid {}", std::process::id())),
        "{error}"
    );
    drop(guard);
    assert_eq!(second.lock_holder(TABLE).unwrap(), None);
}

#[test]
fn a_lock_held_by_a_session_without_a_record_is_held_by_an_unknown_holder() {
    let Some(server) =
        TestServer::find("a_lock_held_by_a_session_without_a_record_is_held_by_an_unknown_holder")
    else {
        return;
    };
    let run = server.run("unknown_holder");
    let backend = run.backend(PgOptions::new()).unwrap();
    drop(backend.acquire_lock(TABLE, PATIENCE).unwrap());
    let mut other = server.client().unwrap();
    let keys = lock_keys(&mut other, backend.namespace(), TABLE);
    other
        .batch_execute(&format!("SELECT pg_advisory_lock({})", keys.table_lock()))
        .unwrap();
    assert!(backend.is_locked(TABLE).unwrap());
    assert!(backend.try_acquire_lock(TABLE).unwrap().is_none());
    let holder = backend.lock_holder(TABLE).unwrap().expect("held");
    assert!(holder.is_unknown(), "{holder:?}");
    let error = backend
        .acquire_lock(TABLE, Duration::from_millis(50))
        .map(drop)
        .unwrap_err();
    assert!(
        error.is_lock_timeout() && error.holder().is_none(),
        "{error:?}"
    );
    other
        .batch_execute(&format!("SELECT pg_advisory_unlock({})", keys.table_lock()))
        .unwrap();
    assert!(!backend.is_locked(TABLE).unwrap());
}

#[test]
fn waiters_get_the_lock_in_arrival_order() {
    let Some(server) = TestServer::find("waiters_get_the_lock_in_arrival_order") else {
        return;
    };
    let run = server.run("arrival");
    let backend = run.backend(PgOptions::new()).unwrap();
    let guard = backend.acquire_lock(TABLE, PATIENCE).unwrap();
    let mut admin = server.client().unwrap();
    let keys = lock_keys(&mut admin, backend.namespace(), TABLE);
    let order = Mutex::new(Vec::new());
    thread::scope(|scope| {
        for waiter in 0..4 {
            let (backend, order) = (&backend, &order);
            scope.spawn(move || {
                let guard = backend.acquire_lock(TABLE, PATIENCE).unwrap();
                order.lock().unwrap().push(waiter);
                thread::sleep(Duration::from_millis(5));
                drop(guard);
            });
            // The next waiter starts once this one waits in the server.
            await_waiters(
                &mut admin,
                keys.table_class,
                keys.table_no,
                waiter + 1,
                PATIENCE,
            );
        }
        drop(guard);
    });
    assert_eq!(*order.lock().unwrap(), vec![0, 1, 2, 3]);
}

#[test]
fn a_dropped_guard_returns_a_connection_that_holds_no_lock() {
    let Some(server) = TestServer::find("a_dropped_guard_returns_a_connection_that_holds_no_lock")
    else {
        return;
    };
    let run = server.run("one_connection");
    let options = PgOptions::new()
        .pool_size(1)
        .connect_timeout(Duration::from_millis(300));
    let backend = run.backend(options).unwrap();
    let other = PgBackend::connect(server.url(), backend.namespace()).unwrap();
    for _ in 0..3 {
        let guard = backend.acquire_lock(TABLE, PATIENCE).unwrap();
        // The guard keeps the only lock connection: calls made meanwhile
        // have connections of their own, and a second lock waits for the
        // lock connection within its timeout, then times out.
        assert_eq!(backend.count_pending(TABLE).unwrap(), 0);
        let error = backend
            .acquire_lock("other", Duration::from_millis(100))
            .unwrap_err();
        assert!(error.is_lock_timeout(), "{error:?}");
        drop(guard);
        assert!(
            !other.is_locked(TABLE).unwrap(),
            "the lock went back with the connection"
        );
        assert_eq!(backend.count_pending(TABLE).unwrap(), 0);
    }
}

#[test]
fn a_holder_that_lost_its_lock_counts_no_failed_apply() {
    let Some(server) = TestServer::find("a_holder_that_lost_its_lock_counts_no_failed_apply")
    else {
        return;
    };
    let run = server.run("stale_count");
    let backend = run.backend(PgOptions::new()).unwrap();
    backend
        .queue_write(TABLE, &pg_support::sequenced_write(0, 0))
        .unwrap();
    let mut admin = server.client().unwrap();
    let keys = lock_keys(&mut admin, backend.namespace(), TABLE);
    let coordinator = reedbase_concurrent_core::WriteCoordinator::new(backend.clone());
    // The apply of the queued write fails after the holder's session was
    // ended: the holder must not count the failure.
    let error = coordinator
        .drain(TABLE, PATIENCE, |_, _| {
            let pid: i32 = admin
                .query_one(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = $1::int::oid \
                     AND objid = $2::int::oid AND objsubid = 2 AND granted",
                    &[&keys.table_class, &keys.table_no],
                )
                .unwrap()
                .get(0);
            terminate(&mut admin, pid);
            Err("the table's file is full".into())
        })
        .unwrap_err();
    assert!(error.is_lock_lost(), "{error:?}");
    let entries = backend.queued_entries(TABLE).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].attempts, 0,
        "no failure counted by a stale holder"
    );
}

#[test]
fn an_acquisition_says_whether_an_entry_was_queued_and_the_coordinator_fetches_only_then() {
    use reedbase_concurrent_conformance::{LosingLocks, keys_applied_by_submit};
    use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteCoordinator, WriteOperation};
    let Some(server) = TestServer::find(
        "an_acquisition_says_whether_an_entry_was_queued_and_the_coordinator_fetches_only_then",
    ) else {
        return;
    };
    let run = server.run("queue_empty");
    let (first, second) = two_hosts(&server, &run);
    let write =
        |key: &str| PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])]);
    let guard = first.acquire_lock(TABLE, PATIENCE).unwrap();
    assert!(
        guard.queue_empty_at_acquisition(),
        "a table never queued to"
    );
    drop(guard);
    second.queue_write(TABLE, &write("queued")).unwrap();
    let guard = first.acquire_lock(TABLE, PATIENCE).unwrap();
    assert!(
        !guard.queue_empty_at_acquisition(),
        "an entry queued on the other host before the acquisition"
    );
    drop(guard);
    let losing = LosingLocks::new(first);
    let coordinator = WriteCoordinator::new(&losing);
    let submit = |key: &str| keys_applied_by_submit(&coordinator, TABLE, write(key), PATIENCE);
    assert_eq!(submit("own"), ["queued", "own"]);
    let fetched = losing.fetches();
    assert!(fetched >= 1);
    assert_eq!(submit("next"), ["next"]);
    assert_eq!(losing.fetches(), fetched, "fetched from an empty queue");
    second.queue_write(TABLE, &write("again")).unwrap();
    assert_eq!(submit("last"), ["again", "last"]);
    assert!(losing.fetches() > fetched);
}
