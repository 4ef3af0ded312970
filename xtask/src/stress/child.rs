// SPDX-License-Identifier: Apache-2.0
//! A stress child: submits numbered writes through the coordinator until a
//! deadline, printing `ACK writer seq` for each one `submit` accepted.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reedbase_concurrent_core::{ApplyKey, CsvRow, PendingWrite, WriteCoordinator, WriteOperation};
use reedbase_concurrent_fs::{FsBackend, FsOptions};

use super::TABLE;

/// Wall-clock nanoseconds, comparable across processes.
pub(crate) fn wall_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

pub(crate) fn table_path(base: &Path) -> PathBuf {
    base.join("table.csv")
}

pub(crate) fn events_path(base: &Path) -> PathBuf {
    base.join("events.log")
}

pub(crate) fn backend(base: &Path, capacity: usize) -> FsBackend {
    FsBackend::with_options(base, FsOptions::new().capacity(capacity))
}

fn append(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    // One write call on an O_APPEND file: a SIGKILL cannot tear it.
    file.write_all(text.as_bytes())
}

/// As [`append`], then fsyncs the table, as a real table writer would: it
/// also keeps the lock for a realistic time, so that writers contend and
/// many writes take the queue path.
fn append_durably(path: &Path, text: &str) -> std::io::Result<()> {
    let mut file = OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(text.as_bytes())?;
    file.sync_data()
}

/// The table writer every process uses: marks the event log, appends the
/// rows with the applier's pid and the write's key, marks the log again.
pub(crate) fn apply(base: &Path, key: ApplyKey<'_>, write: &PendingWrite) -> std::io::Result<()> {
    let pid = std::process::id();
    append(&events_path(base), &format!("B {pid} {}\n", wall_nanos()))?;
    let id = key.queue_id().unwrap_or("direct");
    let mut lines = String::new();
    for row in &write.rows {
        lines.push_str(&format!(
            "{}|{}|{pid}|{id}\n",
            row.key,
            row.values.join("|")
        ));
    }
    append_durably(&table_path(base), &lines)?;
    append(&events_path(base), &format!("E {pid} {}\n", wall_nanos()))
}

struct ChildArgs {
    base: PathBuf,
    writer: u64,
    capacity: usize,
    until: u128,
}

fn parse(args: &[String]) -> Result<ChildArgs, String> {
    let mut parsed = ChildArgs {
        base: PathBuf::new(),
        writer: 0,
        capacity: 0,
        until: 0,
    };
    for pair in args.chunks(2) {
        let [flag, value] = pair else {
            return Err(format!("stress child: odd arguments {args:?}"));
        };
        let bad = |_| format!("stress child: bad value for {flag}: {value:?}");
        match flag.as_str() {
            "--base" => parsed.base = PathBuf::from(value),
            "--writer" => parsed.writer = value.parse().map_err(bad)?,
            "--capacity" => parsed.capacity = value.parse().map_err(bad)?,
            "--until" => parsed.until = value.parse().map_err(bad)?,
            other => return Err(format!("stress child: unknown option {other:?}")),
        }
    }
    Ok(parsed)
}

pub(crate) fn run(args: &[String]) -> Result<(), String> {
    let args = parse(args)?;
    let coordinator = WriteCoordinator::new(backend(&args.base, args.capacity));
    let base = args.base.as_path();
    let stdout = std::io::stdout();
    let mut seq: u64 = 0;
    while wall_nanos() < args.until {
        let row = CsvRow::new(
            format!("w{}-{seq}", args.writer),
            vec![args.writer.to_string(), seq.to_string()],
        );
        let mut write = PendingWrite::new(WriteOperation::Insert, vec![row]);
        // Vary the timeout so that both paths (lock and queue) are taken.
        let timeout = Duration::from_millis(seq % 3);
        loop {
            let outcome =
                coordinator.submit(TABLE, write, timeout, |key, w| Ok(apply(base, key, w)?));
            match outcome {
                Ok(_) => break,
                Err(error) if error.is_queue_full() => {
                    write = error.into_write().ok_or("a refused write is handed back")?;
                    thread::sleep(Duration::from_millis(1));
                }
                Err(error) => {
                    return Err(format!("writer {}: submit failed: {error}", args.writer));
                }
            }
        }
        let mut out = stdout.lock();
        writeln!(out, "ACK {} {seq}", args.writer)
            .and_then(|()| out.flush())
            .map_err(|e| format!("stdout: {e}"))?;
        seq += 1;
    }
    Ok(())
}
