// SPDX-License-Identifier: Apache-2.0
//! Queue entries copied between the file queues (the old module's and fs's)
//! and the pg backend's queue table, byte for byte, as an operator moving a
//! base from one host to several would (the pg crate's README shows the
//! SQL): each side reads the other's entries whole, under their ids, in the
//! order they were copied.

use std::fs;
use std::path::{Path, PathBuf};

use reedbase_concurrent_core::{LockBackend, PendingWrite, QueueBackend};
use reedbase_concurrent_fs::FsBackend;
use reedbase_concurrent_pg::{DEFAULT_SCHEMA, PgBackend};
use reedbase_last::concurrent as last;

use super::backends::Bases;
use super::compat_samples::{TABLE, err, sample};

/// The queue directory of [`TABLE`] in a file queue under `base`.
fn queue_dir(base: &Path) -> PathBuf {
    base.join("tables").join(TABLE).join("queue")
}

/// The file of entry `id` in a file queue under `base`.
fn entry_path(base: &Path, id: &str) -> PathBuf {
    queue_dir(base).join(format!("{id}.pending"))
}

/// Appends `entries` (id, JSON bytes) to the pg backend's queue of
/// [`TABLE`], in order, as the README's `INSERT` does.
fn copy_into_pg(
    bases: &Bases,
    pg: &PgBackend,
    entries: &[(String, Vec<u8>)],
) -> Result<(), String> {
    // The table is registered by its first lock or queue write.
    pg.try_acquire_lock(TABLE)
        .map_err(err("pg try_acquire_lock"))?;
    let server = bases.pg_server().ok_or("no PostgreSQL server")?;
    let mut client = server.client().map_err(err("pg client"))?;
    let s = DEFAULT_SCHEMA;
    let sql = format!(
        "INSERT INTO {s}.queue (table_no, seq, id, body) \
         SELECT t.table_no, nextval('{s}.queue_seq'), $3, $4 FROM {s}.tables t \
         WHERE t.namespace = $1 AND t.table_name = $2"
    );
    for (id, body) in entries {
        let inserted = client
            .execute(&sql, &[&pg.namespace(), &TABLE, id, body])
            .map_err(err("insert into the pg queue"))?;
        if inserted != 1 {
            return Err(format!("inserted {inserted} rows for entry {id}"));
        }
    }
    Ok(())
}

/// Reads `expected` (id, write) from `queue` in order, removing each.
fn drain_expecting<Q: QueueBackend>(
    who: &str,
    queue: &Q,
    expected: Vec<(String, PendingWrite)>,
) -> Result<(), String> {
    let count = queue.count_pending(TABLE).map_err(err("count_pending"))?;
    if count != expected.len() {
        return Err(format!(
            "{who} count_pending: {count}, expected {}",
            expected.len()
        ));
    }
    for (position, (id, write)) in expected.into_iter().enumerate() {
        let next = queue
            .get_next_pending(TABLE)
            .map_err(err("get_next_pending"))?;
        let Some((got_id, got)) = next else {
            return Err(format!("{who} get_next_pending: None at entry {position}"));
        };
        if got_id != id || got != write {
            return Err(format!(
                "{who} get_next_pending at entry {position}: got {got_id} {got:?}, expected {id} {write:?}"
            ));
        }
        queue
            .remove_from_queue(TABLE, &got_id)
            .map_err(err("remove_from_queue"))?;
    }
    Ok(())
}

/// fs queues three entries; their files, copied into the pg queue, read
/// the same there, in order, under fs's ids.
pub fn fs_entries_read_by_pg(base: &Path, bases: &Bases) -> Result<(), String> {
    let fs = FsBackend::new(base);
    let pg = bases.pg();
    let mut copied = Vec::new();
    let mut expected = Vec::new();
    for n in 1..=3 {
        let (core, _) = sample(n);
        let id = fs
            .queue_write(TABLE, &core)
            .map_err(err("fs queue_write"))?;
        let bytes = fs::read(entry_path(base, &id)).map_err(err("read fs entry"))?;
        copied.push((id.clone(), bytes));
        expected.push((id, core));
    }
    copy_into_pg(bases, &pg, &copied)?;
    drain_expecting("pg", &pg, expected)
}

/// pg queues three entries; their bodies, written as `<id>.pending` files
/// into an fs queue, read the same there, in order, under pg's ids.
pub fn pg_entries_read_by_fs(base: &Path, bases: &Bases) -> Result<(), String> {
    let pg = bases.pg();
    let mut expected = Vec::new();
    for n in 1..=3 {
        let (core, _) = sample(n);
        let id = pg
            .queue_write(TABLE, &core)
            .map_err(err("pg queue_write"))?;
        expected.push((id, core));
    }
    let server = bases.pg_server().ok_or("no PostgreSQL server")?;
    let mut client = server.client().map_err(err("pg client"))?;
    let s = DEFAULT_SCHEMA;
    let rows = client
        .query(
            &format!(
                "SELECT q.id, q.body FROM {s}.queue q JOIN {s}.tables t USING (table_no) \
                 WHERE t.namespace = $1 AND t.table_name = $2 ORDER BY q.seq"
            ),
            &[&pg.namespace(), &TABLE],
        )
        .map_err(err("select from the pg queue"))?;
    fs::create_dir_all(queue_dir(base)).map_err(err("create the fs queue directory"))?;
    for row in rows {
        let (id, body): (String, Vec<u8>) = (row.get(0), row.get(1));
        fs::write(entry_path(base, &id), body).map_err(err("write fs entry"))?;
    }
    drain_expecting("fs", &FsBackend::new(base), expected)
}

/// The old module queues two entries; their files, copied into the pg
/// queue in the order written (the old module's own order is by creation
/// time), read the same there, under the old ids.
pub fn last_entries_read_by_pg(base: &Path, bases: &Bases) -> Result<(), String> {
    let pg = bases.pg();
    let mut copied = Vec::new();
    let mut expected = Vec::new();
    for n in 1..=2 {
        let (core, old) = sample(n);
        let id = last::queue_write(base, TABLE, old).map_err(err("old queue_write"))?;
        let bytes = fs::read(entry_path(base, &id)).map_err(err("read old entry"))?;
        copied.push((id.clone(), bytes));
        expected.push((id, core));
    }
    copy_into_pg(bases, &pg, &copied)?;
    drain_expecting("pg", &pg, expected)
}
