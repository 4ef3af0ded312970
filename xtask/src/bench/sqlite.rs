// SPDX-License-Identifier: Apache-2.0
//! SQLite as the peer a user would pick instead: per table one database
//! file in WAL mode; the lock is a `BEGIN IMMEDIATE` transaction with a
//! busy timeout; the queue is a table with an integer primary key
//! (`AUTOINCREMENT`, so an id is never reused, like the fs backend's), its
//! capacity checked in the inserting transaction against a depth that
//! triggers keep; `synchronous=FULL` is the durable mode and `NORMAL` the
//! relaxed one.

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension};

/// One table's database, opened by one process.
pub struct SqliteTable {
    connection: Connection,
    capacity: usize,
}

/// The database file of `table` under `base`.
fn database_path(base: &Path, table: &str) -> std::path::PathBuf {
    base.join(format!("{table}.sqlite"))
}

fn failed(what: &str) -> impl FnOnce(rusqlite::Error) -> String + '_ {
    move |e| format!("sqlite {what}: {e}")
}

/// Whether `error` is SQLite's "busy" (the write lock is held elsewhere).
fn is_busy(error: &rusqlite::Error) -> bool {
    error.sqlite_error_code() == Some(ErrorCode::DatabaseBusy)
}

impl SqliteTable {
    /// Opens (creating if needed) the database of `table` under `base`.
    pub fn open(
        base: &Path,
        table: &str,
        durable: bool,
        capacity: usize,
    ) -> Result<SqliteTable, String> {
        std::fs::create_dir_all(base).map_err(|e| format!("creating {}: {e}", base.display()))?;
        let connection = Connection::open(database_path(base, table)).map_err(failed("open"))?;
        connection
            .busy_timeout(Duration::from_secs(10))
            .map_err(failed("busy_timeout"))?;
        // Switching to WAL needs the database to itself; once it is WAL (the
        // parent opens it first), nothing is switched.
        let journal: String = connection
            .query_row("PRAGMA journal_mode", [], |row| row.get(0))
            .map_err(failed("journal_mode"))?;
        if !journal.eq_ignore_ascii_case("wal") {
            connection
                .pragma_update(None, "journal_mode", "WAL")
                .map_err(failed("journal_mode=WAL"))?;
        }
        let synchronous = if durable { "FULL" } else { "NORMAL" };
        connection
            .pragma_update(None, "synchronous", synchronous)
            .map_err(failed("synchronous"))?;
        // The depth is kept in a one-row table by triggers, in the same
        // transaction as the change, so that checking the capacity costs
        // the same at any depth (COUNT(*) reads the whole queue). Made
        // once: a writer must not need the write lock merely to open.
        let made: i64 = connection
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE name = 'dequeued'",
                [],
                |row| row.get(0),
            )
            .map_err(failed("read the schema"))?;
        if made == 0 {
            connection
                .execute_batch(
                    "BEGIN IMMEDIATE;
                 CREATE TABLE IF NOT EXISTS queue
                     (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL);
                 CREATE TABLE IF NOT EXISTS depth (n INTEGER NOT NULL);
                 INSERT INTO depth SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM depth);
                 CREATE TRIGGER IF NOT EXISTS queued AFTER INSERT ON queue
                     BEGIN UPDATE depth SET n = n + 1; END;
                 CREATE TRIGGER IF NOT EXISTS dequeued AFTER DELETE ON queue
                     BEGIN UPDATE depth SET n = n - 1; END;
                 COMMIT;",
                )
                .map_err(failed("create the queue table"))?;
        }
        Ok(SqliteTable {
            connection,
            capacity,
        })
    }

    /// Takes the write lock (`BEGIN IMMEDIATE`), waiting at most `timeout`
    /// in SQLite's busy handler; `false` when it timed out.
    pub fn lock(&self, timeout: Duration) -> Result<bool, String> {
        self.connection
            .busy_timeout(timeout)
            .map_err(failed("busy_timeout"))?;
        match self.connection.execute_batch("BEGIN IMMEDIATE") {
            Ok(()) => Ok(true),
            Err(error) if is_busy(&error) => Ok(false),
            Err(error) => Err(format!("sqlite BEGIN IMMEDIATE: {error}")),
        }
    }

    /// Commits the transaction [`lock`](Self::lock) began, which releases
    /// the lock.
    pub fn unlock(&self) -> Result<(), String> {
        self.connection
            .execute_batch("COMMIT")
            .map_err(failed("COMMIT"))
    }

    /// Queues `body` in a transaction of its own, waiting at most `timeout`
    /// for the write lock: `Ok(Some(id))`, or `Ok(None)` when the queue is
    /// full or the lock stayed busy.
    pub fn queue_write(&self, body: &[u8], timeout: Duration) -> Result<Option<i64>, String> {
        if !self.lock(timeout)? {
            return Ok(None);
        }
        let inserted = self.insert_under_lock(body);
        let finish = if matches!(inserted, Ok(Some(_))) {
            "COMMIT"
        } else {
            "ROLLBACK"
        };
        self.connection
            .execute_batch(finish)
            .map_err(failed(finish))?;
        inserted
    }

    fn insert_under_lock(&self, body: &[u8]) -> Result<Option<i64>, String> {
        if self.count()? >= self.capacity {
            return Ok(None);
        }
        self.connection
            .prepare_cached("INSERT INTO queue (body) VALUES (?1)")
            .and_then(|mut insert| insert.execute([body]))
            .map_err(failed("INSERT"))?;
        Ok(Some(self.connection.last_insert_rowid()))
    }

    /// The oldest queued entry, if any.
    pub fn next(&self) -> Result<Option<(i64, Vec<u8>)>, String> {
        self.connection
            .prepare_cached("SELECT id, body FROM queue ORDER BY id LIMIT 1")
            .and_then(|mut select| {
                select
                    .query_row([], |row| Ok((row.get(0)?, row.get(1)?)))
                    .optional()
            })
            .map_err(failed("SELECT the oldest entry"))
    }

    /// Up to `max` of the oldest entries, oldest first.
    pub fn next_batch(&self, max: usize) -> Result<Vec<(i64, Vec<u8>)>, String> {
        let limit = i64::try_from(max).unwrap_or(i64::MAX);
        self.connection
            .prepare_cached("SELECT id, body FROM queue ORDER BY id LIMIT ?1")
            .and_then(|mut select| {
                select
                    .query_map([limit], |row| Ok((row.get(0)?, row.get(1)?)))?
                    .collect()
            })
            .map_err(failed("SELECT a batch"))
    }

    /// Removes entry `id`; `false` when it was not there.
    pub fn remove(&self, id: i64) -> Result<bool, String> {
        self.connection
            .prepare_cached("DELETE FROM queue WHERE id = ?1")
            .and_then(|mut delete| delete.execute([id]))
            .map(|deleted| deleted == 1)
            .map_err(failed("DELETE"))
    }

    /// The number of queued entries.
    pub fn count(&self) -> Result<usize, String> {
        self.connection
            .prepare_cached("SELECT n FROM depth")
            .and_then(|mut count| count.query_row([], |row| row.get::<_, i64>(0)))
            .map(|n| usize::try_from(n).unwrap_or(0))
            .map_err(failed("COUNT"))
    }
}
