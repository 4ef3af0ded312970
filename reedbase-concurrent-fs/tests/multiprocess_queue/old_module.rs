// SPDX-License-Identifier: Apache-2.0
//! This crate and the old module (`reedbase-last`) on one queue: entries
//! cross both ways, and an old-module producer process racing a consumer
//! here never gets an entry moved aside or delivered twice.

use std::collections::HashSet;
use std::thread;
use std::time::{Duration, Instant};

use crate::Outcome;
use crate::queue_producers::{PATIENCE, TABLE, numbered_write, numbers_of, parse_lines};
use crate::support::ChildProcess;
use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use reedbase_concurrent_fs::queue::moved_aside;
use reedbase_concurrent_fs::{get_next_pending, queue_write, remove_from_queue};

pub(crate) fn cross_compat() -> Outcome {
    use reedbase_last::concurrent as old;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    // Old module -> this crate: read, and first.
    let ours_first =
        queue_write(base, TABLE, numbered_write("new", 0, 2)).map_err(|e| e.to_string())?;
    let old_write = old::PendingWrite {
        rows: vec![old::CsvRow::new("old:0:0", vec!["v", "w"])],
        timestamp: 1_700_000_000_000_000_001,
        operation: old::WriteOperation::Delete,
    };
    let old_id = old::queue_write(base, TABLE, old_write).map_err(|e| format!("{e:?}"))?;
    let expected = PendingWrite {
        rows: vec![CsvRow::new("old:0:0", vec!["v", "w"])],
        timestamp: 1_700_000_000_000_000_001,
        operation: WriteOperation::Delete,
    };
    let head = get_next_pending(base, TABLE).map_err(|e| e.to_string())?;
    if head != Some((old_id.clone(), expected)) {
        return Err(format!("the old module's entry is not first: {head:?}"));
    }
    remove_from_queue(base, TABLE, &old_id).map_err(|e| e.to_string())?;
    // This crate (JSON) -> old module.
    let head = old::get_next_pending(base, TABLE).map_err(|e| format!("{e:?}"))?;
    match head {
        Some((id, write))
            if id == ours_first && write.rows[0].key == "new:0:0" && write.rows.len() == 2 => {}
        other => {
            return Err(format!(
                "the old module read {other:?}, expected {ours_first}"
            ));
        }
    }
    old::remove_from_queue(base, TABLE, &ours_first).map_err(|e| format!("{e:?}"))?;
    let left = old::count_pending(base, TABLE).map_err(|e| format!("{e:?}"))?;
    if left != 0 {
        return Err(format!("{left} entries left"));
    }
    Ok(())
}

pub(crate) fn old_producer_racing_consumer() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let total = 300;
    let mut child = ChildProcess::spawn(
        "old_producer",
        base,
        &format!("tag=old,rows=100,count={total}"),
    )?;
    child.go()?;
    let deadline = Instant::now() + PATIENCE;
    let mut delivered = Vec::new();
    while delivered.len() < total && Instant::now() < deadline {
        match get_next_pending(base, TABLE).map_err(|e| e.to_string())? {
            Some((id, write)) => {
                remove_from_queue(base, TABLE, &id).map_err(|e| e.to_string())?;
                delivered.push((id, numbers_of(&write).1));
            }
            None => thread::sleep(Duration::from_micros(200)),
        }
    }
    let (acked, _) = parse_lines(0, &child.finish(PATIENCE)?)?;
    let moved = moved_aside(base, TABLE).map_err(|e| e.to_string())?;
    let acked_ids: HashSet<&str> = acked.iter().map(|a| a.id.as_str()).collect();
    let delivered_ids: HashSet<&str> = delivered.iter().map(|d| d.0.as_str()).collect();
    if !moved.is_empty()
        || acked.len() != total
        || delivered.len() != total
        || acked_ids != delivered_ids
    {
        return Err(format!(
            "{} written, {} delivered ({} distinct), moved aside {moved:?}",
            acked.len(),
            delivered.len(),
            delivered_ids.len()
        ));
    }
    Ok(())
}
