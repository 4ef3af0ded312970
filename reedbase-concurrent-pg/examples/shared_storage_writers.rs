// SPDX-License-Identifier: Apache-2.0
//! Several processes, standing for several hosts, append rows to one
//! pipe-delimited CSV table on shared storage through the
//! [`WriteCoordinator`] on the PostgreSQL backend; then the table is
//! checked: no torn line, no lost row, no duplicate, each writer's rows in
//! its own order.
//!
//! ```sh
//! cargo run -p reedbase-concurrent-pg --example shared_storage_writers
//! cargo run -p reedbase-concurrent-pg --example shared_storage_writers -- --writers 8 --rows 100 \
//!     --dir /mnt/shared/base --url postgresql://app@db.example.org/reedbase
//! ```
//!
//! The server is `--url`, else `REEDBASE_PG_URL`, else the local server
//! (the writers connect to it over TCP, as other hosts would). Unless
//! `--namespace` names one, the run uses a fresh namespace and removes it at
//! the end.
//!
//! # What a table writer does under the pg lock
//!
//! The lock orders the writers; the table file lives on shared storage (a
//! network file system), which promises close-to-open consistency and no
//! more: a host sees another host's writes to a file if the writer closed
//! the file before the reader opened it. So `apply`, which runs while the
//! coordinator holds the lock:
//!
//! 1. opens the table only now, after the lock was taken (never a handle
//!    kept from before: its cached pages may predate the last holder's
//!    writes);
//! 2. refuses to write if the lock's fencing token is lower than the
//!    highest token the table has seen (a holder whose lock was lost and
//!    taken over);
//! 3. skips rows whose keys are already in the table (delivery is at least
//!    once: a queued write interrupted between apply and removal is applied
//!    again);
//! 4. appends, fsyncs and closes the table, and records the token the same
//!    way, before it returns, that is before the lock is released.

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::fs::{self, File, OpenOptions};
use std::io::{ErrorKind, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{
    ApplyError, ApplyKey, CsvRow, PendingWrite, SubmitOutcome, WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_pg::PgBackend;
use reedbase_concurrent_pg::testing::TestServer;

const TABLE: &str = "users";

type AnyResult<T> = Result<T, Box<dyn Error>>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("shared_storage_writers: {error}");
            ExitCode::FAILURE
        }
    }
}

#[derive(Default)]
struct Options {
    writers: usize,
    rows: usize,
    dir: Option<PathBuf>,
    url: Option<String>,
    namespace: Option<String>,
    writer: Option<usize>,
}

fn parse_options() -> AnyResult<Options> {
    let mut options = Options {
        writers: 4,
        rows: 50,
        ..Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--writers" => options.writers = value.parse()?,
            "--rows" => options.rows = value.parse()?,
            "--dir" => options.dir = Some(PathBuf::from(value)),
            "--url" => options.url = Some(value),
            "--namespace" => options.namespace = Some(value),
            "--writer" => options.writer = Some(value.parse()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(options)
}

fn run() -> AnyResult<()> {
    let options = parse_options()?;
    if let Some(writer) = options.writer {
        let (Some(dir), Some(url), Some(namespace)) =
            (&options.dir, &options.url, &options.namespace)
        else {
            return Err("--writer needs --dir, --url and --namespace".into());
        };
        return run_writer(dir, url, namespace, writer, options.rows);
    }
    let server = match &options.url {
        Some(_) => None,
        None => Some(TestServer::find("shared_storage_writers").ok_or("no PostgreSQL server")?),
    };
    let url = options
        .url
        .clone()
        .or_else(|| server.as_ref().map(|server| server.tcp_url().to_string()))
        .ok_or("no server URL")?;
    let namespace = options
        .namespace
        .clone()
        .unwrap_or_else(|| format!("shared_storage_writers_{}", std::process::id()));
    let result = match &options.dir {
        Some(dir) => run_all_writers(dir, &url, &namespace, &options),
        None => {
            let dir = tempfile::tempdir()?;
            run_all_writers(dir.path(), &url, &namespace, &options)
        }
    };
    if options.namespace.is_none() {
        PgBackend::connect(&url, &namespace)?.drop_namespace()?;
    }
    result
}

fn table_path(base: &Path) -> PathBuf {
    base.join(format!("{TABLE}.csv"))
}

fn fence_path(base: &Path) -> PathBuf {
    base.join(format!("{TABLE}.csv.fence"))
}

/// Reads a file opened now (close-to-open), or "" if it does not exist.
fn read_fresh(path: &Path) -> std::io::Result<String> {
    match fs::read_to_string(path) {
        Ok(content) => Ok(content),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(String::new()),
        Err(error) => Err(error),
    }
}

/// Applies one write under the table's pg lock; see the module docs.
fn apply_to_table(base: &Path, key: ApplyKey<'_>, write: &PendingWrite) -> Result<(), ApplyError> {
    let token = key
        .fencing_token()
        .ok_or("the pg backend hands out fencing tokens")?;
    let highest: u64 = read_fresh(&fence_path(base))?.trim().parse().unwrap_or(0);
    if token < highest {
        return Err(format!(
            "stale lock holder: fencing token {token} < {highest} seen by the table"
        )
        .into());
    }
    let content = read_fresh(&table_path(base))?;
    let keys: HashSet<&str> = content
        .lines()
        .filter_map(|line| line.split('|').next())
        .collect();
    let mut lines = String::new();
    for row in write
        .rows
        .iter()
        .filter(|row| !keys.contains(row.key.as_str()))
    {
        lines.push_str(&row.to_csv());
        lines.push('\n');
    }
    let mut table = OpenOptions::new()
        .create(true)
        .append(true)
        .open(table_path(base))?;
    table.write_all(lines.as_bytes())?;
    table.sync_all()?;
    drop(table);
    let mut fence = File::create(fence_path(base))?;
    fence.write_all(format!("{token}\n").as_bytes())?;
    fence.sync_all()?;
    Ok(())
}

/// One writer process: submits `rows` rows, one write each, in order.
fn run_writer(
    base: &Path,
    url: &str,
    namespace: &str,
    writer: usize,
    rows: usize,
) -> AnyResult<()> {
    let coordinator = WriteCoordinator::new(PgBackend::connect(url, namespace)?);
    let apply = |key: ApplyKey<'_>, write: &PendingWrite| apply_to_table(base, key, write);
    let (mut applied, mut queued) = (0, 0);
    for seq in 0..rows {
        let row = CsvRow::new(
            format!("w{writer}-{seq:05}"),
            [writer.to_string(), seq.to_string()],
        );
        let mut write = PendingWrite::new(WriteOperation::Insert, vec![row]);
        loop {
            match coordinator.submit(TABLE, write, Duration::from_millis(1), apply) {
                Ok(SubmitOutcome::Applied { .. }) => applied += 1,
                Ok(SubmitOutcome::Queued(_)) => queued += 1,
                Err(error) if error.is_queue_full() || error.is_queue_busy() => {
                    write = error.into_write().ok_or("a refused write is handed back")?;
                    thread::sleep(Duration::from_millis(2));
                    continue;
                }
                Err(error) => return Err(error.into()),
            }
            break;
        }
    }
    println!("writer {writer}: {applied} applied under the lock, {queued} queued");
    Ok(())
}

fn run_all_writers(base: &Path, url: &str, namespace: &str, options: &Options) -> AnyResult<()> {
    let exe = std::env::current_exe()?;
    let started = Instant::now();
    let children = (0..options.writers)
        .map(|writer| {
            Command::new(&exe)
                .args([
                    "--writer",
                    &writer.to_string(),
                    "--rows",
                    &options.rows.to_string(),
                ])
                .args(["--url", url, "--namespace", namespace])
                .arg("--dir")
                .arg(base)
                .spawn()
        })
        .collect::<Result<Vec<_>, _>>()?;
    for mut child in children {
        let status = child.wait()?;
        if !status.success() {
            return Err(format!("a writer process failed: {status}").into());
        }
    }
    // Writes queued after the last lock holder released are applied here.
    let coordinator = WriteCoordinator::new(PgBackend::connect(url, namespace)?);
    let drained = coordinator
        .drain(TABLE, Duration::from_secs(10), |key, write| {
            apply_to_table(base, key, write)
        })
        .map_err(|error| error.to_string())?;
    let rows = verify_table(&table_path(base), options.writers, options.rows)?;
    println!(
        "{} writers x {} rows: {rows} rows in {}, {drained} drained at the end, {:.0?}",
        options.writers,
        options.rows,
        table_path(base).display(),
        started.elapsed()
    );
    println!("verified: no torn line, no lost row, no duplicate, every writer's rows in order");
    Ok(())
}

/// Checks the table; returns its number of rows.
fn verify_table(path: &Path, writers: usize, rows: usize) -> AnyResult<usize> {
    let content = fs::read_to_string(path)?;
    if !content.is_empty() && !content.ends_with('\n') {
        return Err("the table does not end with a line break (torn last line)".into());
    }
    let mut next_seq: BTreeMap<usize, usize> = BTreeMap::new();
    for (number, line) in content.lines().enumerate() {
        let fields: Vec<&str> = line.split('|').collect();
        let [key, writer, seq] = fields[..] else {
            return Err(format!("line {}: torn or malformed: {line:?}", number + 1).into());
        };
        let (writer, seq): (usize, usize) = (writer.parse()?, seq.parse()?);
        if key != format!("w{writer}-{seq:05}") {
            return Err(format!(
                "line {}: key does not match its fields: {line:?}",
                number + 1
            )
            .into());
        }
        let expected = next_seq.entry(writer).or_insert(0);
        if seq != *expected {
            return Err(format!(
                "line {}: writer {writer} row {seq} where row {expected} was due (lost, duplicated or out of order)",
                number + 1
            )
            .into());
        }
        *expected += 1;
    }
    for writer in 0..writers {
        let written = next_seq.get(&writer).copied().unwrap_or(0);
        if written != rows {
            return Err(format!("writer {writer}: {written} of {rows} rows in the table").into());
        }
    }
    Ok(content.lines().count())
}
