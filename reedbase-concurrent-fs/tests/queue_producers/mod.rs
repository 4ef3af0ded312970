// SPDX-License-Identifier: Apache-2.0
//! The queue tests' producer children and what the parent does with their
//! output: numbered writes, the child's loop, parsing its lines, draining.
//! The child-process plumbing is `support`'s.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::collections::hash_map::RandomState;
use std::fs;
use std::hash::{BuildHasher, Hasher};
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use reedbase_concurrent_fs::queue::queue_write_with;
use reedbase_concurrent_fs::{Codec, Durability, FsOptions, get_next_pending, remove_from_queue};

use crate::support::{ChildProcess, base_dir, line_from_parent, param, tell_parent};

/// The table every scenario uses.
pub const TABLE: &str = "orders";
/// No wait is longer than this; a hang is a failure, not a stall.
pub const PATIENCE: Duration = Duration::from_secs(60);

/// A write whose first key says which producer wrote it and its number.
pub fn numbered_write(tag: &str, n: usize, rows: usize) -> PendingWrite {
    let rows = (0..rows.max(1))
        .map(|r| {
            CsvRow::new(
                format!("{tag}:{n}:{r}"),
                vec!["some value".to_string(), "x".repeat(r % 50)],
            )
        })
        .collect();
    PendingWrite::new(WriteOperation::Insert, rows)
}

/// `tag` and `n` back from a write made by [`numbered_write`].
pub fn numbers_of(write: &PendingWrite) -> (String, usize) {
    let mut parts = write.rows[0].key.split(':');
    let tag = parts.next().unwrap().to_string();
    (tag, parts.next().unwrap().parse().unwrap())
}

pub fn child_options() -> FsOptions {
    let durability = match param("durability", "durable").as_str() {
        "relaxed" => Durability::Relaxed,
        _ => Durability::Durable,
    };
    let codec = match param("codec", "json").as_str() {
        "postcard" => Codec::Postcard,
        _ => Codec::Json,
    };
    let capacity = param("capacity", "100").parse().unwrap();
    FsOptions::new()
        .durability(durability)
        .codec(codec)
        .capacity(capacity)
}

pub fn run_child(role: &str) -> ExitCode {
    let base = base_dir();
    let tag = param("tag", "p");
    let rows: usize = param("rows", "1").parse().unwrap();
    let count: usize = param("count", "1000000").parse().unwrap();
    if line_from_parent().is_none() {
        return ExitCode::FAILURE;
    }
    let started = Instant::now();
    let options = child_options();
    if role == "consumer" {
        return consume_until_empty(&base, started);
    }
    for n in 0..count {
        if started.elapsed() > PATIENCE {
            break;
        }
        let write = numbered_write(&tag, n, rows);
        let before = wall_nanos();
        let result = match role {
            "old_producer" => old_write_patiently(&base, write),
            _ => queue_write_with(&base, TABLE, &write, &options).map_err(|e| e.to_string()),
        };
        let after = wall_nanos();
        match result {
            Ok(id) => tell_parent(&format!("ok {id} {n} {before} {after}")),
            Err(e) if e.contains("is full") => tell_parent(&format!("full {n}")),
            Err(e) => {
                tell_parent(&format!("err {n} {e}"));
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// A consumer child: gets and removes entries until the queue is empty,
/// saying `took <id>` for each entry it removed (an entry another consumer
/// removed first is not its own).
fn consume_until_empty(base: &Path, started: Instant) -> ExitCode {
    while started.elapsed() < PATIENCE {
        match get_next_pending(base, TABLE) {
            Ok(Some((id, _))) => match remove_from_queue(base, TABLE, &id) {
                Ok(()) => tell_parent(&format!("took {id}")),
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    tell_parent(&format!("err {e}"));
                    return ExitCode::FAILURE;
                }
            },
            Ok(None) => return ExitCode::SUCCESS,
            Err(e) => {
                tell_parent(&format!("err {e}"));
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::FAILURE
}

/// The old module's `queue_write`, retried while its queue is full.
pub fn old_write_patiently(base: &Path, write: PendingWrite) -> Result<String, String> {
    let old = reedbase_last::concurrent::PendingWrite {
        rows: write
            .rows
            .iter()
            .map(|r| reedbase_last::concurrent::CsvRow::new(r.key.clone(), r.values.clone()))
            .collect(),
        timestamp: u64::try_from(write.timestamp).unwrap(),
        operation: reedbase_last::concurrent::WriteOperation::Insert,
    };
    let deadline = Instant::now() + PATIENCE;
    loop {
        match reedbase_last::concurrent::queue_write(base, TABLE, old.clone()) {
            Err(reedbase_last::error::ReedError::QueueFull { .. }) if Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(1));
            }
            other => return other.map_err(|e| format!("{e:?}")),
        }
    }
}

/// Wall-clock nanoseconds since the Unix epoch (one clock for every process
/// of the machine).
pub fn wall_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

/// A random number (from the standard library's per-process hash keys).
pub fn random_u64() -> u64 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(wall_nanos());
    hasher.finish()
}

/// One `ok` line of a producer.
#[derive(Debug, Clone)]
pub struct Acked {
    /// Which producer (its index among the children).
    pub producer: usize,
    /// The id returned.
    pub id: String,
    /// The producer's write number.
    pub n: usize,
    /// Wall-clock nanoseconds just before the call.
    pub before: u128,
    /// Wall-clock nanoseconds just after it returned.
    pub after: u128,
}

/// Splits a producer's lines into its acknowledged writes and its `full` count.
pub fn parse_lines(producer: usize, lines: &[String]) -> Result<(Vec<Acked>, usize), String> {
    let mut acked = Vec::new();
    let mut full = 0;
    for line in lines {
        let fields: Vec<&str> = line.split(' ').collect();
        match fields.as_slice() {
            ["ok", id, n, before, after] => acked.push(Acked {
                producer,
                id: id.to_string(),
                n: n.parse().map_err(|_| line.clone())?,
                before: before.parse().map_err(|_| line.clone())?,
                after: after.parse().map_err(|_| line.clone())?,
            }),
            ["full", _] => full += 1,
            _ => return Err(format!("producer {producer} said {line:?}")),
        }
    }
    Ok((acked, full))
}

/// Gets and removes every entry, in order.
pub fn drain(base: &Path) -> Result<Vec<(String, PendingWrite)>, String> {
    let mut drained = Vec::new();
    while let Some((id, write)) = get_next_pending(base, TABLE).map_err(|e| e.to_string())? {
        remove_from_queue(base, TABLE, &id).map_err(|e| e.to_string())?;
        drained.push((id, write));
        if drained.len() > 1_000_000 {
            return Err("the drain does not end".to_string());
        }
    }
    Ok(drained)
}

/// Starts `producers` children, releases them together, and collects their
/// acknowledged writes and `full` counts.
pub fn run_producers(
    base: &Path,
    role: &str,
    params: &[String],
) -> Result<(Vec<Acked>, usize), String> {
    let mut children: Vec<ChildProcess> = params
        .iter()
        .map(|p| ChildProcess::spawn(role, base, p))
        .collect::<Result<_, _>>()?;
    children.iter_mut().try_for_each(ChildProcess::go)?;
    let mut acked = Vec::new();
    let mut full = 0;
    for (producer, child) in children.into_iter().enumerate() {
        let (mut a, f) = parse_lines(producer, &child.finish(PATIENCE)?)?;
        acked.append(&mut a);
        full += f;
    }
    Ok((acked, full))
}

/// True if two writes are equal but for their timestamps (children stamp
/// their own).
pub fn same_rows(a: &PendingWrite, b: &PendingWrite) -> bool {
    a.rows == b.rows && a.operation == b.operation
}

/// The temporaries (`.incoming-*.tmp`) in a queue directory.
pub fn temporaries(queue_dir: &Path) -> Vec<String> {
    let Ok(listing) = fs::read_dir(queue_dir) else {
        return Vec::new();
    };
    listing
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".tmp"))
        .collect()
}
