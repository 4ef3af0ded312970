// SPDX-License-Identifier: Apache-2.0
//! The implementations measured in one process, behind one interface: the
//! old module's free functions, any backend of core's traits (fs in each
//! mode, mem, pg durable and relaxed), and SQLite.
//!
//! Only the operation is timed: a write is built (and, for the old module,
//! cloned) before the clock starts.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{Backend, CsvRow, PendingWrite, WriteOperation, now_nanos};
use reedbase_concurrent_fs::{Codec, Durability, FsBackend, FsOptions};
use reedbase_concurrent_mem::MemBackend;
use reedbase_concurrent_pg::{Durability as PgDurability, PgOptions};
use reedbase_last::concurrent as last;

use super::sqlite::SqliteTable;
use crate::pg_site::PgSite;

/// Capacity of the queues in the benches, far above what any measurement
/// fills (the deep rows go to 100,000).
pub const CAPACITY: usize = 200_000;

/// The lock timeout of the uncontended operations; never reached.
const TIMEOUT: Duration = Duration::from_secs(1);

/// The same write in the new and in the old type.
#[derive(Debug, Clone)]
pub struct Payload {
    /// For the new backends and SQLite.
    pub core: PendingWrite,
    /// For the old module.
    pub last: last::PendingWrite,
}

impl Payload {
    /// A write of `rows` rows of about 125 bytes of JSON each (a 1-row
    /// write is 185 B, a 100-row write 12.4 KB: close to the old module's
    /// measured 182 B and 13.8 KB).
    pub fn rows(rows: usize) -> Payload {
        let fields = |index: usize| {
            (
                format!("user:{index:06}"),
                vec![
                    format!("Alice Example {index}"),
                    format!("alice.example.{index}@example.com"),
                    "London".to_string(),
                    "2024-05-01T12:00:00Z".to_string(),
                    "active".to_string(),
                ],
            )
        };
        let core = PendingWrite::new(
            WriteOperation::Insert,
            (0..rows)
                .map(|i| {
                    let (key, values) = fields(i);
                    CsvRow::new(key, values)
                })
                .collect(),
        );
        let last = last::PendingWrite {
            rows: (0..rows)
                .map(|i| {
                    let (key, values) = fields(i);
                    last::CsvRow::new(key, values)
                })
                .collect(),
            timestamp: u64::try_from(now_nanos()).unwrap_or(u64::MAX),
            operation: last::WriteOperation::Insert,
        };
        Payload { core, last }
    }

    /// Its size as JSON, for the tables' notes.
    pub fn json_size(&self) -> usize {
        serde_json::to_vec(&self.core).map_or(0, |bytes| bytes.len())
    }
}

/// One implementation under test. Methods it does not have return `None`.
pub trait Subject {
    /// Takes a free table's lock and releases it.
    fn acquire_release(&self, table: &str) -> Result<(), String>;
    /// One non-blocking attempt on a free lock, and release.
    fn try_acquire_release(&self, table: &str) -> Option<Result<(), String>>;
    /// Whether the table is locked.
    fn is_locked(&self, table: &str) -> Option<Result<bool, String>>;
    /// Whether a holder is recorded (the diagnostics call).
    fn has_holder(&self, table: &str) -> Option<Result<bool, String>>;
    /// Queues `payload`, timing only the call; the time and the id.
    fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String>;
    /// The id of the oldest entry (`get_next_pending`).
    fn next_id(&self, table: &str) -> Result<Option<String>, String>;
    /// Removes entry `id`.
    fn remove(&self, table: &str, id: &str) -> Result<(), String>;
    /// The number of entries.
    fn count(&self, table: &str) -> Result<usize, String>;

    /// Waits for a free lock (`wait_for_unlock`), which returns at once.
    fn wait_free(&self, _table: &str) -> Option<Result<(), String>> {
        None
    }

    /// Queues `count` copies of `payload`, untimed.
    fn fill(&self, table: &str, payload: &Payload, count: usize) -> Result<(), String> {
        (0..count).try_for_each(|_| self.queue_write_timed(table, payload).map(drop))
    }

    /// One pop: the oldest id, then its removal; `false` when empty.
    fn pop(&self, table: &str) -> Result<bool, String> {
        match self.next_id(table)? {
            Some(id) => self.remove(table, &id).map(|()| true),
            None => Ok(false),
        }
    }
}

/// Whether subject `label` is a pg one, which needs a server.
pub fn is_pg(label: &str) -> bool {
    label.starts_with("pg")
}

/// The subject called `label`, with its files under `dir`: `last`, `fs`
/// (default options), `fs free` (the free functions, relaxed), `fs relaxed json` and the other three fs modes,
/// `mem`, `sqlite relaxed`, `sqlite durable`; and, on the server of `pg`
/// in a namespace of its own beside `pg`'s, `pg durable` and `pg relaxed`.
pub fn subject(dir: &Path, pg: &PgSite, label: &str) -> Result<Box<dyn Subject>, String> {
    let base = dir.join(label.replace(' ', "-"));
    let pg_backend = |durability| {
        let options = PgOptions::new().durability(durability).capacity(CAPACITY);
        let backend = pg.beside(label).connect(options)?;
        Ok::<_, String>(Box::new(Core(backend)) as Box<dyn Subject>)
    };
    let fs = |durability, codec| {
        let options = FsOptions::new()
            .durability(durability)
            .codec(codec)
            .capacity(CAPACITY);
        Box::new(Core(FsBackend::with_options(&base, options))) as Box<dyn Subject>
    };
    Ok(match label {
        "last" => Box::new(Last(base)),
        "fs free" => Box::new(Free(
            base,
            FsOptions::new()
                .durability(Durability::Relaxed)
                .capacity(CAPACITY),
        )),
        "fs" => fs(Durability::Durable, Codec::Json),
        "fs relaxed json" => fs(Durability::Relaxed, Codec::Json),
        "fs relaxed postcard" => fs(Durability::Relaxed, Codec::Postcard),
        "fs durable json" => fs(Durability::Durable, Codec::Json),
        "fs durable postcard" => fs(Durability::Durable, Codec::Postcard),
        "mem" => Box::new(Core(MemBackend::with_capacity(CAPACITY))),
        "pg durable" => pg_backend(PgDurability::Durable)?,
        "pg relaxed" => pg_backend(PgDurability::Relaxed)?,
        "sqlite relaxed" => Box::new(Sqlite::new(base, false)),
        "sqlite durable" => Box::new(Sqlite::new(base, true)),
        other => return Err(format!("no bench subject called {other:?}")),
    })
}

/// The old module's free functions on a base directory.
struct Last(PathBuf);

impl Subject for Last {
    fn acquire_release(&self, table: &str) -> Result<(), String> {
        last::acquire_lock(&self.0, table, TIMEOUT)
            .map(drop)
            .map_err(|e| format!("last acquire_lock: {e}"))
    }

    fn try_acquire_release(&self, table: &str) -> Option<Result<(), String>> {
        // The old module has no try_acquire_lock; its nearest is one
        // attempt with a zero timeout.
        Some(
            last::acquire_lock(&self.0, table, Duration::ZERO)
                .map(drop)
                .map_err(|e| format!("last acquire_lock: {e}")),
        )
    }

    fn is_locked(&self, table: &str) -> Option<Result<bool, String>> {
        Some(last::is_locked(&self.0, table).map_err(|e| format!("last is_locked: {e}")))
    }

    fn has_holder(&self, _table: &str) -> Option<Result<bool, String>> {
        None
    }

    fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String> {
        let write = payload.last.clone();
        let start = Instant::now();
        let id = last::queue_write(&self.0, table, write);
        let took = start.elapsed();
        Ok((took, id.map_err(|e| format!("last queue_write: {e}"))?))
    }

    fn next_id(&self, table: &str) -> Result<Option<String>, String> {
        last::get_next_pending(&self.0, table)
            .map(|next| next.map(|(id, _)| id))
            .map_err(|e| format!("last get_next_pending: {e}"))
    }

    fn remove(&self, table: &str, id: &str) -> Result<(), String> {
        last::remove_from_queue(&self.0, table, id)
            .map_err(|e| format!("last remove_from_queue: {e}"))
    }

    fn count(&self, table: &str) -> Result<usize, String> {
        last::count_pending(&self.0, table).map_err(|e| format!("last count_pending: {e}"))
    }

    fn wait_free(&self, table: &str) -> Option<Result<(), String>> {
        Some(
            last::wait_for_unlock(&self.0, table, TIMEOUT)
                .map_err(|e| format!("last wait_for_unlock: {e}")),
        )
    }
}

/// The fs crate's free functions with the old module's signatures (queue
/// writes through `queue_write_with` and relaxed options, to compare with
/// the old module, which never fsyncs).
struct Free(PathBuf, FsOptions);

impl Subject for Free {
    fn acquire_release(&self, table: &str) -> Result<(), String> {
        reedbase_concurrent_fs::acquire_lock(&self.0, table, TIMEOUT)
            .map(drop)
            .map_err(|e| format!("fs acquire_lock: {e}"))
    }

    fn try_acquire_release(&self, table: &str) -> Option<Result<(), String>> {
        Some(
            match reedbase_concurrent_fs::try_acquire_lock(&self.0, table) {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err("fs try_acquire_lock: a free lock was busy".to_string()),
                Err(e) => Err(format!("fs try_acquire_lock: {e}")),
            },
        )
    }

    fn is_locked(&self, table: &str) -> Option<Result<bool, String>> {
        Some(
            reedbase_concurrent_fs::is_locked(&self.0, table)
                .map_err(|e| format!("fs is_locked: {e}")),
        )
    }

    fn has_holder(&self, table: &str) -> Option<Result<bool, String>> {
        Some(
            reedbase_concurrent_fs::lock_holder(&self.0, table)
                .map(|holder| holder.is_some())
                .map_err(|e| format!("fs lock_holder: {e}")),
        )
    }

    fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String> {
        let start = Instant::now();
        let id = reedbase_concurrent_fs::queue_write_with(&self.0, table, &payload.core, &self.1);
        let took = start.elapsed();
        Ok((took, id.map_err(|e| format!("fs queue_write_with: {e}"))?))
    }

    fn next_id(&self, table: &str) -> Result<Option<String>, String> {
        reedbase_concurrent_fs::get_next_pending(&self.0, table)
            .map(|next| next.map(|(id, _)| id))
            .map_err(|e| format!("fs get_next_pending: {e}"))
    }

    fn remove(&self, table: &str, id: &str) -> Result<(), String> {
        reedbase_concurrent_fs::remove_from_queue(&self.0, table, id)
            .map_err(|e| format!("fs remove_from_queue: {e}"))
    }

    fn count(&self, table: &str) -> Result<usize, String> {
        reedbase_concurrent_fs::count_pending(&self.0, table)
            .map_err(|e| format!("fs count_pending: {e}"))
    }

    fn wait_free(&self, table: &str) -> Option<Result<(), String>> {
        Some(
            reedbase_concurrent_fs::wait_for_unlock(&self.0, table, TIMEOUT)
                .map_err(|e| format!("fs wait_for_unlock: {e}")),
        )
    }
}

/// Any backend of core's traits.
struct Core<B>(B);

impl<B: Backend> Subject for Core<B> {
    fn acquire_release(&self, table: &str) -> Result<(), String> {
        self.0
            .acquire_lock(table, TIMEOUT)
            .map(drop)
            .map_err(|e| format!("acquire_lock: {e}"))
    }

    fn try_acquire_release(&self, table: &str) -> Option<Result<(), String>> {
        Some(match self.0.try_acquire_lock(table) {
            Ok(Some(_)) => Ok(()),
            Ok(None) => Err("try_acquire_lock: a free lock was busy".to_string()),
            Err(e) => Err(format!("try_acquire_lock: {e}")),
        })
    }

    fn is_locked(&self, table: &str) -> Option<Result<bool, String>> {
        Some(
            self.0
                .is_locked(table)
                .map_err(|e| format!("is_locked: {e}")),
        )
    }

    fn has_holder(&self, table: &str) -> Option<Result<bool, String>> {
        Some(
            self.0
                .lock_holder(table)
                .map(|holder| holder.is_some())
                .map_err(|e| format!("lock_holder: {e}")),
        )
    }

    fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String> {
        let start = Instant::now();
        let id = self.0.queue_write(table, &payload.core);
        let took = start.elapsed();
        Ok((took, id.map_err(|e| format!("queue_write: {e}"))?))
    }

    fn next_id(&self, table: &str) -> Result<Option<String>, String> {
        self.0
            .get_next_pending(table)
            .map(|next| next.map(|(id, _)| id))
            .map_err(|e| format!("get_next_pending: {e}"))
    }

    fn remove(&self, table: &str, id: &str) -> Result<(), String> {
        self.0
            .remove_from_queue(table, id)
            .map_err(|e| format!("remove_from_queue: {e}"))
    }

    fn count(&self, table: &str) -> Result<usize, String> {
        self.0
            .count_pending(table)
            .map_err(|e| format!("count_pending: {e}"))
    }

    fn wait_free(&self, table: &str) -> Option<Result<(), String>> {
        Some(
            self.0
                .wait_for_unlock(table, TIMEOUT)
                .map_err(|e| format!("wait_for_unlock: {e}")),
        )
    }
}

/// SQLite: one database per table, opened on first use.
struct Sqlite {
    dir: PathBuf,
    durable: bool,
    tables: RefCell<HashMap<String, SqliteTable>>,
}

impl Sqlite {
    fn new(dir: PathBuf, durable: bool) -> Sqlite {
        Sqlite {
            dir,
            durable,
            tables: RefCell::new(HashMap::new()),
        }
    }

    fn with<T>(
        &self,
        table: &str,
        f: impl FnOnce(&SqliteTable) -> Result<T, String>,
    ) -> Result<T, String> {
        let mut tables = self.tables.borrow_mut();
        if !tables.contains_key(table) {
            let opened = SqliteTable::open(&self.dir, table, self.durable, CAPACITY)?;
            tables.insert(table.to_string(), opened);
        }
        let database = tables.get(table).ok_or("the table was just opened")?;
        f(database)
    }
}

fn parse_id(id: &str) -> Result<i64, String> {
    id.parse()
        .map_err(|_| format!("{id:?} is not a SQLite queue id"))
}

impl Subject for Sqlite {
    fn acquire_release(&self, table: &str) -> Result<(), String> {
        self.with(table, |db| {
            if db.lock(TIMEOUT)? {
                db.unlock()
            } else {
                Err("sqlite: a free lock was busy".to_string())
            }
        })
    }

    fn try_acquire_release(&self, _table: &str) -> Option<Result<(), String>> {
        None
    }

    fn is_locked(&self, _table: &str) -> Option<Result<bool, String>> {
        None
    }

    fn has_holder(&self, _table: &str) -> Option<Result<bool, String>> {
        None
    }

    fn queue_write_timed(
        &self,
        table: &str,
        payload: &Payload,
    ) -> Result<(Duration, String), String> {
        self.with(table, |db| {
            let start = Instant::now();
            let body = serde_json::to_vec(&payload.core).map_err(|e| e.to_string())?;
            let id = db.queue_write(&body, TIMEOUT)?;
            let took = start.elapsed();
            let id = id.ok_or("sqlite queue_write: full or busy")?;
            Ok((took, id.to_string()))
        })
    }

    fn next_id(&self, table: &str) -> Result<Option<String>, String> {
        self.with(table, |db| {
            let Some((id, body)) = db.next()? else {
                return Ok(None);
            };
            // Read the entry as the other backends do.
            serde_json::from_slice::<PendingWrite>(&body)
                .map_err(|e| format!("sqlite entry {id}: {e}"))?;
            Ok(Some(id.to_string()))
        })
    }

    fn remove(&self, table: &str, id: &str) -> Result<(), String> {
        let id = parse_id(id)?;
        self.with(table, |db| match db.remove(id)? {
            true => Ok(()),
            false => Err(format!("sqlite: no entry {id}")),
        })
    }

    fn count(&self, table: &str) -> Result<usize, String> {
        self.with(table, SqliteTable::count)
    }
}
