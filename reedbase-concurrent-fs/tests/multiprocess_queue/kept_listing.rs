// SPDX-License-Identifier: Apache-2.0
//! A consumer that keeps its listing between pops (`FsBackend`) beside
//! other processes: old-module entries written meanwhile come first, a
//! consumer process shares the queue, and producer processes write while
//! it drains.

use std::collections::{HashMap, HashSet};
use std::thread;
use std::time::{Duration, Instant};

use crate::queue_producers::{PATIENCE, TABLE, numbered_write, parse_lines};
use crate::support::ChildProcess;
use crate::{Outcome, drain_positions};
use reedbase_concurrent_core::QueueBackend;
use reedbase_concurrent_fs::{FsBackend, FsOptions};

/// A consumer here (an `FsBackend`, which keeps its listing between pops)
/// and old-module entries written by another process while it holds one:
/// they come next, before the rest of what it listed.
pub(crate) fn kept_listing_meets_old_entries() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let backend = FsBackend::with_options(base, FsOptions::new().capacity(1000));
    let ours: Vec<String> = (0..10)
        .map(|n| backend.queue_write(TABLE, &numbered_write("new", n, 1)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let first = backend_pop(&backend)?;
    if first.as_deref() != Some(ours[0].as_str()) {
        return Err(format!("first pop {first:?}, expected {}", ours[0]));
    }
    let child = ChildProcess::spawn("old_producer", base, "tag=old,count=3")
        .and_then(|mut child| child.go().map(|()| child))?;
    let (old, _) = parse_lines(0, &child.finish(PATIENCE)?)?;
    let mut drained = Vec::new();
    while let Some(id) = backend_pop(&backend)? {
        drained.push(id);
    }
    let old_ids: HashSet<&str> = old.iter().map(|a| a.id.as_str()).collect();
    let head: HashSet<&str> = drained.iter().take(3).map(String::as_str).collect();
    if old.len() != 3 || head != old_ids || drained[3..] != ours[1..] {
        return Err(format!(
            "old-module entries {old_ids:?}, drained {drained:?}, ours {ours:?}"
        ));
    }
    Ok(())
}

/// A consumer here with a kept listing and a consumer process taking from
/// the same queue at once: each removes entries in queue order, and
/// together every entry exactly once.
pub(crate) fn kept_listing_beside_a_consumer() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let options = FsOptions::new()
        .capacity(1000)
        .durability(reedbase_concurrent_fs::Durability::Relaxed);
    let backend = FsBackend::with_options(base, options);
    let written: Vec<String> = (0..400)
        .map(|n| backend.queue_write(TABLE, &numbered_write("w", n, 1)))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    backend_pop(&backend)?;
    let mut child = ChildProcess::spawn("consumer", base, "")?;
    child.go()?;
    let mut ours = vec![written[0].clone()];
    while let Some(id) = backend_pop(&backend)? {
        ours.push(id);
    }
    let theirs: Vec<String> = child
        .finish(PATIENCE)?
        .iter()
        .map(|line| match line.strip_prefix("took ") {
            Some(id) => Ok(id.to_string()),
            None => Err(format!("the consumer said {line:?}")),
        })
        .collect::<Result<_, _>>()?;
    let position: HashMap<&str, usize> = written
        .iter()
        .enumerate()
        .map(|(i, id)| (id.as_str(), i))
        .collect();
    for (who, taken) in [("ours", &ours), ("theirs", &theirs)] {
        let at: Vec<usize> = taken.iter().map(|id| position[id.as_str()]).collect();
        if at.windows(2).any(|pair| pair[0] >= pair[1]) {
            return Err(format!("{who} removed out of order: {at:?}"));
        }
    }
    let mut all: Vec<&str> = ours.iter().chain(&theirs).map(String::as_str).collect();
    all.sort_unstable();
    let mut expected: Vec<&str> = written.iter().map(String::as_str).collect();
    expected.sort_unstable();
    if all != expected {
        return Err(format!(
            "{} removed here and {} there, {} written",
            ours.len(),
            theirs.len(),
            written.len()
        ));
    }
    eprintln!(
        "    note: {} removed here, {} by the other process",
        ours.len(),
        theirs.len()
    );
    Ok(())
}

/// A consumer here with a kept listing drains while four producer processes
/// write: every entry once, and an entry whose write finished before
/// another's began comes out first.
pub(crate) fn kept_listing_while_producers_write() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let backend = FsBackend::with_options(base, FsOptions::new().capacity(10_000));
    let mut children: Vec<ChildProcess> = (0..4)
        .map(|p| {
            ChildProcess::spawn(
                "producer",
                base,
                &format!("tag=p{p},count=100,capacity=10000,durability=relaxed"),
            )
        })
        .collect::<Result<_, _>>()?;
    children.iter_mut().try_for_each(ChildProcess::go)?;
    let deadline = Instant::now() + PATIENCE;
    let mut drained = Vec::new();
    while drained.len() < 400 && Instant::now() < deadline {
        match backend.get_next_pending(TABLE).map_err(|e| e.to_string())? {
            Some((id, write)) => {
                backend
                    .remove_from_queue(TABLE, &id)
                    .map_err(|e| e.to_string())?;
                drained.push((id, write));
            }
            None => thread::sleep(Duration::from_micros(100)),
        }
    }
    let mut acked = Vec::new();
    for (producer, child) in children.into_iter().enumerate() {
        acked.append(&mut parse_lines(producer, &child.finish(PATIENCE)?)?.0);
    }
    if drained.len() != 400 || acked.len() != 400 {
        return Err(format!(
            "{} acknowledged, {} drained; expected 400",
            acked.len(),
            drained.len()
        ));
    }
    let position = drain_positions(&drained);
    for a in &acked {
        for b in &acked {
            if a.after < b.before && position[a.id.as_str()] > position[b.id.as_str()] {
                return Err(format!(
                    "{a:?} finished before {b:?} started, but came out after it"
                ));
            }
        }
    }
    Ok(())
}

/// One pop through `backend`: the id removed, `None` when empty; an entry
/// another consumer removed first is passed over.
fn backend_pop(backend: &FsBackend) -> Result<Option<String>, String> {
    loop {
        let Some((id, _)) = backend.get_next_pending(TABLE).map_err(|e| e.to_string())? else {
            return Ok(None);
        };
        match backend.remove_from_queue(TABLE, &id) {
            Ok(()) => return Ok(Some(id)),
            Err(e) if e.is_not_found() => {}
            Err(e) => return Err(e.to_string()),
        }
    }
}
