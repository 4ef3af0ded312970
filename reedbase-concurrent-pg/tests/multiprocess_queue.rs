// SPDX-License-Identifier: Apache-2.0
//! The pg queue across processes standing for hosts (see
//! `multiprocess_lock.rs` for how children are run): 4 producer processes
//! x 50 writes fill capacity 100 exactly, and a write acknowledged before
//! another began is delivered first (FIFO across producers).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_test_support as support;

mod pg_children;
mod pg_support;

use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use pg_children::{Outcome, Scenario};
use pg_support::{TABLE, sequenced_write as write};
use reedbase_concurrent_core::{PendingWrite, QueueBackend, now_nanos};
use reedbase_concurrent_pg::PgBackend;
use reedbase_concurrent_pg::testing::TestServer;
use support::{ChildProcess, param, tell_parent};

/// No wait in this file is longer than this; a hang is a failure.
const PATIENCE: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    const SCENARIOS: &[(&str, Scenario)] = &[
        (
            "four_producers_fill_capacity_exactly",
            four_producers_fill_capacity_exactly,
        ),
        ("fifo_across_producers", fifo_across_producers),
    ];
    pg_children::run("multiprocess_queue", child, SCENARIOS)
}

fn child(role: &str, backend: &PgBackend, _base: &Path) {
    match role {
        "producer" => child_producer(backend),
        other => panic!("unknown child role {other}"),
    }
}

// Capacity and FIFO across producers.

/// Waits for `go`, queues `count` writes, and prints one line per write:
/// `OK <id> <start> <end>` or `FULL`, the times in wall-clock nanoseconds.
fn child_producer(backend: &PgBackend) {
    let source: usize = param("source", "").parse().unwrap();
    let count: usize = param("count", "").parse().unwrap();
    support::line_from_parent();
    for seq in 0..count {
        let start = now_nanos();
        match backend.queue_write(TABLE, &write(source, seq)) {
            Ok(id) => tell_parent(&format!("OK {id} {start} {}", now_nanos())),
            Err(error) if error.is_queue_full() => tell_parent("FULL"),
            Err(error) => panic!("queue_write: {error}"),
        }
    }
}

/// Runs 4 producers of `count` writes each, released together; returns
/// every line they printed.
fn race_producers(namespace: &str, count: usize, capacity: usize) -> Result<Vec<String>, String> {
    let dir = tempfile::tempdir().unwrap();
    let mut children: Vec<ChildProcess> = (0..4)
        .map(|source| {
            let params =
                format!("ns={namespace},source={source},count={count},capacity={capacity}");
            ChildProcess::spawn("producer", dir.path(), &params)
        })
        .collect::<Result<_, _>>()?;
    for child in &mut children {
        child.go()?;
    }
    let mut lines = Vec::new();
    for child in children {
        lines.extend(child.finish(PATIENCE)?);
    }
    Ok(lines)
}

fn four_producers_fill_capacity_exactly(server: &TestServer, namespace: &str) -> Outcome {
    let lines = race_producers(namespace, 50, 100)?;
    let accepted: Vec<&str> = lines.iter().filter_map(|l| l.strip_prefix("OK ")).collect();
    let refused = lines.iter().filter(|l| *l == "FULL").count();
    assert_eq!(
        (accepted.len(), refused),
        (100, 100),
        "4 x 50 into capacity 100"
    );
    let ids: HashSet<&str> = accepted
        .iter()
        .map(|l| l.split(' ').next().unwrap())
        .collect();
    assert_eq!(ids.len(), 100, "distinct ids");
    let backend = PgBackend::connect(server.url(), namespace).unwrap();
    assert_eq!(backend.count_pending(TABLE).unwrap(), 100);
    Ok(())
}

fn fifo_across_producers(server: &TestServer, namespace: &str) -> Outcome {
    let lines = race_producers(namespace, 25, 100)?;
    let mut spans = HashMap::new();
    for line in &lines {
        let fields: Vec<&str> = line.split(' ').collect();
        let ["OK", id, start, end] = fields[..] else {
            return Err(format!("unexpected line {line:?}"));
        };
        spans.insert(
            id.to_string(),
            (start.parse::<u128>().unwrap(), end.parse::<u128>().unwrap()),
        );
    }
    let backend = PgBackend::connect(server.url(), namespace).unwrap();
    let delivered: Vec<(String, PendingWrite)> = backend.get_pending_batch(TABLE, 200).unwrap();
    assert_eq!(delivered.len(), 100);
    let mut next_seq = [0usize; 4];
    for (id, write) in &delivered {
        let source: usize = write.rows[0].values[0].parse().unwrap();
        let seq: usize = write.rows[0].values[1].parse().unwrap();
        assert_eq!(
            seq, next_seq[source],
            "producer {source}'s writes out of order"
        );
        next_seq[source] += 1;
        assert!(spans.contains_key(id), "{id} was not acknowledged");
    }
    // Across producers: a write acknowledged before another was begun is
    // delivered before it.
    let mut violations = Vec::new();
    for (later_index, (later, _)) in delivered.iter().enumerate() {
        for (earlier, _) in &delivered[later_index + 1..] {
            if spans[earlier].1 < spans[later].0 {
                violations.push((later.clone(), earlier.clone()));
            }
        }
    }
    assert!(violations.is_empty(), "overtaken writes: {violations:?}");
    Ok(())
}
