// SPDX-License-Identifier: Apache-2.0
//! Producer processes sharing a queue: the capacity is exact, and each
//! producer's order and the global enqueue order survive the drain.

use std::collections::HashSet;

use crate::queue_producers::{TABLE, drain, numbers_of, run_producers};
use crate::{Outcome, drain_positions};
use reedbase_concurrent_fs::count_pending;

pub(crate) fn capacity_is_exact() -> Outcome {
    for round in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let params: Vec<String> = (0..4)
            .map(|p| format!("tag=p{p},count=50,capacity=100"))
            .collect();
        let (acked, full) = run_producers(dir.path(), "producer", &params)?;
        let distinct: HashSet<&str> = acked.iter().map(|a| a.id.as_str()).collect();
        let pending = count_pending(dir.path(), TABLE).map_err(|e| e.to_string())?;
        if acked.len() != 100 || full != 100 || distinct.len() != 100 || pending != 100 {
            return Err(format!(
                "round {round}: {} accepted ({} distinct), {full} refused, {pending} pending; expected 100, 100, 100",
                acked.len(),
                distinct.len()
            ));
        }
    }
    Ok(())
}

pub(crate) fn order_survives() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let params: Vec<String> = (0..4)
        .map(|p| {
            let codec = if p < 2 { "json" } else { "postcard" };
            format!("tag=p{p},count=50,capacity=1000,durability=relaxed,codec={codec}")
        })
        .collect();
    let (acked, _) = run_producers(dir.path(), "producer", &params)?;
    let drained = drain(dir.path())?;
    if drained.len() != 200 || acked.len() != 200 {
        return Err(format!(
            "{} acknowledged, {} drained; expected 200",
            acked.len(),
            drained.len()
        ));
    }
    let position = drain_positions(&drained);
    for a in &acked {
        let at = *position
            .get(a.id.as_str())
            .ok_or_else(|| format!("{a:?} was not drained"))?;
        if numbers_of(&drained[at].1) != (format!("p{}", a.producer), a.n) {
            return Err(format!("{a:?} came out with the content of another write"));
        }
    }
    let mut checked = 0usize;
    for a in &acked {
        for b in &acked {
            let must_precede = a.after < b.before || (a.producer == b.producer && a.n < b.n);
            if must_precede {
                checked += 1;
                if position[a.id.as_str()] > position[b.id.as_str()] {
                    return Err(format!(
                        "{a:?} finished before {b:?} started, but came out after it"
                    ));
                }
            }
        }
    }
    eprintln!("    note: {checked} ordered pairs checked");
    Ok(())
}

/// A producer here whose queue another process drained: the process's
/// watch sees no deletion (see the `watch` module), so its count stays at
/// capacity; the next write lists instead of refusing, and the capacity is
/// exact again. Removals made here are counted here: after three pops,
/// exactly three more writes are accepted.
pub(crate) fn capacity_after_another_process_drained() -> Outcome {
    use reedbase_concurrent_core::QueueBackend;
    use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};

    use crate::queue_producers::{PATIENCE, numbered_write};
    use crate::support::ChildProcess;

    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let options = FsOptions::new()
        .capacity(10)
        .durability(Durability::Relaxed);
    let backend = FsBackend::with_options(base, options);
    let mut n = 0;
    // How many writes go through before the queue is full.
    let mut fill = |backend: &FsBackend| -> Result<usize, String> {
        let mut accepted = 0;
        loop {
            n += 1;
            match backend.queue_write(TABLE, &numbered_write("w", n, 1)) {
                Ok(_) => accepted += 1,
                Err(e) if e.is_queue_full() => return Ok(accepted),
                Err(e) => return Err(e.to_string()),
            }
            if accepted > 10 {
                return Err(format!("{accepted} writes accepted at capacity 10"));
            }
        }
    };
    if fill(&backend)? != 10 {
        return Err("the first fill".into());
    }
    let mut child = ChildProcess::spawn("consumer", base, "")?;
    child.go()?;
    let taken = child.finish(PATIENCE)?.len();
    if taken != 10 {
        return Err(format!("the consumer process took {taken} of 10"));
    }
    let again = fill(&backend)?;
    if again != 10 {
        return Err(format!(
            "{again} writes accepted after the drain, expected 10"
        ));
    }
    for _ in 0..3 {
        let (id, _) = backend
            .get_next_pending(TABLE)
            .map_err(|e| e.to_string())?
            .ok_or("an empty queue")?;
        backend
            .remove_from_queue(TABLE, &id)
            .map_err(|e| e.to_string())?;
    }
    let more = fill(&backend)?;
    let pending = count_pending(base, TABLE).map_err(|e| e.to_string())?;
    if more != 3 || pending != 10 {
        return Err(format!(
            "{more} accepted after 3 pops (expected 3), {pending} pending"
        ));
    }
    Ok(())
}
