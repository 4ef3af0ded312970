// SPDX-License-Identifier: Apache-2.0
//! The table writer across real processes through the `WriteCoordinator`,
//! with children SIGKILLed mid-apply, on the per-write and the batch paths,
//! on the fs backend and on the pg backend (children connected over TCP,
//! standing for hosts that share the base directory; skipped without a
//! server, a failure with `REEDBASE_PG_REQUIRED=1`). This binary re-runs
//! itself as its children (see `support`), so it has its own `main`.
//!
//! - random SIGKILLs of four writer processes: after the start-up drain, no
//!   acknowledged write is lost and none is duplicated, torn or reordered;
//! - a SIGKILL while a step's rows are in the table but its journal record
//!   is not: the rows are rolled back, kept aside, and applied again once;
//! - a SIGKILL between an apply and the removal of its queue entries: the
//!   replay is skipped.
//!
//! What a lock lost mid-apply does on pg (the fencing token) is in
//! `multiprocess_fencing.rs`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod coordination;
use reedbase_concurrent_test_support as support;
mod table_rows;

use std::fs;
use std::path::Path;
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

use coordination::{Mode, Outcome, PATIENCE, Store, TABLE, with_backend};
use reedbase_concurrent_core::{Backend, CoordinatorOptions, SubmitOutcome, WriteCoordinator};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_table::TableWriter;
use support::{ChildProcess, Rng, Runner, base_dir, child_role, param_as, tell_parent};
use table_rows::{Claims, WriteId, check_table};

/// The file whose existence tells submitters to stop.
const STOP_FILE: &str = "stop";

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        let base = base_dir();
        match role.as_str() {
            "submitter" => child_submitter(&base),
            "drainer" => child_drainer(&base),
            "apply_then_stall" => child_apply_then_stall(&base),
            other => panic!("unknown child role {other}"),
        }
        return ExitCode::SUCCESS;
    }
    let mut runner = Runner::from_args();
    let server = TestServer::find("multiprocess_writer on pg");
    let pg_run = server.as_ref().map(|server| server.run("table_writer"));
    let mut stores = vec![Store::Fs];
    stores.extend(pg_run.iter().map(|run| Store::Pg(run.namespace())));
    for store in &stores {
        for mode in [Mode::PerWrite, Mode::Batch] {
            // Each scenario in a namespace of its own (pg).
            let fresh = || match (store, &pg_run) {
                (Store::Pg(_), Some(run)) => Store::Pg(run.namespace()),
                _ => Store::Fs,
            };
            let on = (fresh(), mode);
            runner.run(
                &format!("random_sigkills_lose_nothing_{mode}_{store}"),
                move || random_sigkills_lose_nothing(on),
            );
            let on = (fresh(), mode);
            runner.run(
                &format!("sigkill_after_rows_before_record_{mode}_{store}"),
                move || sigkill_after_rows_before_record(on),
            );
            let on = (fresh(), mode);
            runner.run(
                &format!("sigkill_between_apply_and_remove_{mode}_{store}"),
                move || sigkill_between_apply_and_remove(on),
            );
        }
    }
    runner.finish()
}

/// Submits writes `writer.incarnation.0`, `.1`, ... until the stop file
/// appears, printing `TRY id` before and `ACK id applied|queued` after.
fn child_submitter(base: &Path) {
    with_backend!(&Store::from_params(), base, backend => submit_until_stopped(base, backend));
}

fn submit_until_stopped<B: Backend>(base: &Path, backend: B) {
    let (writer_no, incarnation, mode) = (
        param_as("writer"),
        param_as("incarnation"),
        Mode::from_param(),
    );
    let coordinator = WriteCoordinator::new(backend);
    let writer = TableWriter::new(base, TABLE).unwrap();
    for seq in 0.. {
        if base.join(STOP_FILE).exists() {
            return;
        }
        let id = WriteId {
            writer: writer_no,
            incarnation,
            seq,
        };
        let mut write = id.write(0);
        tell_parent(&format!("TRY {id}"));
        let outcome = loop {
            match mode.submit(&coordinator, &writer, write) {
                Ok(outcome) => break outcome,
                Err(error) if error.is_queue_full() || error.is_queue_busy() => {
                    write = error.into_write().unwrap();
                    thread::sleep(Duration::from_millis(1));
                }
                Err(error) => panic!("write {id}: {error}"),
            }
        };
        let how = match outcome {
            SubmitOutcome::Applied { .. } => "applied",
            SubmitOutcome::Queued(_) => "queued",
        };
        tell_parent(&format!("ACK {id} {how}"));
    }
}

fn spawn_submitter(base: &Path, writer: u32, incarnation: u32, (store, mode): &On) -> ChildProcess {
    let params = format!(
        "writer={writer},incarnation={incarnation},mode={mode},{}",
        store.params()
    );
    ChildProcess::spawn("submitter", base, &params).expect("start a submitter")
}

/// A scenario's store and path.
type On = (Store, Mode);

/// Drains and checks a table after a run, as a service does at start-up;
/// returns its committed lines.
fn start_up_drain_and_read<B: Backend>(
    base: &Path,
    backend: B,
    mode: Mode,
) -> Result<Vec<String>, String> {
    let coordinator = WriteCoordinator::new(backend);
    let report = match mode {
        Mode::PerWrite => coordinator.drain_all(PATIENCE, |table, key, write| {
            TableWriter::new(base, table)?.apply(key, write)
        }),
        Mode::Batch => coordinator.drain_all_batch(PATIENCE, |table, batch| {
            TableWriter::new(base, table)?.apply_batch(batch)
        }),
    }
    .map_err(|e| e.to_string())?;
    assert!(
        report.failed.is_empty(),
        "start-up drain failed: {:?}",
        report.failed
    );
    assert_eq!(coordinator.backend().count_pending(TABLE).unwrap(), 0);
    let writer = TableWriter::new(base, TABLE).unwrap();
    {
        // A kill may have left rows without their record while nothing was
        // queued (so the drain applied nothing): repair under the lock.
        let _lock = coordinator.backend().acquire_lock(TABLE, PATIENCE).unwrap();
        writer.recover().unwrap();
    }
    let lines = writer.committed_lines().unwrap();
    let whole: String = lines.iter().map(|line| format!("{line}\n")).collect();
    let raw = fs::read_to_string(writer.table_path()).unwrap();
    assert_eq!(
        raw, whole,
        "the table file holds exactly its committed rows"
    );
    Ok(lines)
}

fn rollbacks(base: &Path) -> usize {
    let writer = TableWriter::new(base, TABLE).unwrap();
    let kept = fs::read_to_string(writer.discarded_path()).unwrap_or_default();
    kept.lines().filter(|line| line.starts_with("# ")).count()
}

fn random_sigkills_lose_nothing(on: On) -> Outcome {
    let mode = on.1;
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    let mut rng = Rng::from_env_or_clock();
    let (writers, kills) = (4u32, 20);
    let mut claims = Claims::default();
    let mut queued = 0;
    let mut take_in = |claims: &mut Claims, lines: Vec<String>| {
        queued += lines
            .iter()
            .filter(|line| line.ends_with(" queued"))
            .count();
        claims.add_lines(&lines);
    };
    let mut slots: Vec<(u32, Option<ChildProcess>)> = (0..writers)
        .map(|writer| (0, Some(spawn_submitter(base, writer, 0, &on))))
        .collect();
    for _ in 0..kills {
        thread::sleep(Duration::from_millis(rng.below(10, 80)));
        let writer = rng.below(0, u64::from(writers)) as u32;
        let slot = &mut slots[writer as usize];
        let child = slot.1.take().unwrap();
        take_in(&mut claims, child.kill_and_collect(PATIENCE)?);
        slot.0 += 1;
        slot.1 = Some(spawn_submitter(base, writer, slot.0, &on));
    }
    thread::sleep(Duration::from_millis(100));
    fs::write(base.join(STOP_FILE), "").unwrap();
    for (_, child) in slots {
        take_in(&mut claims, child.unwrap().finish(PATIENCE)?);
    }
    let lines = with_backend!(&on.0, base, b => start_up_drain_and_read(base, b, mode))?;
    let writes = check_table(&lines, &claims)?;
    assert!(
        queued > 0,
        "no write took the queue path; the run proved little"
    );
    println!(
        "  {mode} on {}: {kills} SIGKILLs, {} writes acknowledged ({queued} of them queued), \
         {writes} in the table, {} rollbacks of uncommitted rows",
        on.0,
        claims.acked.len(),
        rollbacks(base)
    );
    Ok(())
}

fn child_drainer(base: &Path) {
    let options = CoordinatorOptions::new().max_batch(3);
    with_backend!(&Store::from_params(), base, backend => {
        let coordinator = WriteCoordinator::with_options(backend, options);
        let writer = TableWriter::new(base, TABLE).unwrap();
        Mode::from_param().drain(&coordinator, &writer).unwrap();
    });
}

/// Big writes (two rows of about 16 KB), so that writing and syncing a
/// step's rows takes long enough for the parent to see them uncommitted.
const BIG_PAD: usize = 16_000;

fn sigkill_after_rows_before_record(on: On) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    with_backend!(&on.0, base, backend => rows_before_record(base, backend, on.clone()))
}

fn rows_before_record<B: Backend>(base: &Path, backend: B, (store, mode): On) -> Outcome {
    let mut ids: Vec<WriteId> = Vec::new();
    let watcher = TableWriter::new(base, TABLE).unwrap();
    let mut caught = false;
    for _attempt in 0..40 {
        // Keep the drainers busy: top the queue up when it runs low.
        while backend.count_pending(TABLE).unwrap() < 20 {
            let seq = ids.len() as u32;
            let id = WriteId {
                writer: 0,
                incarnation: 0,
                seq,
            };
            backend.queue_write(TABLE, &id.write(BIG_PAD)).unwrap();
            ids.push(id);
        }
        let params = format!("mode={mode},{}", store.params());
        let mut child = ChildProcess::spawn("drainer", base, &params)?;
        while watcher.status().unwrap().uncommitted_len() == 0 && !child.has_exited() {
            thread::yield_now();
        }
        child.kill()?;
        if watcher.status().unwrap().uncommitted_len() > 0 {
            caught = true;
            break;
        }
    }
    assert!(
        caught,
        "no SIGKILL landed between a step's rows and its record in 40 tries"
    );
    let writer = TableWriter::new(base, TABLE).unwrap();
    mode.drain(&WriteCoordinator::new(&backend), &writer)
        .unwrap();
    let stats = writer.stats();
    assert_eq!(stats.repairs, 1, "{stats:?}");
    assert!(stats.discarded_bytes > 0, "{stats:?}");
    assert_eq!(rollbacks(base), 1);
    let claims = Claims {
        tried: ids.iter().copied().collect(),
        acked: ids.iter().copied().collect(),
    };
    let lines = writer.committed_lines().unwrap();
    assert_eq!(
        check_table(&lines, &claims)?,
        ids.len(),
        "every queued write once"
    );
    let expected: Vec<String> = ids
        .iter()
        .flat_map(|id| id.write(BIG_PAD).rows)
        .map(|row| row.to_csv())
        .collect();
    assert!(
        lines == expected,
        "the table is not the queue's writes in queue order"
    );
    Ok(())
}

/// Drains with the writer, tells the parent once a step returned `Ok`, and
/// stalls before the coordinator can remove the entries.
fn child_apply_then_stall(base: &Path) {
    with_backend!(&Store::from_params(), base, backend => apply_then_stall(base, backend));
}

fn apply_then_stall<B: Backend>(base: &Path, backend: B) {
    let coordinator = WriteCoordinator::new(backend);
    let writer = TableWriter::new(base, TABLE).unwrap();
    let stall = || {
        tell_parent("APPLIED");
        thread::sleep(PATIENCE);
    };
    let _ = match Mode::from_param() {
        Mode::PerWrite => coordinator.drain(TABLE, PATIENCE, |key, write| {
            writer.apply(key, write)?;
            stall();
            Ok(())
        }),
        Mode::Batch => coordinator.drain_batch(TABLE, PATIENCE, |batch| {
            writer.apply_batch(batch)?;
            stall();
            Ok(())
        }),
    };
    panic!("the parent should have killed this child");
}

fn sigkill_between_apply_and_remove(on: On) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path();
    with_backend!(&on.0, base, backend => apply_and_remove(base, backend, on.clone()))
}

fn apply_and_remove<B: Backend>(base: &Path, backend: B, (store, mode): On) -> Outcome {
    let ids: Vec<WriteId> = (0..3)
        .map(|seq| WriteId {
            writer: 0,
            incarnation: 0,
            seq,
        })
        .collect();
    for id in &ids {
        backend.queue_write(TABLE, &id.write(0)).unwrap();
    }
    let params = format!("mode={mode},{}", store.params());
    let mut child = ChildProcess::spawn("apply_then_stall", base, &params)?;
    child.wait_for_line(PATIENCE, |line| line == "APPLIED")?;
    child.kill()?;
    assert_eq!(
        backend.count_pending(TABLE).unwrap(),
        3,
        "nothing was removed"
    );
    let writer = TableWriter::new(base, TABLE).unwrap();
    let drained = mode
        .drain(&WriteCoordinator::new(&backend), &writer)
        .unwrap();
    assert_eq!(drained, 3);
    let applied_before_kill = match mode {
        Mode::PerWrite => 1,
        Mode::Batch => 3,
    };
    let stats = writer.stats();
    assert_eq!(stats.replays_skipped, applied_before_kill, "{stats:?}");
    assert_eq!(stats.repairs, 0, "the killed step had committed: {stats:?}");
    let claims = Claims {
        tried: ids.iter().copied().collect(),
        acked: ids.iter().copied().collect(),
    };
    assert_eq!(check_table(&writer.committed_lines().unwrap(), &claims)?, 3);
    Ok(())
}
