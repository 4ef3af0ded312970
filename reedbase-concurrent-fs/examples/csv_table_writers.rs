// SPDX-License-Identifier: Apache-2.0
//! Several processes append rows to one pipe-delimited CSV table through the
//! [`WriteCoordinator`] on the file-system backend; then the table is
//! checked: no torn line, no lost row, each writer's rows in its own order.
//!
//! ```sh
//! cargo run -p reedbase-concurrent-fs --example csv_table_writers
//! cargo run -p reedbase-concurrent-fs --example csv_table_writers -- --writers 8 --rows 100
//! ```
//!
//! Each writer process submits its rows with a 1 ms lock timeout, so many
//! writes take the queue path and are applied, in order, by whichever
//! process takes the lock next. The table is rewritten through a temporary
//! file and a rename under the table's lock, so a reader (or a crash) never
//! sees half a table. Delivery is at least once, so applying a write is made
//! idempotent: a row whose key is already in the table is not added again.

use std::collections::{BTreeMap, HashSet};
use std::error::Error;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{
    ApplyError, ApplyKey, CsvRow, PendingWrite, SubmitOutcome, WriteCoordinator, WriteOperation,
};
use reedbase_concurrent_fs::FsBackend;

const TABLE: &str = "users";

type AnyResult<T> = Result<T, Box<dyn Error>>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("csv_table_writers: {error}");
            ExitCode::FAILURE
        }
    }
}

struct Options {
    writers: usize,
    rows: usize,
    dir: Option<PathBuf>,
    writer: Option<usize>,
}

fn parse_options() -> AnyResult<Options> {
    let mut options = Options {
        writers: 4,
        rows: 50,
        dir: None,
        writer: None,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--writers" => options.writers = value.parse()?,
            "--rows" => options.rows = value.parse()?,
            "--dir" => options.dir = Some(PathBuf::from(value)),
            "--writer" => options.writer = Some(value.parse()?),
            other => return Err(format!("unknown option {other}").into()),
        }
    }
    Ok(options)
}

fn run() -> AnyResult<()> {
    let options = parse_options()?;
    match (options.writer, &options.dir) {
        (Some(writer), Some(dir)) => run_writer(dir, writer, options.rows),
        (Some(_), None) => Err("--writer needs --dir".into()),
        (None, Some(dir)) => run_all_writers(dir, &options),
        (None, None) => {
            let dir = tempfile::tempdir()?;
            run_all_writers(dir.path(), &options)
        }
    }
}

/// The table file that `apply` rewrites.
fn table_path(base: &Path) -> PathBuf {
    base.join(format!("{TABLE}.csv"))
}

/// Applies one write to the table: keeps the existing lines, adds each row
/// whose key is not there yet, and replaces the file through a temporary
/// file and a rename. Runs under the table's lock (the coordinator holds it).
fn apply_to_table(base: &Path, write: &PendingWrite) -> std::io::Result<()> {
    let path = table_path(base);
    let mut content = match fs::read_to_string(&path) {
        Ok(content) => content,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => String::new(),
        Err(error) => return Err(error),
    };
    let keys: HashSet<&str> = content
        .lines()
        .filter_map(|line| line.split('|').next())
        .collect();
    let new_rows: Vec<String> = write
        .rows
        .iter()
        .filter(|row| !keys.contains(row.key.as_str()))
        .map(CsvRow::to_csv)
        .collect();
    for row in new_rows {
        content.push_str(&row);
        content.push('\n');
    }
    let temporary = base.join(format!(".{TABLE}.csv.tmp"));
    let mut file = fs::File::create(&temporary)?;
    file.write_all(content.as_bytes())?;
    file.sync_data()?;
    fs::rename(&temporary, &path)
}

fn apply_fn(base: &Path) -> impl FnMut(ApplyKey<'_>, &PendingWrite) -> Result<(), ApplyError> + '_ {
    move |_key, write| Ok(apply_to_table(base, write)?)
}

/// One writer process: submits `rows` rows, one write each, in order.
fn run_writer(base: &Path, writer: usize, rows: usize) -> AnyResult<()> {
    let coordinator = WriteCoordinator::new(FsBackend::new(base));
    let (mut applied, mut queued) = (0, 0);
    for seq in 0..rows {
        let row = CsvRow::new(
            format!("w{writer}-{seq:05}"),
            vec![writer.to_string(), seq.to_string()],
        );
        let mut write = PendingWrite::new(WriteOperation::Insert, vec![row]);
        loop {
            match coordinator.submit(TABLE, write, Duration::from_millis(1), apply_fn(base)) {
                Ok(SubmitOutcome::Applied { .. }) => applied += 1,
                Ok(SubmitOutcome::Queued(_)) => queued += 1,
                // The queue is full: the write is handed back; try again.
                Err(error) if error.is_queue_full() => {
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

fn run_all_writers(base: &Path, options: &Options) -> AnyResult<()> {
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
    let coordinator = WriteCoordinator::new(FsBackend::new(base));
    let drained = coordinator
        .drain(TABLE, Duration::from_secs(10), apply_fn(base))
        .map_err(|error| error.to_string())?;
    let elapsed = started.elapsed();
    let rows = verify_table(&table_path(base), options.writers, options.rows)?;
    println!(
        "{} writers x {} rows: {rows} rows in {}, {drained} drained at the end, {:.0?}",
        options.writers,
        options.rows,
        table_path(base).display(),
        elapsed
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
