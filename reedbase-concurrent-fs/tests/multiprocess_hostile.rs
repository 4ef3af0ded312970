// SPDX-License-Identifier: Apache-2.0
//! The fs backend against stopped, greedy and dying processes, across real
//! processes. This binary re-runs itself as child processes (role in
//! `REEDBASE_TEST_CHILD`, see `support`), so it has its own `main` instead
//! of libtest's.
//!
//! - a producer stopped with SIGSTOP while it holds the producers' lock
//!   makes another producer, and a coordinator's `submit` with a 100 ms
//!   timeout, give up within a bound (`QueueBusy`, nothing written, the
//!   write handed back) instead of waiting for as long as it stays stopped,
//!   even with `.queue.lock` deleted meanwhile;
//! - a 200 MB entry is moved aside without being read: the peak memory of
//!   the process reading the queue grows by a few MiB, not 200 MB;
//! - the count of failed applies recorded by one process survives it, and
//!   the dead-letter policy of another process acts on it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use reedbase_concurrent_test_support as support;

use std::fs;
use std::process::{Command, ExitCode};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{
    CoordinatorOptions, CsvRow, DeadLetterPolicy, LockBackend, PendingWrite, QueueBackend,
    WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_fs::{Durability, FsBackend, FsOptions, get_next_pending, moved_aside};
use support::{ChildProcess, Runner, base_dir, child_role, param, tell_parent};

const TABLE: &str = "orders";
/// No wait in this file is longer than this; a hang is a failure.
const PATIENCE: Duration = Duration::from_secs(60);
/// The bound asserted for a wait that should end after the producers'
/// 250 ms: wide, so that a loaded machine does not fail it, and far below
/// "as long as the producer stays stopped".
const BOUNDED: Duration = Duration::from_secs(5);

type Outcome = Result<(), String>;

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        run_child(&role);
        return ExitCode::SUCCESS;
    }
    let mut runner = Runner::from_args();
    runner.run(
        "a_stopped_producer_holds_up_others_only_for_a_bounded_time",
        stopped_producer,
    );
    runner.run(
        "a_200_mb_entry_is_moved_aside_without_being_read",
        huge_entry,
    );
    runner.run(
        "failed_applies_counted_by_one_process_survive_it",
        failed_applies_survive,
    );
    runner.finish()
}

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, vec!["v"])])
}

fn relaxed() -> FsOptions {
    FsOptions::new().durability(Durability::Relaxed)
}

fn run_child(role: &str) {
    let base = base_dir();
    match role {
        "produce_forever" => {
            let backend = FsBackend::with_options(&base, relaxed().capacity(50));
            tell_parent("started");
            loop {
                // Past 50 entries every call is refused, still under the lock.
                let _ = backend.queue_write(TABLE, &write("child"));
            }
        }
        "read_huge" => {
            let queue = base.join("tables").join(TABLE).join("queue");
            fs::create_dir_all(&queue).unwrap();
            let huge = queue.join("00000000000000000000-0123456789abcdef0123456789abcdef.pending");
            fs::File::create(&huge).unwrap().set_len(200 << 20).unwrap();
            let good = FsBackend::with_options(&base, relaxed())
                .queue_write(TABLE, &write("good"))
                .unwrap();
            let before = peak_kib();
            let next = get_next_pending(&base, TABLE).unwrap().map(|(id, _)| id);
            let after = peak_kib();
            tell_parent(&format!("{before} {after} {}", next == Some(good)));
        }
        "fail_twice" => {
            let backend = FsBackend::new(&base);
            let id = param("id", "");
            let first = backend.record_failed_apply(TABLE, &id).unwrap();
            let second = backend.record_failed_apply(TABLE, &id).unwrap();
            tell_parent(&format!("{first} {second}"));
        }
        other => panic!("unknown child role {other}"),
    }
}

/// The peak resident memory of this process (VmHWM), in KiB.
fn peak_kib() -> u64 {
    let status = fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Sends `signal` (`STOP`, `CONT`) to `pid`.
fn signal(pid: u32, signal: &str) -> Outcome {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status();
    match status {
        Ok(status) if status.success() => Ok(()),
        other => Err(format!("kill -{signal} {pid}: {other:?}")),
    }
}

/// True when `pid` holds an exclusive `flock` (`/proc/locks`): the child
/// producer holds nothing else, so that is the producers' lock.
fn holds_exclusive_flock(pid: u32, inode: u64) -> bool {
    let locks = fs::read_to_string("/proc/locks").unwrap_or_default();
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        fields.len() > 5
            && fields[1] == "FLOCK"
            && fields[3] == "WRITE"
            && fields[4] == pid.to_string()
            && fields[5].rsplit(':').next() == Some(inode.to_string().as_str())
    })
}

/// Runs `call` on a thread and returns its result and how long it took, or
/// fails if it takes longer than [`PATIENCE`].
fn timed<T: Send + 'static>(
    what: &str,
    call: impl FnOnce() -> T + Send + 'static,
) -> Result<(T, Duration), String> {
    let (done, result) = mpsc::channel();
    thread::spawn(move || {
        let started = Instant::now();
        let value = call();
        let _ = done.send((value, started.elapsed()));
    });
    result
        .recv_timeout(PATIENCE)
        .map_err(|_| format!("{what} did not return within {PATIENCE:?}"))
}

fn stopped_producer() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_path_buf();
    let mut child = ChildProcess::spawn("produce_forever", &base, "")?;
    child.expect_line("started", PATIENCE)?;
    let pid = child.pid();
    // The producers' lock is the queue directory's flock (a producer also
    // holds one on its own temporary while it writes it, outside the lock).
    let queue_dir = base.join("tables").join(TABLE).join("queue");
    support::wait_until(PATIENCE, || queue_dir.is_dir());
    let inode = {
        use std::os::unix::fs::MetadataExt as _;
        fs::metadata(&queue_dir)
            .map_err(|e| format!("{}: {e}", queue_dir.display()))?
            .ino()
    };
    let mut caught = false;
    for _ in 0..2_000 {
        signal(pid, "STOP")?;
        thread::sleep(Duration::from_millis(2));
        if holds_exclusive_flock(pid, inode) {
            caught = true;
            break;
        }
        signal(pid, "CONT")?;
        thread::sleep(Duration::from_millis(1));
    }
    if !caught {
        return Err("never caught the child producer holding the producers' lock".to_string());
    }
    let pending = FsBackend::new(&base)
        .count_pending(TABLE)
        .map_err(|e| e.to_string())?;
    // Deleting a lock file must not let a second producer in either (the
    // old code's producers' lock was `.queue.lock`, whose replacement a new
    // producer could lock at once).
    let queue_lock = base
        .join("tables")
        .join(TABLE)
        .join("queue")
        .join(".queue.lock");
    match fs::remove_file(&queue_lock) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("deleting {}: {e}", queue_lock.display())),
    }

    let producer_base = base.clone();
    let (outcome, took) = timed("queue_write", move || {
        FsBackend::new(&producer_base).queue_write(TABLE, &write("mine"))
    })?;
    println!("    queue_write gave up after {took:?}");
    let refused = outcome
        .err()
        .ok_or("queue_write succeeded past a stopped holder")?;
    if !refused.is_queue_busy() || took > BOUNDED {
        return Err(format!(
            "expected QueueBusy within {BOUNDED:?}, got {refused} after {took:?}"
        ));
    }

    // A coordinator whose lock wait times out (this thread holds the lock)
    // queues, and the queue is held by the stopped producer.
    let holder = FsBackend::new(&base);
    let _table_lock = holder
        .acquire_lock(TABLE, PATIENCE)
        .map_err(|e| e.to_string())?;
    let coordinator = WriteCoordinator::new(FsBackend::new(&base));
    let submitted = write("submitted");
    let handed = submitted.clone();
    let (outcome, took) = timed("submit", move || {
        coordinator.submit(TABLE, handed, Duration::from_millis(100), |_, _| Ok(()))
    })?;
    println!("    submit(100 ms) handed the write back after {took:?}");
    let error = outcome.err().ok_or("submit succeeded")?;
    if !error.is_queue_busy() || error.handed_back() != Some(&submitted) || took > BOUNDED {
        return Err(format!(
            "expected QueueBusy with the write handed back within {BOUNDED:?}, got {error} after {took:?}"
        ));
    }
    let now = FsBackend::new(&base)
        .count_pending(TABLE)
        .map_err(|e| e.to_string())?;
    if now != pending {
        return Err(format!(
            "{pending} entries before, {now} after: something was written"
        ));
    }
    child.kill()?;
    let after = FsBackend::new(&base).queue_write(TABLE, &write("after"));
    match after {
        Ok(_) => Ok(()),
        Err(e) if e.is_queue_full() => Ok(()),
        Err(e) => Err(format!("once the holder is gone, queue_write gave {e}")),
    }
}

fn huge_entry() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let child = ChildProcess::spawn("read_huge", dir.path(), "")?;
    let lines = child.finish(PATIENCE)?;
    let fields: Vec<&str> = lines.last().ok_or("no output")?.split(' ').collect();
    let (before, after): (u64, u64) = (fields[0].parse().unwrap(), fields[1].parse().unwrap());
    println!("    peak memory {before} KiB before reading, {after} KiB after");
    if fields[2] != "true" {
        return Err("the good entry behind the huge one was not delivered".to_string());
    }
    if after > before + 8 * 1024 {
        return Err(format!(
            "peak memory grew by {} KiB reading one entry",
            after - before
        ));
    }
    let moved = moved_aside(dir.path(), TABLE).map_err(|e| e.to_string())?;
    match moved.first() {
        Some(m) if m.reason.contains("larger than the limit") => Ok(()),
        other => Err(format!(
            "expected it moved aside as too large, got {other:?}"
        )),
    }
}

fn failed_applies_survive() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    let id = backend
        .queue_write(TABLE, &write("stubborn"))
        .map_err(|e| e.to_string())?;
    let child = ChildProcess::spawn("fail_twice", dir.path(), &format!("id={id}"))?;
    let lines = child.finish(PATIENCE)?;
    if lines.last().map(String::as_str) != Some("1 2") {
        return Err(format!("the child counted {lines:?}"));
    }
    // The child is gone; its count is not.
    let options = CoordinatorOptions::new().dead_letters(DeadLetterPolicy::MoveAsideAfter(4));
    let coordinator = WriteCoordinator::with_options(FsBackend::new(dir.path()), options);
    let failing = |_: reedbase_concurrent_core::ApplyKey<'_>, _: &PendingWrite| {
        Err("table file locked".into())
    };
    let error = coordinator.drain(TABLE, PATIENCE, failing).unwrap_err();
    if error.attempts() != Some(3) {
        return Err(format!(
            "third failure counted as {:?}: {error}",
            error.attempts()
        ));
    }
    let drained = coordinator
        .drain(TABLE, PATIENCE, failing)
        .map_err(|e| e.to_string())?;
    let moved = backend.moved_aside(TABLE).map_err(|e| e.to_string())?;
    let dead = moved
        .iter()
        .any(|m| m.id == id && m.reason.starts_with("dead letter"));
    if drained != 0 || !dead || backend.count_pending(TABLE).map_err(|e| e.to_string())? != 0 {
        return Err(format!(
            "after the fourth failure: drained {drained}, moved aside {moved:?}"
        ));
    }
    Ok(())
}
