// SPDX-License-Identifier: Apache-2.0
//! The [`WriteCoordinator`] flow on the file-system backend, across real
//! processes: this binary re-runs itself as child processes (role in
//! `REEDBASE_TEST_CHILD`, see `support`), so it has its own `main` instead
//! of libtest's.
//!
//! - several processes submit writes: each applied exactly once, in each
//!   submitter's order, when nothing crashes;
//! - several processes submit through `submit_grouped`: each write applied
//!   exactly once, in each submitter's order, and in the table before its
//!   submitter is told it was applied;
//! - a process SIGKILLed between apply and remove: its entry is replayed by
//!   the next lock holder, and the queue id lets the apply see the replay.
//!
//! The multi-process example of a table writer (several processes appending
//! to one table through the coordinator) is the table crate's
//! `table_writers`, run by that crate's tests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_test_support as support;

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use reedbase_concurrent_core::{
    ApplyKey, BatchItem, CsvRow, LockBackend, PendingWrite, QueueBackend, SubmitOutcome,
    WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions};
use support::{ChildProcess, Runner, base_dir, child_role, param, tell_parent};

const TABLE: &str = "orders";
/// No wait in this file is longer than this; a hang is a failure, not a stall.
const PATIENCE: Duration = Duration::from_secs(120);

type Outcome = Result<(), String>;

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        let base = base_dir();
        match role.as_str() {
            "submitter" => child_submitter(&base),
            "grouped_submitter" => child_grouped_submitter(&base),
            "apply_then_stall" => child_apply_then_stall(&base),
            other => panic!("unknown child role {other}"),
        }
        return ExitCode::SUCCESS;
    }
    let mut runner = Runner::from_args();
    runner.run(
        "submitters_apply_each_write_once_in_order",
        submitters_apply_each_write_once_in_order,
    );
    runner.run(
        "grouped_submitters_apply_each_write_once_in_order_before_returning",
        grouped_submitters_apply_each_write_once_in_order_before_returning,
    );
    runner.run(
        "sigkill_between_apply_and_remove_replays_with_same_key",
        sigkill_between_apply_and_remove_replays_with_same_key,
    );
    runner.finish()
}

/// The test's table: one line `key|queue id or "direct"|applier pid` per
/// applied row, appended with one `write` call under the table lock.
fn log_path(base: &Path) -> PathBuf {
    base.join("applied.log")
}

fn append_applied(base: &Path, key: ApplyKey<'_>, write: &PendingWrite) -> std::io::Result<()> {
    let id = key.queue_id().unwrap_or("direct");
    let mut lines = String::new();
    for row in &write.rows {
        lines.push_str(&format!("{}|{id}|{}\n", row.key, std::process::id()));
    }
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log_path(base))?;
    file.write_all(lines.as_bytes())
}

fn read_log(base: &Path) -> Vec<(String, String)> {
    let content = fs::read_to_string(log_path(base)).unwrap_or_default();
    content
        .lines()
        .map(|line| {
            let fields: Vec<&str> = line.split('|').collect();
            assert_eq!(fields.len(), 3, "torn log line {line:?}");
            (fields[0].to_string(), fields[1].to_string())
        })
        .collect()
}

fn fast_backend(base: &Path) -> FsBackend {
    FsBackend::with_options(base, FsOptions::new().durability(Durability::Relaxed))
}

fn child_submitter(base: &Path) {
    let writer: usize = param("writer", "").parse().unwrap();
    let count: usize = param("count", "").parse().unwrap();
    let coordinator = WriteCoordinator::new(fast_backend(base));
    for seq in 0..count {
        let row = CsvRow::new(format!("w{writer}-{seq:04}"), vec![writer.to_string()]);
        let mut write = PendingWrite::new(WriteOperation::Insert, vec![row]);
        let mut apply = |key: ApplyKey<'_>, w: &PendingWrite| Ok(append_applied(base, key, w)?);
        loop {
            match coordinator.submit(TABLE, write, Duration::from_millis(1), &mut apply) {
                Ok(_) => break,
                Err(error) if error.is_queue_full() => {
                    write = error.into_write().unwrap();
                    thread::sleep(Duration::from_millis(1));
                }
                Err(error) => panic!("submit failed: {error}"),
            }
        }
    }
}

/// Starts `writers` children in `role`, each submitting `count` writes,
/// while this process holds the lock until each has queued one (so that
/// the queue path is taken however the scheduler runs them: on a loaded
/// machine they may otherwise run one after another, never contending);
/// waits for them and returns the table's log.
fn run_submitters(
    dir: &Path,
    role: &str,
    (writers, count): (usize, usize),
) -> Result<Vec<(String, String)>, String> {
    let parent = fast_backend(dir);
    let held = parent.acquire_lock(TABLE, PATIENCE).unwrap();
    let mut children: Vec<ChildProcess> = (0..writers)
        .map(|writer| {
            let params = format!("writer={writer},count={count}");
            ChildProcess::spawn(role, dir, &params)
        })
        .collect::<Result<_, _>>()?;
    let start = std::time::Instant::now();
    while parent.count_pending(TABLE).unwrap() < writers {
        assert!(start.elapsed() < PATIENCE, "the submitters queued nothing");
        thread::sleep(Duration::from_millis(1));
    }
    drop(held);
    for child in &mut children {
        assert!(child.wait(PATIENCE)?.success(), "a submitter failed");
    }
    Ok(read_log(dir))
}

/// Every writer's rows in `log` once each, in the order it wrote them.
fn assert_each_once_in_order(log: &[(String, String)], total: usize) {
    assert_eq!(log.len(), total, "every write applied exactly once");
    let mut next: BTreeMap<String, usize> = BTreeMap::new();
    for (key, _) in log {
        let (writer, seq) = key.split_once('-').unwrap();
        let seq: usize = seq.parse().unwrap();
        let expected = next.entry(writer.to_string()).or_insert(0);
        assert_eq!(
            seq, *expected,
            "{writer}'s writes applied out of order or twice"
        );
        *expected += 1;
    }
}

fn submitters_apply_each_write_once_in_order() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (writers, count) = (4, 60);
    run_submitters(dir.path(), "submitter", (writers, count))?;
    let coordinator = WriteCoordinator::new(fast_backend(dir.path()));
    coordinator
        .drain(TABLE, PATIENCE, |key, w| {
            Ok(append_applied(dir.path(), key, w)?)
        })
        .unwrap();
    let log = read_log(dir.path());
    assert_each_once_in_order(&log, writers * count);
    assert!(
        log.iter().any(|(_, id)| id != "direct"),
        "no write took the queue path; the scenario proved nothing"
    );
    assert_eq!(coordinator.backend().count_pending(TABLE).unwrap(), 0);
    Ok(())
}

/// Submits `count` writes through `submit_grouped`, one `apply` call (one
/// append) per batch; after each `Applied` its row must be in the table.
fn child_grouped_submitter(base: &Path) {
    let writer: usize = param("writer", "").parse().unwrap();
    let count: usize = param("count", "").parse().unwrap();
    let coordinator = WriteCoordinator::new(fast_backend(base));
    for seq in 0..count {
        let key = format!("w{writer}-{seq:04}");
        let row = CsvRow::new(key.clone(), vec![writer.to_string()]);
        let write = PendingWrite::new(WriteOperation::Insert, vec![row]);
        let outcome = coordinator
            .submit_grouped(TABLE, write, PATIENCE, |batch: &[BatchItem<'_>]| {
                for item in batch {
                    append_applied(base, item.key, item.write)?;
                }
                Ok(())
            })
            .unwrap_or_else(|error| panic!("submit_grouped failed: {error}"));
        assert!(
            matches!(outcome, SubmitOutcome::Applied { .. }),
            "{outcome:?}"
        );
        assert!(
            read_log(base).iter().any(|(applied, _)| *applied == key),
            "{key} was reported applied before it was in the table"
        );
    }
}

fn grouped_submitters_apply_each_write_once_in_order_before_returning() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let (writers, count) = (4, 60);
    let log = run_submitters(dir.path(), "grouped_submitter", (writers, count))?;
    assert_each_once_in_order(&log, writers * count);
    assert!(
        log.iter().all(|(_, id)| id != "direct"),
        "every grouped write is applied from the queue"
    );
    assert_eq!(fast_backend(dir.path()).count_pending(TABLE).unwrap(), 0);
    Ok(())
}

fn child_apply_then_stall(base: &Path) {
    let coordinator = WriteCoordinator::new(FsBackend::new(base));
    let result = coordinator.drain(TABLE, PATIENCE, |key, w| {
        append_applied(base, key, w)?;
        // Tell the parent which entry was applied, then stall before the
        // coordinator can remove it: the parent kills us here.
        tell_parent(&format!("APPLIED {}", key.queue_id().unwrap_or("direct")));
        thread::sleep(PATIENCE);
        Ok(())
    });
    panic!("the parent should have killed this child, drain returned {result:?}");
}

fn sigkill_between_apply_and_remove_replays_with_same_key() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let ids: Vec<String> = (0..3)
        .map(|n| {
            let row = CsvRow::new(format!("r{n}"), vec!["v".to_string()]);
            let write = PendingWrite::new(WriteOperation::Insert, vec![row]);
            backend.queue_write(TABLE, &write).unwrap()
        })
        .collect();
    let mut child = ChildProcess::spawn("apply_then_stall", dir.path(), "")?;
    let line = child.read_line(PATIENCE)?;
    let applied_id = line.trim().strip_prefix("APPLIED ").unwrap().to_string();
    assert_eq!(applied_id, ids[0], "the oldest entry is applied first");
    child.kill()?;

    assert_eq!(
        backend.count_pending(TABLE).unwrap(),
        3,
        "nothing was removed"
    );
    // The next lock holder replays the entry; its key reveals the replay.
    let mut replays = Vec::new();
    let coordinator = WriteCoordinator::new(&backend);
    let drained = coordinator
        .drain(TABLE, PATIENCE, |key, w| {
            let seen: HashSet<String> =
                read_log(dir.path()).into_iter().map(|(_, id)| id).collect();
            let id = key.queue_id().unwrap();
            if seen.contains(id) {
                replays.push(id.to_string());
                return Ok(());
            }
            Ok(append_applied(dir.path(), key, w)?)
        })
        .unwrap();
    assert_eq!(drained, 3);
    assert_eq!(
        replays,
        vec![applied_id],
        "exactly the interrupted entry is replayed"
    );
    let keys: Vec<String> = read_log(dir.path())
        .into_iter()
        .map(|(key, _)| key)
        .collect();
    assert_eq!(
        keys,
        vec!["r0", "r1", "r2"],
        "each write in the table once, in order"
    );
    assert_eq!(backend.count_pending(TABLE).unwrap(), 0);
    Ok(())
}
