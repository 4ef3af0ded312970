// SPDX-License-Identifier: Apache-2.0
//! One crash or I/O-error run (writers, the fault, the restart), and the
//! loop over scenarios, boundaries, random moments and faults, with the
//! report.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use reedbase_faultfs::{Fault, FaultErrno, FaultFs, Op, OpCounts};

use super::Options;
use super::verify::{Outcome, Tally, check, parse_restart, parse_writer};

/// How long a writer or a restart may take before it is killed.
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Scenario {
    batch: bool,
    relaxed: bool,
}

impl Scenario {
    fn name(self) -> String {
        let apply = if self.batch { "batch" } else { "per-write" };
        let queue = if self.relaxed { "relaxed" } else { "durable" };
        format!("{apply}, {queue} queue")
    }

    fn flags(self) -> Vec<&'static str> {
        let mut flags = Vec::new();
        if self.batch {
            flags.push("--batch");
        }
        if self.relaxed {
            flags.push("--relaxed");
        }
        flags
    }
}

/// What happens to the file system during a run.
#[derive(Debug, Clone)]
enum Trigger {
    /// Nothing, then a power cut once the writers are done.
    None,
    /// A power cut just before the k-th durability boundary.
    Boundary(u64),
    /// A power cut after this long.
    After(Duration),
    /// A failed call, then a power cut once the writers are done.
    Fault(Fault),
}

/// One run's outcome.
struct Run {
    tally: Result<Tally, Vec<String>>,
    counts: OpCounts,
    label: Option<String>,
    elapsed: Duration,
}

/// Runs a command to its end (killed after [`PATIENCE`]); its stdout.
fn output_of(mut command: Command) -> Result<String, String> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start a child: {e}"))?;
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let start = Instant::now();
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if start.elapsed() > PATIENCE {
            let _ = child.kill();
            let _ = child.wait();
            return Err("a child process hung and was killed".to_string());
        }
        thread::sleep(Duration::from_millis(2));
    }
    reader
        .join()
        .map_err(|_| "the output reader panicked".to_string())
}

fn child(role: &str, fs: &FaultFs, scenario: Scenario) -> Result<Command, String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut command = Command::new(exe);
    command
        .args(["__child", role, "--base"])
        .arg(fs.path())
        .args(scenario.flags());
    Ok(command)
}

fn run_once(
    fs: &FaultFs,
    options: &Options,
    scenario: Scenario,
    trigger: &Trigger,
) -> Result<Run, String> {
    let control = fs.control();
    control.reset();
    let retries = match trigger {
        Trigger::Fault(fault) => {
            control.fail(fault.clone());
            "2"
        }
        Trigger::Boundary(k) => {
            control.cut_at_boundary(*k);
            "0"
        }
        Trigger::None | Trigger::After(_) => "0",
    };
    let start = Instant::now();
    let mut writers = Vec::new();
    for writer in 0..options.writers {
        let mut command = child("crash-writer", fs, scenario)?;
        command
            .args(["--writer", &writer.to_string()])
            .args(["--writes", &options.writes.to_string()])
            // In I/O-error runs the first writer gives up at its first failed
            // call, so that a write reported as failed is checked to be absent;
            // the others submit it again, to check it is applied once.
            .args(["--retries", if writer == 0 { "0" } else { retries }]);
        writers.push(thread::spawn(move || output_of(command)));
    }
    if let Trigger::After(delay) = trigger {
        thread::sleep(*delay);
        control.cut_now();
    }
    let mut outcomes: Vec<Vec<(u32, Outcome)>> = Vec::new();
    for writer in writers {
        let stdout = writer.join().map_err(|_| "a writer thread panicked")??;
        outcomes.push(parse_writer(&stdout));
    }
    let elapsed = start.elapsed();
    // A fault or cut the writers did not reach must not hit the restart.
    control.disarm();
    let cut_during = control.is_off();
    let label = control.cut_label();
    let counts = control.counts();
    control.power_cut();
    let found = parse_restart(&output_of(child("crash-restart", fs, scenario)?)?);
    let mut tally = check(&outcomes, &found, cut_during, true, scenario.relaxed);
    if let Err(problems) = &mut tally {
        problems.push(format!(
            "(writers said {outcomes:?}; the restart found lines {:?}, moved aside {:?})",
            found.plain, found.moved
        ));
    }
    Ok(Run {
        tally,
        counts,
        label,
        elapsed,
    })
}

/// A cut's label with the random part of a temporary's name left out, so
/// that cuts before the same step of different writes are counted together.
fn step_of(label: &str) -> String {
    match (label.find(".incoming-"), label.rfind(".tmp")) {
        (Some(from), Some(to)) if from < to => format!("{}.incoming-*.tmp", &label[..from]),
        _ => label.to_string(),
    }
}

/// Totals of a group of runs (a scenario, or one kind of boundary).
#[derive(Debug, Default, Clone)]
struct Totals {
    runs: usize,
    tally: Tally,
    violations: usize,
}

impl Totals {
    fn add(&mut self, run: &Run) {
        self.runs += 1;
        match &run.tally {
            Ok(tally) => {
                self.tally.acknowledged += tally.acknowledged;
                self.tally.in_flight += tally.in_flight;
                self.tally.in_flight_applied += tally.in_flight_applied;
                self.tally.relaxed_lost += tally.relaxed_lost;
                self.tally.refused += tally.refused;
                self.tally.settled += tally.settled;
                self.tally.repaired += tally.repaired;
                self.tally.moved += tally.moved;
            }
            Err(problems) => self.violations += problems.len(),
        }
    }

    fn row(&self, name: &str) -> String {
        let t = &self.tally;
        format!(
            "{name:<34} {:>5} {:>6} {:>5}/{:<5} {:>7} {:>7} {:>8} {:>7} {:>6} {:>6}",
            self.runs,
            t.acknowledged,
            t.in_flight_applied,
            t.in_flight,
            t.refused,
            t.relaxed_lost,
            t.repaired,
            t.settled,
            t.moved,
            self.violations
        )
    }
}

const HEADER: &str = "                                    runs  acked in flight  refused relaxed repaired settled  moved  FAILS\n                                                  applied/all       lost";

/// A small xorshift generator for the random moments.
struct Moments(u64);

impl Moments {
    fn next_below(&mut self, bound: Duration) -> Duration {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        let nanos = bound.as_nanos().max(1) as u64;
        Duration::from_nanos(self.0 % nanos)
    }
}

/// `count` values spread over `1..=total`.
fn spread(total: u64, count: u32) -> Vec<u64> {
    let count = u64::from(count).min(total);
    (0..count).map(|i| 1 + i * total / count.max(1)).collect()
}

const IO_OPS: [(Op, &str); 5] = [
    (Op::Write, "write"),
    (Op::Fsync, "fsync"),
    (Op::Rename, "rename"),
    (Op::Unlink, "unlink"),
    (Op::Mkdir, "mkdir"),
];

fn calls_of(counts: &OpCounts, op: Op) -> u64 {
    match op {
        Op::Write => counts.writes,
        Op::Fsync => counts.fsyncs,
        Op::Rename => counts.renames,
        Op::Unlink => counts.unlinks,
        Op::Mkdir => counts.mkdirs,
        Op::Create => counts.creates,
    }
}

pub fn run(options: &Options) -> Result<(), String> {
    let temp = tempfile::tempdir().map_err(|e| e.to_string())?;
    let mount_dir = options
        .dir
        .clone()
        .unwrap_or_else(|| temp.path().to_path_buf());
    let fs = FaultFs::mount(&mount_dir).map_err(|e| {
        format!(
            "cannot mount the fault-injecting file system at {} (needs root and /dev/fuse): {e}",
            mount_dir.display()
        )
    })?;
    let seed = options.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |since| since.as_nanos() as u64)
    }) | 1;
    let mut moments = Moments(seed);
    let scenarios: Vec<Scenario> = if options.quick {
        vec![Scenario {
            batch: false,
            relaxed: false,
        }]
    } else {
        [(false, false), (true, false), (false, true), (true, true)]
            .into_iter()
            .map(|(batch, relaxed)| Scenario { batch, relaxed })
            .collect()
    };
    println!(
        "crash: {} writer(s) x {} write(s), seed {seed}, mounted at {}",
        options.writers,
        options.writes,
        mount_dir.display()
    );
    let mut failures: Vec<String> = Vec::new();
    let mut by_boundary: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_fault: BTreeMap<String, Totals> = BTreeMap::new();
    let mut by_scenario: Vec<(String, Totals)> = Vec::new();
    for scenario in scenarios {
        let name = scenario.name();
        let mut totals = Totals::default();
        let mut note = |what: String, run: &Run, totals: &mut Totals| {
            totals.add(run);
            if let Err(problems) = &run.tally {
                for problem in problems {
                    failures.push(format!("{name}, {what}: {problem}"));
                }
            }
        };
        let dry = run_once(&fs, options, scenario, &Trigger::None)?;
        note(
            "no fault, a power cut at the end".to_string(),
            &dry,
            &mut totals,
        );
        let boundaries = dry.counts.boundaries;
        println!("{name}: {boundaries} durability boundaries");
        for k in 1..=boundaries {
            let run = run_once(&fs, options, scenario, &Trigger::Boundary(k))?;
            let label = run
                .label
                .clone()
                .unwrap_or_else(|| "(not reached)".to_string());
            note(
                format!("cut before boundary {k} ({label})"),
                &run,
                &mut totals,
            );
            by_boundary.entry(step_of(&label)).or_default().add(&run);
            if options.per_boundary {
                let mut one = Totals::default();
                one.add(&run);
                println!("{}", one.row(&format!("  {k:>3} {label}")));
            }
        }
        for _ in 0..options.random {
            let delay = moments.next_below(dry.elapsed);
            let run = run_once(&fs, options, scenario, &Trigger::After(delay))?;
            note(format!("cut after {delay:?}"), &run, &mut totals);
            by_boundary
                .entry("(random moment)".to_string())
                .or_default()
                .add(&run);
        }
        for (op, op_name) in IO_OPS {
            for (i, nth) in spread(calls_of(&dry.counts, op), options.io_runs)
                .into_iter()
                .enumerate()
            {
                let errno = if i % 2 == 0 {
                    FaultErrno::Eio
                } else {
                    FaultErrno::Enospc
                };
                let fault = Fault::new(op, nth, errno);
                let run = run_once(&fs, options, scenario, &Trigger::Fault(fault))?;
                note(
                    format!("{op_name} #{nth} failed with {errno:?}"),
                    &run,
                    &mut totals,
                );
                by_fault
                    .entry(format!("{op_name} fails ({errno:?})"))
                    .or_default()
                    .add(&run);
            }
        }
        by_scenario.push((name, totals));
    }
    println!("\npower cuts, by the call the power went before:\n{HEADER}");
    by_boundary
        .iter()
        .for_each(|(label, totals)| println!("{}", totals.row(label)));
    println!("\nI/O errors, by the call failed (then a power cut at the end):\n{HEADER}");
    by_fault
        .iter()
        .for_each(|(label, totals)| println!("{}", totals.row(label)));
    println!("\nall runs, by scenario:\n{HEADER}");
    by_scenario
        .iter()
        .for_each(|(name, totals)| println!("{}", totals.row(name)));
    drop(fs);
    if failures.is_empty() {
        println!("crash: PASS");
        return Ok(());
    }
    for failure in failures.iter().take(30) {
        println!("  {failure}");
    }
    println!("crash: FAIL ({} violations)", failures.len());
    Err(format!("{} violations", failures.len()))
}
