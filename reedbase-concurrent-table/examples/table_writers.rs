// SPDX-License-Identifier: Apache-2.0
//! Several processes append rows to one pipe-delimited ReedBase table
//! through the [`WriteCoordinator`], each applying writes with the same
//! durable [`TableWriter`]; then the table is checked: no torn line, no lost
//! or duplicated row, every writer's rows in its own order. On the
//! file-system backend (processes of one host), or with `--backend pg` on
//! the PostgreSQL backend (processes standing for hosts that share the base
//! directory on shared storage, each connected to the server over TCP).
//!
//! ```sh
//! cargo run -p reedbase-concurrent-table --example table_writers
//! cargo run --release -p reedbase-concurrent-table --example table_writers -- --writers 8 --rows 200 --batch
//! cargo run -p reedbase-concurrent-table --example table_writers -- --backend pg \
//!     [--url postgresql://app@db.example.org/reedbase] [--namespace NAME] [--dir /mnt/shared/base]
//! ```
//!
//! What a service does, in order:
//! 1. at start-up, drain every table that other processes left writes in
//!    (`drain_all`), with the table writer;
//! 2. keep a background [`Drainer`] running, so that writes queued by
//!    processes that then exit are applied without waiting for the next
//!    writer of their table;
//! 3. submit each write with a short lock timeout (`--lock-timeout-ms`,
//!    default 1), waiting for room when the queue is full: whoever holds the lock
//!    applies every queued write before its own, so many writes are queued
//!    and applied, in order, by the next lock holder. With `--batch` the
//!    holder applies them in one durable step (one fsync of the table and
//!    one of its journal for the whole batch) instead of one per write.
//!
//! The parent plays the service (steps 1 and 2) and starts `--writers`
//! writer processes (step 3); at the end it prints writes per second,
//! acknowledged (applied or queued) and applied. `--no-drainer` leaves the
//! drainer out, so that only the writers apply (as the crate docs measure).
//!
//! # On shared storage (`--backend pg`)
//!
//! The pg lock orders the writers across hosts; the table files stay on the
//! shared storage, which promises close-to-open consistency and no more, so
//! the table writer opens the table afresh at every step under the lock,
//! refuses a lower fencing token, skips replays, and fsyncs and closes
//! before the lock is released. The server is `--url`, else
//! `REEDBASE_PG_URL`, else the local server over TCP; without `--namespace`
//! the run uses a fresh namespace and removes it at the end.

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{
    Backend, CoordinatorOptions, CsvRow, Drainer, PendingWrite, SubmitOutcome, WriteCoordinator,
    WriteOperation,
};
use reedbase_concurrent_fs::FsBackend;
use reedbase_concurrent_pg::PgBackend;
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_table::TableWriter;

const TABLE: &str = "users";
const WAIT_FOR_ROOM: Duration = Duration::from_secs(60);
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

type AnyResult<T> = Result<T, Box<dyn Error + Send + Sync>>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("table_writers: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Where the locks and the queue live: fs on the base directory, or pg at
/// a server URL (as the writer processes reach it) in a namespace.
#[derive(Debug, Clone)]
enum Site {
    Fs,
    Pg { url: String, namespace: String },
}

#[derive(Default)]
struct Options {
    writers: usize,
    rows: usize,
    lock_timeout_ms: u64,
    batch: bool,
    drainer: bool,
    dir: Option<PathBuf>,
    writer: Option<usize>,
    pg: bool,
    url: Option<String>,
    namespace: Option<String>,
}

fn parse_options() -> AnyResult<Options> {
    let mut options = Options {
        writers: 4,
        rows: 50,
        lock_timeout_ms: 1,
        drainer: true,
        ..Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        if flag == "--batch" || flag == "--no-drainer" {
            options.batch |= flag == "--batch";
            options.drainer &= flag != "--no-drainer";
            continue;
        }
        let value = args.next().ok_or(format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--writers" => options.writers = value.parse()?,
            "--rows" => options.rows = value.parse()?,
            "--lock-timeout-ms" => options.lock_timeout_ms = value.parse()?,
            "--dir" => options.dir = Some(PathBuf::from(value)),
            "--writer" => options.writer = Some(value.parse()?),
            "--backend" if value == "fs" || value == "pg" => options.pg = value == "pg",
            "--url" => options.url = Some(value),
            "--namespace" => options.namespace = Some(value),
            other => return Err(format!("unknown option {other} {value}").into()),
        }
    }
    Ok(options)
}

/// Runs `$body` with `$b` bound to the backend of `$site` (fs on `$base`),
/// whichever it is: the code over it is generic over core's `Backend`.
macro_rules! with_backend {
    ($site:expr, $base:expr, $b:ident => $body:expr) => {
        match $site {
            Site::Fs => {
                let $b = FsBackend::new($base);
                $body
            }
            Site::Pg { url, namespace } => {
                let $b = PgBackend::connect(url, namespace)?;
                $body
            }
        }
    };
}

fn run() -> AnyResult<()> {
    let options = parse_options()?;
    // A namespace of this run's own, removed at the end (pg only).
    let mut own_namespace = None;
    let site = match (options.pg, &options.url, &options.namespace) {
        (false, ..) => Site::Fs,
        (true, url, namespace) => {
            let url = match url {
                Some(url) => url.clone(),
                None => TestServer::find("table_writers")
                    .ok_or("no PostgreSQL server; give --url")?
                    .tcp_url()
                    .to_string(),
            };
            let namespace = namespace.clone().unwrap_or_else(|| {
                let namespace = format!("table_writers_{}", std::process::id());
                own_namespace = Some(namespace.clone());
                namespace
            });
            Site::Pg { url, namespace }
        }
    };
    let temporary;
    let base = match (&options.dir, options.writer) {
        (Some(dir), _) => dir.as_path(),
        (None, Some(_)) => return Err("--writer needs --dir".into()),
        (None, None) => {
            temporary = tempfile::tempdir()?;
            temporary.path()
        }
    };
    let result = match options.writer {
        Some(writer) => with_backend!(&site, base, b => run_writer(b, base, writer, &options)),
        None => with_backend!(&site, base, b => run_service(b, base, &site, &options)),
    };
    if let (Some(namespace), Site::Pg { url, .. }) = (own_namespace, &site) {
        PgBackend::connect(url, &namespace)?.drop_namespace()?;
    }
    result
}

/// One writer process: `rows` writes of one row each, in order.
fn run_writer<B: Backend>(
    backend: B,
    base: &Path,
    writer_no: usize,
    options: &Options,
) -> AnyResult<()> {
    // A write whose queue is full waits for the lock (whose holder drains
    // the queue) instead of coming back at once.
    let patient = CoordinatorOptions::new().wait_for_room(WAIT_FOR_ROOM);
    let coordinator = WriteCoordinator::with_options(backend, patient);
    let lock_timeout = Duration::from_millis(options.lock_timeout_ms);
    let writer = TableWriter::new(base, TABLE)?;
    let (mut applied, mut queued) = (0, 0);
    for seq in 0..options.rows {
        let row = CsvRow::new(
            format!("w{writer_no}-{seq:05}"),
            [writer_no.to_string(), seq.to_string()],
        );
        let write = PendingWrite::new(WriteOperation::Insert, vec![row]);
        // Refuse here what the writer could not apply, before it is queued.
        writer.check_write(&write)?;
        let outcome = if options.batch {
            coordinator.submit_batch(TABLE, write, lock_timeout, |batch| {
                writer.apply_batch(batch)
            })
        } else {
            coordinator.submit(TABLE, write, lock_timeout, |key, write| {
                writer.apply(key, write)
            })
        };
        match outcome {
            Ok(SubmitOutcome::Applied { .. }) => applied += 1,
            Ok(SubmitOutcome::Queued(_)) => queued += 1,
            // Not applied and not queued, even after waiting for room: the
            // write comes back in the error. A service keeps it (or fails
            // the request that made it); here, where every row is checked,
            // it ends the run.
            Err(error) => return Err(format!("write {seq} handed back: {error}").into()),
        }
    }
    // Rows this process applied (its own and other processes' queued
    // writes), and in how many durable steps (one fsync of the table and
    // one of the journal each).
    let stats = writer.stats();
    println!(
        "writer {writer_no}: {applied} applied under the lock, {queued} queued; \
         applied {} rows in {} durable steps",
        stats.rows_appended, stats.commits
    );
    Ok(())
}

/// The arguments that start writer `writer` of this run.
fn writer_command(
    base: &Path,
    site: &Site,
    writer: usize,
    options: &Options,
) -> AnyResult<Command> {
    let mut command = Command::new(std::env::current_exe()?);
    command
        .args(["--writer", &writer.to_string()])
        .args(["--rows", &options.rows.to_string()])
        .args(["--lock-timeout-ms", &options.lock_timeout_ms.to_string()])
        .arg("--dir")
        .arg(base);
    if options.batch {
        command.arg("--batch");
    }
    if let Site::Pg { url, namespace } = site {
        command.args(["--backend", "pg", "--url", url, "--namespace", namespace]);
    }
    command.stdout(Stdio::piped());
    Ok(command)
}

/// The service: start-up drain, background drainer, writer processes,
/// final check.
fn run_service<B: Backend + Clone + Send + 'static>(
    backend: B,
    base: &Path,
    site: &Site,
    options: &Options,
) -> AnyResult<()> {
    let coordinator = WriteCoordinator::new(backend);
    let owned_base = base.to_path_buf();
    // 1. Start-up drain: every table with pending writes, same writer.
    let report = coordinator.drain_all(DRAIN_TIMEOUT, |table, key, write| {
        TableWriter::new(base, table)?.apply(key, write)
    })?;
    println!(
        "start-up drain: {} writes in {} tables",
        report.drained, report.tables
    );
    // 2. A background drainer, stopped before the end.
    let every = Duration::from_millis(50);
    let drainer = match (options.drainer, options.batch) {
        (false, _) => None,
        (true, true) => Some(Drainer::start_batch(
            coordinator.clone(),
            every,
            move |table, batch| TableWriter::new(&owned_base, table)?.apply_batch(batch),
        )),
        (true, false) => Some(Drainer::start(
            coordinator.clone(),
            every,
            move |table, key, write| TableWriter::new(&owned_base, table)?.apply(key, write),
        )),
    };
    // 3. The writer processes.
    let started = Instant::now();
    let children = (0..options.writers)
        .map(|writer| Ok(writer_command(base, site, writer, options)?.spawn()?))
        .collect::<AnyResult<Vec<_>>>()?;
    let (mut child_rows, mut child_steps) = (0, 0);
    for child in children {
        let output = child.wait_with_output()?;
        if !output.status.success() {
            return Err(format!("a writer process failed: {}", output.status).into());
        }
        let said = String::from_utf8_lossy(&output.stdout);
        print!("{said}");
        let (rows, steps) = rows_and_steps(&said).ok_or("a writer did not report its steps")?;
        child_rows += rows;
        child_steps += steps;
    }
    let acknowledged = started.elapsed();
    let drained_in_background = drainer.map_or(0, |drainer| drainer.stop().drained);
    // What the writers queued after the last lock holder left: the next
    // start-up drain applies it (done here at once).
    let report = coordinator.drain_all(DRAIN_TIMEOUT, |table, key, write| {
        TableWriter::new(base, table)?.apply(key, write)
    })?;
    if let Some(error) = report.failed.first() {
        return Err(format!("final drain failed: {error}").into());
    }
    let applied = started.elapsed();
    let writer = TableWriter::new(base, TABLE)?;
    let lines = writer.committed_lines()?;
    verify_table(&lines, options.writers, options.rows)?;
    let writes = (options.writers * options.rows) as f64;
    let backend = match site {
        Site::Fs => "fs",
        Site::Pg { .. } => "pg",
    };
    println!(
        "{} writers x {} rows on {backend}, {} path: {} rows in {}; background drainer applied {}, final drain {}",
        options.writers,
        options.rows,
        if options.batch { "batch" } else { "per-write" },
        lines.len(),
        writer.table_path().display(),
        drained_in_background,
        report.drained
    );
    println!(
        "the writers applied {child_rows} rows in {child_steps} durable steps ({:.1} rows a step)",
        child_rows as f64 / child_steps.max(1) as f64
    );
    println!(
        "writes/s: {:.0} acknowledged ({:.2?}), {:.0} applied ({:.2?})",
        writes / acknowledged.as_secs_f64(),
        acknowledged,
        writes / applied.as_secs_f64(),
        applied
    );
    println!("verified: no torn line, no lost row, no duplicate, every writer's rows in order");
    Ok(())
}

/// The rows and steps a writer reported: `... applied R rows in S durable
/// steps`.
fn rows_and_steps(said: &str) -> Option<(u64, u64)> {
    let words: Vec<&str> = said.split_whitespace().collect();
    let at = words
        .windows(2)
        .rposition(|pair| pair == ["durable", "steps"])?;
    let steps = words.get(at.checked_sub(1)?)?.parse().ok()?;
    let rows = words.get(at.checked_sub(4)?)?.parse().ok()?;
    Some((rows, steps))
}

/// Checks the table's committed lines against what the writers wrote.
fn verify_table(lines: &[String], writers: usize, rows: usize) -> AnyResult<()> {
    let mut next_seq: BTreeMap<usize, usize> = BTreeMap::new();
    for (number, line) in lines.iter().enumerate() {
        let fields: Vec<&str> = line.split('|').collect();
        let [key, writer, seq] = fields[..] else {
            return Err(format!("line {}: torn or malformed: {line:?}", number + 1).into());
        };
        let (writer, seq): (usize, usize) = (writer.parse()?, seq.parse()?);
        if key != format!("w{writer}-{seq:05}") {
            return Err(format!("line {}: key does not match: {line:?}", number + 1).into());
        }
        let expected = next_seq.entry(writer).or_insert(0);
        if seq != *expected {
            return Err(format!(
                "line {}: writer {writer} row {seq} where row {expected} was due \
                 (lost, duplicated or out of order)",
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
    Ok(())
}
