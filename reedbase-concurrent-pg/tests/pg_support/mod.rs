// SPDX-License-Identifier: Apache-2.0
//! What the pg test binaries do beside the backend, through a plain client
//! of the server: name a table's advisory lock keys (to hold a lock or the
//! producers' lock from another session), find the sessions waiting for a
//! key, end a session as an administrator would, read rows, and give a
//! test a schema of its own.
// Each test binary uses only part of this module.
#![allow(dead_code)]

use std::thread;
use std::time::{Duration, Instant};

use postgres::Client;
use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{DEFAULT_SCHEMA, PgBackend, PgOptions};

/// The keys of a table's locks, as `pg_advisory_lock` takes them.
pub struct LockKeys {
    /// The first key of the table's write lock (the schema's oid).
    pub table_class: i32,
    /// The first key of the table's producers' lock (the queue table's oid).
    pub queue_class: i32,
    /// The table's number in the registry.
    pub table_no: i32,
}

impl LockKeys {
    /// `class, table_no` of the write lock.
    pub fn table_lock(&self) -> String {
        format!("{}, {}", self.table_class, self.table_no)
    }

    /// `class, table_no` of the producers' lock.
    pub fn queue_lock(&self) -> String {
        format!("{}, {}", self.queue_class, self.table_no)
    }
}

/// The lock keys of a registered table in the default schema.
pub fn lock_keys(client: &mut Client, namespace: &str, table: &str) -> LockKeys {
    let row = client
        .query_one(
            "SELECT n.oid, c.oid, t.table_no FROM pg_namespace n \
             JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = 'queue' \
             JOIN reedbase.tables t ON t.namespace = $2 AND t.table_name = $3 \
             WHERE n.nspname = $1",
            &[&DEFAULT_SCHEMA, &namespace, &table],
        )
        .unwrap();
    let (schema, queue): (u32, u32) = (row.get(0), row.get(1));
    LockKeys {
        table_class: schema as i32,
        queue_class: queue as i32,
        table_no: row.get(2),
    }
}

/// The sessions waiting (not granted) for the advisory lock `class, objid`.
pub fn waiting_sessions(client: &mut Client, class: i32, table_no: i32) -> Vec<i32> {
    client
        .query(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND NOT granted \
             AND classid = $1::int4::oid AND objid = $2::int4::oid AND objsubid = 2 \
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
             ORDER BY pid",
            &[&class, &table_no],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

/// Waits (at most `patience`) until `count` sessions wait for the lock;
/// returns their pids.
pub fn await_waiters(
    client: &mut Client,
    class: i32,
    table_no: i32,
    count: usize,
    patience: Duration,
) -> Vec<i32> {
    let deadline = Instant::now() + patience;
    loop {
        let waiting = waiting_sessions(client, class, table_no);
        if waiting.len() >= count {
            return waiting;
        }
        assert!(
            Instant::now() < deadline,
            "{count} sessions never waited for lock ({class}, {table_no}); waiting: {waiting:?}"
        );
        thread::sleep(Duration::from_millis(2));
    }
}

/// Ends a session as an administrator does, and waits (at most 10 s) until
/// it is gone.
pub fn terminate(client: &mut Client, pid: i32) {
    let ended: bool = client
        .query_one("SELECT pg_terminate_backend($1, 10000)", &[&pid])
        .unwrap()
        .get(0);
    assert!(ended, "session {pid} was not there to end");
}

/// Inserts a queue row by hand, as an operator copying an entry in would:
/// the next sequence number, the given id and body bytes.
pub fn insert_raw_entry(client: &mut Client, keys: &LockKeys, id: &str, body: &[u8]) {
    client
        .execute(
            "INSERT INTO reedbase.queue (table_no, seq, id, body) \
             VALUES ($1, nextval('reedbase.queue_seq'), $2, $3)",
            &[&keys.table_no, &id, &body],
        )
        .unwrap();
}

/// The table the multi-process tests use.
pub const TABLE: &str = "orders";

/// A one-row write tagged with its source and its place in that source's
/// sequence: key `w{source}-{seq}`, values `source`, `seq`.
pub fn sequenced_write(source: usize, seq: usize) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(
            format!("w{source}-{seq:04}"),
            [source.to_string(), seq.to_string()],
        )],
    )
}

/// In a child process standing for another host: a backend connected over
/// TCP to the namespace the parent named.
pub fn child_backend(namespace: &str, capacity: usize) -> PgBackend {
    let server = TestServer::find("child process").expect("the parent found a server");
    let options = PgOptions::new().capacity(capacity);
    PgBackend::connect_with(server.tcp_url(), namespace, options).unwrap()
}

/// Runs `call` on a thread of its own and returns its result and how long
/// it took; fails if it has not returned within `patience` (a call without
/// a bound would hang as long as the fault lasts, which is longer).
pub fn bounded<T: Send + 'static>(
    what: &str,
    patience: Duration,
    call: impl FnOnce() -> T + Send + 'static,
) -> (T, Duration) {
    let (sender, receiver) = std::sync::mpsc::channel();
    let start = std::time::Instant::now();
    std::thread::spawn(move || {
        let _ = sender.send(call());
    });
    match receiver.recv_timeout(patience) {
        Ok(result) => {
            let took = start.elapsed();
            eprintln!("MEASURED {what}: returned after {} ms", took.as_millis());
            (result, took)
        }
        Err(_) => panic!("{what} did not return within {patience:?}"),
    }
}

/// A schema of its own for a test, dropped with everything in it.
pub struct FreshSchema<'a> {
    server: &'a TestServer,
    pub name: String,
}

impl<'a> FreshSchema<'a> {
    pub fn new(server: &'a TestServer, label: &str) -> FreshSchema<'a> {
        let name = server.fresh_namespace(&format!("reedbase_{label}"));
        FreshSchema { server, name }
    }

    pub fn versions(&self) -> Vec<i32> {
        let mut admin = self.server.client().unwrap();
        admin
            .query(
                &format!(
                    "SELECT version FROM {}.schema_version ORDER BY version",
                    self.name
                ),
                &[],
            )
            .unwrap()
            .iter()
            .map(|row| row.get(0))
            .collect()
    }
}

impl Drop for FreshSchema<'_> {
    fn drop(&mut self) {
        if let Ok(mut admin) = self.server.client() {
            let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.name));
        }
    }
}
