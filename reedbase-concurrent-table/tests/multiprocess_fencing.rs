// SPDX-License-Identifier: Apache-2.0
//! The fencing token across processes on the pg backend: a lock holder
//! whose server session is terminated while it is inside `apply` (an
//! administrator's `pg_terminate_backend`, a cut network) cannot commit its
//! write after the next holder has written: the table writer refuses its
//! lower token. Per write and in batches. Needs a PostgreSQL server
//! (skipped without one, a failure with `REEDBASE_PG_REQUIRED=1`). This
//! binary re-runs itself as its child (see `support`), so it has its own
//! `main`.
//!
//! The child submits a write of its own behind two queued ones and stops
//! inside the `apply` call that holds its own write (per write: the last
//! call; in batches: the one batch), before the writer opens the table. The
//! parent ends the child's sessions (its lock goes with them), takes the
//! lock itself (a higher token) and submits its own write. Then the child
//! goes on: its `apply` must fail with `TableError::Fenced` and its write
//! must be handed back, and the table must hold the two queued writes and
//! the parent's, once each, in that order, under the parent's token.
//! Without the fence, the child's write would land after the parent's:
//! the coordinator's `is_held` check cannot see a lock lost inside `apply`,
//! and a direct write has no queue id whose replay the journal would skip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod coordination;
use reedbase_concurrent_test_support as support;
mod table_rows;

use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::{Duration, Instant};

use coordination::{Mode, Outcome, PATIENCE, Store, TABLE, terminate_sessions_of};
use reedbase_concurrent_core::{ApplyError, QueueBackend, SubmitOutcome, WriteCoordinator};
use reedbase_concurrent_pg::PgBackend;
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_table::{TableError, TableWriter};
use support::{ChildProcess, Runner, base_dir, child_role, tell_parent};
use table_rows::{Claims, WriteId, check_table};

/// The file whose existence lets the stopped child go on.
const GO_FILE: &str = "go";

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        match role.as_str() {
            "stop_inside_apply" => child_stop_inside_apply(&base_dir()),
            other => panic!("unknown child role {other}"),
        }
        return ExitCode::SUCCESS;
    }
    let mut runner = Runner::from_args();
    let Some(server) = TestServer::find("multiprocess_fencing") else {
        return runner.finish();
    };
    let run = server.run("table_fencing");
    for mode in [Mode::PerWrite, Mode::Batch] {
        let namespace = run.namespace();
        runner.run(
            &format!("terminated_holder_cannot_write_after_the_next_{mode}"),
            move || terminated_holder_cannot_write_after_the_next(mode, &namespace),
        );
    }
    runner.finish()
}

/// Whether an apply error is the table writer's refusal of a stale token.
fn is_fenced(error: &ApplyError) -> bool {
    error
        .downcast_ref::<TableError>()
        .is_some_and(TableError::is_fenced)
}

/// Waits (at most [`PATIENCE`]) for the parent's go file.
fn wait_for_go(base: &Path) {
    let deadline = Instant::now() + PATIENCE;
    while !base.join(GO_FILE).exists() {
        assert!(Instant::now() < deadline, "the parent never said go");
        thread::sleep(Duration::from_millis(2));
    }
}

/// Submits write `seq 2` behind the queued ones; in the `apply` call that
/// holds it, says `INSIDE <token>` and waits for the go file before the
/// writer runs. Says `FENCED` if the writer refuses, then how the submit
/// ended.
fn child_stop_inside_apply(base: &Path) {
    let Store::Pg(namespace) = Store::from_params() else {
        panic!("the fencing scenario runs on pg");
    };
    let coordinator = WriteCoordinator::new(Store::pg_backend(&namespace));
    let writer = TableWriter::new(base, TABLE).unwrap();
    let stop = |token: Option<u64>| {
        tell_parent(&format!("INSIDE {}", token.unwrap_or(0)));
        wait_for_go(base);
    };
    let report = |result: Result<(), ApplyError>| {
        if let Err(error) = &result
            && is_fenced(error)
        {
            tell_parent("FENCED");
        }
        result
    };
    let own = write_of(2);
    let submitted = match Mode::from_param() {
        Mode::PerWrite => coordinator.submit(TABLE, own, PATIENCE, |key, write| {
            if key.is_direct() {
                stop(key.fencing_token());
            }
            report(writer.apply(key, write))
        }),
        Mode::Batch => coordinator.submit_batch(TABLE, own, PATIENCE, |batch| {
            if let Some(item) = batch.iter().find(|item| item.key.is_direct()) {
                stop(item.key.fencing_token());
            }
            report(writer.apply_batch(batch))
        }),
    };
    match submitted {
        Ok(outcome) => tell_parent(&format!("SUBMITTED {outcome:?}")),
        Err(error) => tell_parent(&format!(
            "HANDED BACK {} ({error})",
            error.handed_back().is_some()
        )),
    }
}

/// Write `seq` of the scenario (writer 0, incarnation 0).
fn id_of(seq: u32) -> WriteId {
    WriteId {
        writer: 0,
        incarnation: 0,
        seq,
    }
}

fn write_of(seq: u32) -> reedbase_concurrent_core::PendingWrite {
    id_of(seq).write(0)
}

fn terminated_holder_cannot_write_after_the_next(mode: Mode, namespace: &str) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let backend: PgBackend = Store::pg_backend(namespace);
    for seq in 0..2 {
        backend.queue_write(TABLE, &write_of(seq)).unwrap();
    }
    let params = format!("mode={mode},{}", Store::Pg(namespace.to_string()).params());
    let child = ChildProcess::spawn("stop_inside_apply", base, &params)?;
    let inside = child.wait_for_line(PATIENCE, |line| line.starts_with("INSIDE "))?;
    let stale_token: u64 = inside["INSIDE ".len()..].parse().unwrap();
    assert!(stale_token > 0, "the pg backend hands out fencing tokens");

    // The child's sessions end; its lock goes with them. The parent is
    // the next holder: it applies what is still queued and its own write.
    assert!(
        terminate_sessions_of(child.pid()) > 0,
        "the child had no session"
    );
    let writer = TableWriter::new(base, TABLE).unwrap();
    let coordinator = WriteCoordinator::new(backend.clone());
    let outcome = match mode {
        Mode::PerWrite => coordinator.submit(TABLE, write_of(3), PATIENCE, |key, write| {
            writer.apply(key, write)
        }),
        Mode::Batch => coordinator.submit_batch(TABLE, write_of(3), PATIENCE, |batch| {
            writer.apply_batch(batch)
        }),
    }
    .map_err(|e| format!("the next holder's write: {e}"))?;
    assert!(
        matches!(outcome, SubmitOutcome::Applied { .. }),
        "{outcome:?}"
    );
    let parent_token = writer.status().unwrap().highest_token.unwrap();
    assert!(parent_token > stale_token, "{parent_token} > {stale_token}");

    std::fs::write(base.join(GO_FILE), "").unwrap();
    let lines = child.finish(PATIENCE)?;
    assert!(
        lines.iter().any(|line| line == "FENCED"),
        "the stale holder's apply was not refused as fenced: {lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|line| line.starts_with("HANDED BACK true")),
        "the stale holder's write was not handed back: {lines:?}"
    );
    let claims = Claims {
        tried: (0..4).map(id_of).collect(),
        acked: [0, 1, 3].map(id_of).into_iter().collect(),
    };
    let table = writer.committed_lines().unwrap();
    assert_eq!(check_table(&table, &claims)?, 3, "{table:?}");
    let expected: Vec<String> = [0, 1, 3]
        .into_iter()
        .flat_map(|seq| write_of(seq).rows)
        .map(|row| row.to_csv())
        .collect();
    assert!(
        table == expected,
        "the queued writes, then the next holder's; the stale one nowhere: {table:?}"
    );
    let status = writer.status().unwrap();
    assert_eq!(status.highest_token, Some(parent_token));
    assert_eq!(
        status.uncommitted_len(),
        0,
        "the stale holder wrote nothing"
    );
    assert_eq!(backend.count_pending(TABLE).unwrap(), 0);
    Ok(())
}
