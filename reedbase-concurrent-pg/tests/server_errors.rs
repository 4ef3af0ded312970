// SPDX-License-Identifier: Apache-2.0
//! Failures of the server, of the network and of the user's rights, on a
//! real server: each is a `ServerError` naming the operation, the server
//! (never the password) and the SQLSTATE, and leaves nothing half written.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_support;

use std::thread;
use std::time::Duration;

use pg_support::{FreshSchema, await_waiters, lock_keys, terminate};
use reedbase_concurrent_core::{
    CsvRow, LockBackend, LockGuard, PendingWrite, QueueBackend, ReedError, WriteOperation,
};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{PgBackend, PgOptions};

const TABLE: &str = "orders";
const PATIENCE: Duration = Duration::from_secs(20);
const PASSWORD: &str = "s3cret-never-shown";

fn write(tag: &str) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(format!("key-{tag}"), [tag])],
    )
}

/// The parts of a `ServerError`, or a panic naming what came instead.
#[track_caller]
fn server_error(error: &ReedError) -> (&'static str, &str, Option<&str>, &str) {
    match error {
        ReedError::ServerError {
            operation,
            server,
            code,
            reason,
        } => (
            *operation,
            server.as_str(),
            code.as_deref(),
            reason.as_str(),
        ),
        other => panic!("expected a ServerError, got {other:?}"),
    }
}

/// The server's FATAL "terminating connection due to administrator
/// command" (57P01), or, when the client saw the socket close first, a
/// closed connection.
#[track_caller]
fn assert_session_ended(code: Option<&str>, reason: &str) {
    match code {
        Some(code) => assert_eq!(code, "57P01", "{reason}"),
        None => assert!(reason.contains("closed"), "{reason}"),
    }
}

#[track_caller]
fn assert_no_password(error: &ReedError) {
    assert!(
        !format!("{error} {error:?}").contains(PASSWORD),
        "{error:?}"
    );
}

#[test]
fn an_unreachable_server_is_named_without_the_password() {
    let url = format!("postgresql://reedbase:{PASSWORD}@127.0.0.1:1/test");
    let options = PgOptions::new().connect_timeout(Duration::from_secs(2));
    let error = PgBackend::connect_with(&url, "ns", options).unwrap_err();
    let (operation, server, code, _) = server_error(&error);
    assert_eq!(
        (operation, server, code),
        ("connect", "127.0.0.1:1/test", None)
    );
    assert_no_password(&error);
}

#[test]
fn an_authentication_failure_keeps_its_sqlstate() {
    let Some(server) = TestServer::find("an_authentication_failure_keeps_its_sqlstate") else {
        return;
    };
    // With the test server's trust authentication, an unknown role is what
    // fails authentication (SQLSTATE 28000, invalid authorisation).
    let url = server.url_with(Some("no_such_role_reedbase"), Some(PASSWORD), None);
    let error = PgBackend::connect(&url, "ns").unwrap_err();
    let (operation, name, code, reason) = server_error(&error);
    assert_eq!(
        (operation, name, code),
        ("connect", TestServer::name_of(&url).as_str(), Some("28000"))
    );
    assert!(reason.contains("no_such_role_reedbase"), "{reason}");
    assert_no_password(&error);
    drop(server);
}

#[test]
fn an_unknown_database_keeps_its_sqlstate() {
    let Some(server) = TestServer::find("an_unknown_database_keeps_its_sqlstate") else {
        return;
    };
    let url = server.url_with(None, None, Some("no_such_database_reedbase"));
    let error = PgBackend::connect(&url, "ns").unwrap_err();
    let (operation, _, code, _) = server_error(&error);
    assert_eq!((operation, code), ("connect", Some("3D000")));
}

/// A role of its own for a test, dropped (with what it owns) at the end.
struct Role<'a> {
    server: &'a TestServer,
    name: String,
}

impl<'a> Role<'a> {
    fn create(server: &'a TestServer, label: &str) -> Role<'a> {
        let name = format!("reedbase_{label}_{}", std::process::id());
        let mut admin = server.client().unwrap();
        admin
            .batch_execute(&format!(
                "DROP ROLE IF EXISTS {name}; CREATE ROLE {name} LOGIN"
            ))
            .unwrap();
        Role { server, name }
    }

    fn url(&self) -> String {
        self.server.url_with(Some(&self.name), None, None)
    }
}

impl Drop for Role<'_> {
    fn drop(&mut self) {
        if let Ok(mut admin) = self.server.client() {
            let _ = admin.batch_execute(&format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{0}'; \
                 REVOKE ALL ON ALL TABLES IN SCHEMA reedbase FROM {0}; \
                 REVOKE ALL ON ALL SEQUENCES IN SCHEMA reedbase FROM {0}; \
                 REVOKE ALL ON SCHEMA reedbase FROM {0}; DROP ROLE IF EXISTS {0}",
                self.name
            ));
        }
    }
}

#[test]
fn a_missing_privilege_is_reported_with_its_sqlstate_and_writes_nothing() {
    let Some(server) =
        TestServer::find("a_missing_privilege_is_reported_with_its_sqlstate_and_writes_nothing")
    else {
        return;
    };
    let run = server.run("privilege");
    let owner = run.backend(PgOptions::new()).unwrap();
    owner.queue_write(TABLE, &write("first")).unwrap();
    let role = Role::create(&server, "noperm");

    // No right on the schema at all: connecting fails (42501).
    let error = PgBackend::connect(&role.url(), owner.namespace()).unwrap_err();
    let (operation, _, code, _) = server_error(&error);
    assert_eq!(code, Some("42501"), "{error}");
    assert!(
        ["check_schema", "create_schema"].contains(&operation),
        "{operation}"
    );

    // Rights to read and to lock, not to queue: queue_write fails naming
    // itself, and nothing is written.
    let mut admin = server.client().unwrap();
    admin
        .batch_execute(&format!(
            "GRANT USAGE ON SCHEMA reedbase TO {0}; \
             GRANT SELECT ON ALL TABLES IN SCHEMA reedbase TO {0}; \
             GRANT UPDATE ON reedbase.tables TO {0}",
            role.name
        ))
        .unwrap();
    let reader = PgBackend::connect(&role.url(), owner.namespace()).unwrap();
    assert_eq!(reader.count_pending(TABLE).unwrap(), 1);
    drop(reader.acquire_lock(TABLE, PATIENCE).unwrap());
    let error = reader.queue_write(TABLE, &write("second")).unwrap_err();
    let (operation, _, code, reason) = server_error(&error);
    assert_eq!(
        (operation, code),
        ("queue_write", Some("42501")),
        "{reason}"
    );
    let error = reader
        .remove_from_queue(TABLE, &owner.get_next_pending(TABLE).unwrap().unwrap().0)
        .unwrap_err();
    assert_eq!(server_error(&error).0, "remove_from_queue");
    assert_eq!(
        owner.count_pending(TABLE).unwrap(),
        1,
        "nothing written or removed"
    );
}

#[test]
fn a_waiting_acquire_whose_session_ends_fails_and_the_pool_recovers() {
    let Some(server) =
        TestServer::find("a_waiting_acquire_whose_session_ends_fails_and_the_pool_recovers")
    else {
        return;
    };
    let run = server.run("ended_acquire");
    let holder = run.backend(PgOptions::new()).unwrap();
    let waiter = PgBackend::connect(server.tcp_url(), holder.namespace()).unwrap();
    let guard = holder.acquire_lock(TABLE, PATIENCE).unwrap();
    let mut admin = server.client().unwrap();
    let keys = lock_keys(&mut admin, holder.namespace(), TABLE);
    let error = thread::scope(|scope| {
        let waiting = scope.spawn(|| waiter.acquire_lock(TABLE, PATIENCE).map(drop));
        let pids = await_waiters(&mut admin, keys.table_class, keys.table_no, 1, PATIENCE);
        terminate(&mut admin, pids[0]);
        waiting.join().unwrap().unwrap_err()
    });
    let (operation, server_name, code, reason) = server_error(&error);
    assert_eq!(
        (operation, server_name),
        (
            "acquire_lock",
            TestServer::name_of(server.tcp_url()).as_str()
        )
    );
    assert_session_ended(code, reason);
    assert!(guard.is_held().unwrap(), "the holder is not affected");
    drop(guard);
    assert!(
        waiter.acquire_lock(TABLE, PATIENCE).is_ok(),
        "the waiter's pool recovered"
    );
}

#[test]
fn a_waiting_queue_write_whose_session_ends_writes_nothing() {
    let Some(server) = TestServer::find("a_waiting_queue_write_whose_session_ends_writes_nothing")
    else {
        return;
    };
    let run = server.run("ended_queue_write");
    let backend = run.backend(PgOptions::new()).unwrap();
    backend.queue_write(TABLE, &write("first")).unwrap();
    let mut admin = server.client().unwrap();
    let keys = lock_keys(&mut admin, backend.namespace(), TABLE);
    let mut producer = server.client().unwrap();
    producer
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            keys.queue_lock()
        ))
        .unwrap();
    let error = thread::scope(|scope| {
        let waiting = scope.spawn(|| backend.queue_write(TABLE, &write("second")));
        let pids = await_waiters(&mut admin, keys.queue_class, keys.table_no, 1, PATIENCE);
        terminate(&mut admin, pids[0]);
        waiting.join().unwrap().unwrap_err()
    });
    let (operation, _, code, reason) = server_error(&error);
    assert_eq!(operation, "queue_write");
    assert_session_ended(code, reason);
    producer.batch_execute("COMMIT").unwrap();
    assert_eq!(
        backend.count_pending(TABLE).unwrap(),
        1,
        "nothing was written"
    );
    backend.queue_write(TABLE, &write("third")).unwrap();
    assert_eq!(backend.count_pending(TABLE).unwrap(), 2);
}

#[test]
fn producers_held_up_past_the_bound_get_queue_busy_and_write_nothing() {
    let Some(server) =
        TestServer::find("producers_held_up_past_the_bound_get_queue_busy_and_write_nothing")
    else {
        return;
    };
    let run = server.run("queue_busy");
    let bound = Duration::from_millis(300);
    let backend = run.backend(PgOptions::new().queue_timeout(bound)).unwrap();
    backend.queue_write(TABLE, &write("first")).unwrap();
    let mut admin = server.client().unwrap();
    let keys = lock_keys(&mut admin, backend.namespace(), TABLE);
    admin
        .batch_execute(&format!(
            "BEGIN; SELECT pg_advisory_xact_lock({})",
            keys.queue_lock()
        ))
        .unwrap();
    let error = backend.queue_write(TABLE, &write("second")).unwrap_err();
    let ReedError::QueueBusy { table, waited } = &error else {
        panic!("expected QueueBusy, got {error:?}");
    };
    assert_eq!(table, TABLE);
    assert!(*waited >= bound && *waited < PATIENCE, "waited {waited:?}");
    admin.batch_execute("COMMIT").unwrap();
    assert_eq!(
        backend.count_pending(TABLE).unwrap(),
        1,
        "nothing was written"
    );
}

#[test]
fn a_connection_the_server_ended_while_idle_is_replaced() {
    let Some(server) = TestServer::find("a_connection_the_server_ended_while_idle_is_replaced")
    else {
        return;
    };
    let run = server.run("idle_ended");
    // One connection, so that the guard's session is the idle one.
    let backend = run.backend(PgOptions::new().pool_size(1)).unwrap();
    backend.queue_write(TABLE, &write("first")).unwrap();
    let guard = backend.acquire_lock("other", PATIENCE).unwrap();
    let session = guard.server_pid();
    drop(guard);
    let mut admin = server.client().unwrap();
    terminate(&mut admin, session);
    assert_eq!(backend.count_pending(TABLE).unwrap(), 1);
    assert!(!backend.is_locked("other").unwrap());
}

/// A schema of its own and two backends of one session each on it, the
/// table registered by a first acquisition (so that the registry row the
/// tests tamper with exists).
fn registered_pair<'a>(
    server: &'a TestServer,
    name: &str,
) -> (FreshSchema<'a>, PgBackend, PgBackend) {
    let schema = FreshSchema::new(server, name);
    let options = PgOptions::new().schema(schema.name.clone()).pool_size(1);
    let backend = PgBackend::connect_with(server.url(), name, options.clone()).unwrap();
    let other = PgBackend::connect_with(server.url(), name, options).unwrap();
    drop(backend.acquire_lock(TABLE, PATIENCE).unwrap());
    (schema, backend, other)
}

/// A lock granted to an acquisition whose next statement fails (here the
/// fencing token's update, refused by a trigger) is let go before the
/// session goes back to the pool: the table is free at once for others,
/// through the waiting call and through the coordinator's bounded one.
#[test]
fn a_lock_granted_to_an_acquisition_that_then_fails_is_let_go() {
    let Some(server) =
        TestServer::find("a_lock_granted_to_an_acquisition_that_then_fails_is_let_go")
    else {
        return;
    };
    let (schema, backend, other) = registered_pair(&server, "refused");
    let mut admin = server.client().unwrap();
    admin
        .batch_execute(&format!(
            "CREATE FUNCTION {s}.refuse() RETURNS trigger LANGUAGE plpgsql AS \
             $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$; \
             CREATE TRIGGER refuse BEFORE UPDATE ON {s}.tables \
             FOR EACH ROW EXECUTE FUNCTION {s}.refuse()",
            s = schema.name
        ))
        .unwrap();

    let error = backend.acquire_lock(TABLE, PATIENCE).unwrap_err();
    let (operation, _, code, reason) = server_error(&error);
    assert_eq!(
        (operation, code),
        ("acquire_lock", Some("P0001")),
        "{reason}"
    );
    assert!(!other.is_locked(TABLE).unwrap(), "the lock was let go");
    let error = backend
        .try_acquire_lock_for(TABLE, Duration::from_millis(50))
        .unwrap_err();
    assert_eq!(server_error(&error).2, Some("P0001"));
    assert!(!other.is_locked(TABLE).unwrap(), "the lock was let go");

    admin
        .batch_execute(&format!("DROP TRIGGER refuse ON {}.tables", schema.name))
        .unwrap();
    let guard = other
        .try_acquire_lock(TABLE)
        .unwrap()
        .expect("nobody holds the table");
    assert!(guard.is_held().unwrap());
    drop(guard);
    assert!(
        backend.try_acquire_lock(TABLE).unwrap().is_some(),
        "the failed session came back to the pool clean"
    );
}

/// An acquisition's wait ends with `lock_not_available` and then needs no
/// unlock; a lock granted before a later statement of the same acquisition
/// runs out of time must still be let go. Here the token's update waits
/// for a row another session keeps locked, past the acquisition's bound.
#[test]
fn an_acquisition_that_runs_out_of_time_after_the_grant_lets_the_lock_go() {
    let Some(server) =
        TestServer::find("an_acquisition_that_runs_out_of_time_after_the_grant_lets_the_lock_go")
    else {
        return;
    };
    let (schema, backend, other) = registered_pair(&server, "late");
    let mut admin = server.client().unwrap();
    let mut row_lock = admin.transaction().unwrap();
    row_lock
        .batch_execute(&format!(
            "SELECT 1 FROM {}.tables WHERE table_name = '{TABLE}' FOR UPDATE",
            schema.name
        ))
        .unwrap();

    let bound = Duration::from_millis(300);
    let started = std::time::Instant::now();
    let outcome = backend.try_acquire_lock_for(TABLE, bound);
    let waited = started.elapsed();
    assert!(
        !matches!(outcome, Ok(Some(_))),
        "the token's row was locked: {outcome:?}"
    );
    assert!(waited < PATIENCE, "bounded: {waited:?}");
    row_lock.rollback().unwrap();

    let guard = other
        .try_acquire_lock(TABLE)
        .unwrap()
        .expect("the session that was granted the lock let it go");
    drop(guard);
    assert!(
        backend.try_acquire_lock(TABLE).unwrap().is_some(),
        "the failed session came back to the pool clean"
    );
}
