// SPDX-License-Identifier: Apache-2.0
//! Measures the PostgreSQL backend on the rows of `cargo xtask bench`:
//! lock hand-off between two processes, acquire + release, queue_write
//! durable and relaxed, drain 100, and four processes writing one table.
//!
//! ```sh
//! cargo run --release -p reedbase-concurrent-pg --example pg_measure
//! cargo run --release -p reedbase-concurrent-pg --example pg_measure -- --quick
//! ```
//!
//! The server is `REEDBASE_PG_URL`, else the local server; child processes
//! connect over TCP. Each measurement uses a fresh namespace, removed at
//! the end. Medians and 90th percentiles; the numbers depend on the
//! machine, its disk (a durable commit waits for the server's WAL flush)
//! and what else runs.

use std::error::Error;
use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::{
    CsvRow, LockBackend, PendingWrite, QueueBackend, SubmitOutcome, WriteCoordinator,
    WriteOperation, now_nanos,
};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{Durability, PgBackend, PgOptions};

type AnyResult<T> = Result<T, Box<dyn Error>>;

const TABLE: &str = "measure";

fn main() -> AnyResult<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(role) = args.first().filter(|arg| !arg.starts_with("--")) {
        return child(role, &args[1..]);
    }
    let quick = args.iter().any(|arg| arg == "--quick");
    let server = TestServer::find("pg_measure").ok_or("no PostgreSQL server")?;
    let run = server.run("measure");
    println!("server: {}   (medians; p90 in brackets)", server.url());
    for durability in [Durability::Durable, Durability::Relaxed] {
        let options = PgOptions::new().durability(durability);
        let label = format!("{durability:?}").to_lowercase();
        let namespace = run.namespace();
        let handoff = handoff(
            server.tcp_url(),
            &namespace,
            &label,
            if quick { 10 } else { 40 },
        )?;
        println!(
            "lock hand-off between processes, {label}: {}",
            handoff.show_millis()
        );
        let backend = PgBackend::connect_with(server.url(), &run.namespace(), options.clone())?;
        let acquire = time_each(if quick { 50 } else { 300 }, || {
            drop(backend.acquire_lock(TABLE, Duration::from_secs(5))?);
            Ok(())
        })?;
        println!(
            "acquire + release, uncontended, {label}: {}",
            acquire.show_micros()
        );
        let queue = queue_write_each(&backend, if quick { 50 } else { 300 })?;
        println!("queue_write 1 row, {label}: {}", queue.show_micros());
        let (coordinator, pop) = drain_100(&backend, if quick { 2 } else { 7 })?;
        println!(
            "drain 100 through the coordinator, {label}: {}",
            coordinator.show_millis()
        );
        println!(
            "drain 100 with get_next_pending + remove_from_queue, {label}: {}",
            pop.show_millis()
        );
        let seconds = if quick { 1 } else { 3 };
        let (rate, queued) = four_processes(server.tcp_url(), &run.namespace(), &label, seconds)?;
        println!("4 processes writing one table, {label}: {rate:.0} writes/s ({queued} queued)");
    }
    Ok(())
}

/// Sorted samples in nanoseconds.
struct Samples(Vec<u128>);

impl Samples {
    fn new(mut values: Vec<u128>) -> Samples {
        values.sort_unstable();
        Samples(values)
    }

    fn at(&self, fraction: f64) -> f64 {
        let index = ((self.0.len() - 1) as f64 * fraction).round() as usize;
        self.0[index] as f64
    }

    fn show_micros(&self) -> String {
        format!(
            "{:.1} us [{:.1} us]",
            self.at(0.5) / 1e3,
            self.at(0.9) / 1e3
        )
    }

    fn show_millis(&self) -> String {
        format!(
            "{:.2} ms [{:.2} ms]",
            self.at(0.5) / 1e6,
            self.at(0.9) / 1e6
        )
    }
}

fn time_each(count: usize, mut step: impl FnMut() -> AnyResult<()>) -> AnyResult<Samples> {
    let mut values = Vec::with_capacity(count);
    for _ in 0..count {
        let start = Instant::now();
        step()?;
        values.push(start.elapsed().as_nanos());
    }
    Ok(Samples::new(values))
}

fn write(tag: usize) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(
            format!("user:{tag}"),
            ["Alice", "alice@example.com"],
        )],
    )
}

/// queue_write into an empty queue, the entry removed (untimed) after each.
fn queue_write_each(backend: &PgBackend, count: usize) -> AnyResult<Samples> {
    let mut values = Vec::with_capacity(count);
    for n in 0..count {
        let entry = write(n);
        let start = Instant::now();
        let id = backend.queue_write(TABLE, &entry)?;
        values.push(start.elapsed().as_nanos());
        backend.remove_from_queue(TABLE, &id)?;
    }
    Ok(Samples::new(values))
}

/// Draining 100 queued entries: through the coordinator (batches) and with
/// get + remove per entry (the old module's way).
fn drain_100(backend: &PgBackend, rounds: usize) -> AnyResult<(Samples, Samples)> {
    let coordinator = WriteCoordinator::new(backend.clone());
    let (mut batched, mut popped) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        (0..100).try_for_each(|n| backend.queue_write(TABLE, &write(n)).map(drop))?;
        let start = Instant::now();
        let drained = coordinator
            .drain(TABLE, Duration::from_secs(10), |_, _| Ok(()))
            .map_err(|error| error.to_string())?;
        batched.push(start.elapsed().as_nanos());
        assert_eq!(drained, 100);
        (0..100).try_for_each(|n| backend.queue_write(TABLE, &write(n)).map(drop))?;
        let start = Instant::now();
        while let Some((id, _)) = backend.get_next_pending(TABLE)? {
            backend.remove_from_queue(TABLE, &id)?;
        }
        popped.push(start.elapsed().as_nanos());
    }
    Ok((Samples::new(batched), Samples::new(popped)))
}

/// A child process of this example, talking in lines.
struct Peer {
    child: Child,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

impl Peer {
    fn spawn(args: &[&str]) -> AnyResult<Peer> {
        let mut child = Command::new(std::env::current_exe()?)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let input = child.stdin.take().ok_or("no stdin")?;
        let output = BufReader::new(child.stdout.take().ok_or("no stdout")?);
        Ok(Peer {
            child,
            input,
            output,
        })
    }

    fn say(&mut self, line: &str) -> AnyResult<()> {
        writeln!(self.input, "{line}")?;
        Ok(self.input.flush()?)
    }

    fn hear(&mut self) -> AnyResult<String> {
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            return Err("a child ended early".into());
        }
        Ok(line.trim_end().to_string())
    }

    fn finish(mut self) -> AnyResult<()> {
        drop(self.input);
        if self.child.wait()?.success() {
            Ok(())
        } else {
            Err("a child failed".into())
        }
    }
}

/// Hand-off: a holder process takes the lock, a waiter process starts
/// waiting, and after 20-120 ms the holder notes the wall clock and
/// releases; the waiter notes the wall clock when it has the lock.
fn handoff(url: &str, namespace: &str, durability: &str, trials: usize) -> AnyResult<Samples> {
    let mut holder = Peer::spawn(&["holder", url, namespace, durability])?;
    let mut waiter = Peer::spawn(&["waiter", url, namespace, durability])?;
    let mut values = Vec::with_capacity(trials);
    for trial in 0..trials {
        holder.say("lock")?;
        holder.hear()?;
        waiter.say("wait")?;
        waiter.hear()?;
        thread::sleep(Duration::from_millis(20 + (trial as u64 * 37) % 100));
        holder.say("release")?;
        let released: u128 = holder.hear()?.parse()?;
        let acquired: u128 = waiter.hear()?.parse()?;
        values.push(acquired.saturating_sub(released));
    }
    holder.finish()?;
    waiter.finish()?;
    Ok(Samples::new(values))
}

/// Four processes submit one-row writes for `seconds`, appending applied
/// rows to a file; returns acknowledged writes per second and how many
/// were queued.
fn four_processes(
    url: &str,
    namespace: &str,
    durability: &str,
    seconds: u64,
) -> AnyResult<(f64, u64)> {
    let dir = std::env::temp_dir().join(format!("pg_measure_{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let table = dir.join("table.csv").display().to_string();
    let secs = seconds.to_string();
    let mut peers: Vec<Peer> = (0..4)
        .map(|_| Peer::spawn(&["writer", url, namespace, durability, &table, &secs]))
        .collect::<AnyResult<_>>()?;
    peers.iter_mut().try_for_each(|peer| peer.say("go"))?;
    let (mut acknowledged, mut queued) = (0u64, 0u64);
    for mut peer in peers {
        let line = peer.hear()?;
        let (a, q) = line.split_once(' ').ok_or("bad writer line")?;
        acknowledged += a.parse::<u64>()?;
        queued += q.parse::<u64>()?;
        peer.finish()?;
    }
    std::fs::remove_dir_all(&dir)?;
    Ok((acknowledged as f64 / seconds as f64, queued))
}

fn child(role: &str, args: &[String]) -> AnyResult<()> {
    let [url, namespace, durability, rest @ ..] = args else {
        return Err("child arguments: URL NAMESPACE DURABILITY ...".into());
    };
    let durability = if durability == "relaxed" {
        Durability::Relaxed
    } else {
        Durability::Durable
    };
    let backend = PgBackend::connect_with(url, namespace, PgOptions::new().durability(durability))?;
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut out = std::io::stdout();
    match role {
        "holder" => {
            while let Some(Ok(line)) = lines.next() {
                if line != "lock" {
                    break;
                }
                let guard = backend.acquire_lock(TABLE, Duration::from_secs(30))?;
                writeln!(out, "LOCKED")?;
                out.flush()?;
                lines.next();
                let released = now_nanos();
                drop(guard);
                writeln!(out, "{released}")?;
                out.flush()?;
            }
        }
        "waiter" => {
            while let Some(Ok(_)) = lines.next() {
                writeln!(out, "WAITING")?;
                out.flush()?;
                let guard = backend.acquire_lock(TABLE, Duration::from_secs(30))?;
                let acquired = now_nanos();
                drop(guard);
                writeln!(out, "{acquired}")?;
                out.flush()?;
            }
        }
        "writer" => {
            let [table, seconds] = rest else {
                return Err("writer arguments: TABLE_FILE SECONDS".into());
            };
            lines.next();
            let coordinator = WriteCoordinator::new(backend);
            let deadline = Instant::now() + Duration::from_secs(seconds.parse()?);
            let (mut acknowledged, mut queued, mut n) = (0u64, 0u64, 0usize);
            let mut apply = |_key: reedbase_concurrent_core::ApplyKey<'_>, w: &PendingWrite| {
                let mut file = OpenOptions::new().create(true).append(true).open(table)?;
                file.write_all(format!("{}\n", w.rows[0].to_csv()).as_bytes())?;
                Ok(())
            };
            while Instant::now() < deadline {
                n += 1;
                match coordinator.submit(
                    "throughput",
                    write(n),
                    Duration::from_millis(100),
                    &mut apply,
                ) {
                    Ok(SubmitOutcome::Applied { .. }) => acknowledged += 1,
                    Ok(SubmitOutcome::Queued(_)) => {
                        acknowledged += 1;
                        queued += 1;
                    }
                    Err(error) if error.is_queue_full() => thread::sleep(Duration::from_millis(1)),
                    Err(error) => return Err(error.to_string().into()),
                }
            }
            writeln!(out, "{acknowledged} {queued}")?;
            out.flush()?;
        }
        other => return Err(format!("unknown child role {other}").into()),
    }
    Ok(())
}
