// SPDX-License-Identifier: Apache-2.0
//! The implementations measured in one process, behind one interface
//! ([`Subject`]): the old module's free functions and the fs crate's
//! (`free_subjects`), any backend of core's traits (fs in each mode, mem, pg
//! durable and relaxed), and SQLite.
//!
//! Only the operation is timed: a write is built (and, for the old module,
//! cloned) before the clock starts.

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{Backend, PendingWrite};
use reedbase_concurrent_fs::{Codec, Durability, FsBackend, FsOptions};
use reedbase_concurrent_mem::MemBackend;
use reedbase_concurrent_pg::{Durability as PgDurability, PgOptions};

use super::free_subjects::{Free, Last};
use super::sqlite::SqliteTable;
use super::subject::TIMEOUT;
pub use super::subject::{CAPACITY, Payload, Subject};
use crate::pg_site::PgSite;

/// Whether subject `label` is a pg one, which needs a server.
pub fn is_pg(label: &str) -> bool {
    label.starts_with("pg")
}

/// The base directory of the subject `label` under `dir`.
pub fn base_of(dir: &Path, label: &str) -> std::path::PathBuf {
    dir.join(label.replace(' ', "-"))
}

/// The subject called `label`, with its files under `dir`: `last`, `fs`
/// (default options), `fs free` (the free functions, relaxed), `fs relaxed json` and the other three fs modes,
/// `mem`, `sqlite relaxed`, `sqlite durable`; and, on the server of `pg`
/// in a namespace of its own beside `pg`'s, `pg durable` and `pg relaxed`.
pub fn subject(dir: &Path, pg: &PgSite, label: &str) -> Result<Box<dyn Subject>, String> {
    let base = base_of(dir, label);
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
