// SPDX-License-Identifier: Apache-2.0
//! Summary statistics, and the [`Recorder`] that runs each measurement,
//! shows its progress on stderr and keeps its result.

use std::io::Write;
use std::time::{Duration, Instant};

use serde::Serialize;

/// What a measurement's numbers are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// Nanoseconds per operation (shown in us, ms or s).
    Nanos,
    /// Percent of one CPU core.
    Percent,
    /// Operations per second.
    PerSecond,
    /// A plain count.
    Count,
}

impl Unit {
    /// Renders a value of this unit for a table cell.
    pub fn format(self, value: f64) -> String {
        match self {
            Unit::Nanos if value >= 1e9 => format!("{:.2} s", value / 1e9),
            Unit::Nanos if value >= 1e6 => format!("{:.2} ms", value / 1e6),
            Unit::Nanos => format!("{:.2} us", value / 1e3),
            Unit::Percent => format!("{value:.2} %"),
            Unit::PerSecond => format!("{value:.0}/s"),
            Unit::Count => format!("{value:.0}"),
        }
    }
}

/// Summary of a set of samples.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct Stats {
    /// How many samples.
    pub samples: usize,
    /// The median (nearest rank).
    pub median: f64,
    /// The 90th percentile (nearest rank).
    pub p90: f64,
    /// The 99th percentile (nearest rank).
    pub p99: f64,
    /// The arithmetic mean.
    pub mean: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
}

impl Stats {
    /// Summarises `values`; all zero for an empty set.
    pub fn from_values(mut values: Vec<f64>) -> Stats {
        if values.is_empty() {
            return Stats::single(0.0);
        }
        values.sort_by(f64::total_cmp);
        let rank = |fraction: f64| {
            let index = (fraction * values.len() as f64).ceil() as usize;
            values[index.clamp(1, values.len()) - 1]
        };
        Stats {
            samples: values.len(),
            median: rank(0.5),
            p90: rank(0.9),
            p99: rank(0.99),
            mean: values.iter().sum::<f64>() / values.len() as f64,
            min: values[0],
            max: values[values.len() - 1],
        }
    }

    /// One value, as the statistics of a single sample.
    pub fn single(value: f64) -> Stats {
        Stats {
            samples: 1,
            median: value,
            p90: value,
            p99: value,
            mean: value,
            min: value,
            max: value,
        }
    }
}

/// One result: an operation on one backend.
#[derive(Debug, Clone, Serialize)]
pub struct Measurement {
    /// The bench group (see [`GROUPS`](super::GROUPS)).
    pub group: &'static str,
    /// What was measured, e.g. `acquire+release, lock file exists`.
    pub operation: String,
    /// The backend and its mode, e.g. `last`, `fs durable json`, `sqlite`.
    pub backend: String,
    /// The unit of the statistics.
    pub unit: Unit,
    /// The statistics.
    #[serde(flatten)]
    pub stats: Stats,
    /// Anything else worth keeping (per-process counts and the like).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<serde_json::Value>,
}

/// A measurement that failed, kept so that the others still get reported.
#[derive(Debug, Clone, Serialize)]
pub struct Failure {
    /// The group.
    pub group: &'static str,
    /// The operation.
    pub operation: String,
    /// The backend.
    pub backend: String,
    /// The error.
    pub error: String,
}

/// Runs measurements one after the other, printing a progress line for
/// each on stderr, and collects their results and failures.
#[derive(Debug)]
pub struct Recorder {
    /// Every successful measurement, in the order taken.
    pub measurements: Vec<Measurement>,
    /// Every failed one.
    pub failures: Vec<Failure>,
    started: Instant,
}

impl Recorder {
    /// An empty recorder; its clock starts now.
    pub fn new() -> Recorder {
        Recorder {
            measurements: Vec::new(),
            failures: Vec::new(),
            started: Instant::now(),
        }
    }

    /// Time since the recorder was made.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Prints a group's heading on stderr.
    pub fn begin_group(&self, group: &str, what: &str) {
        eprintln!(
            "[{:>6.1}s] == {group}: {what}",
            self.started.elapsed().as_secs_f64()
        );
    }

    /// Runs one measurement: announces it, runs `run` and records its
    /// statistics (and detail), or its error as a [`Failure`].
    pub fn measure(
        &mut self,
        group: &'static str,
        operation: &str,
        backend: &str,
        unit: Unit,
        run: impl FnOnce() -> Result<(Stats, Option<serde_json::Value>), String>,
    ) {
        eprint!(
            "[{:>6.1}s]    {operation:<46} {backend:<20} ... ",
            self.started.elapsed().as_secs_f64()
        );
        let _ = std::io::stderr().flush();
        let started = Instant::now();
        match run() {
            Ok((stats, detail)) => {
                let shown = match unit {
                    Unit::Nanos => format!(
                        "median {}, p90 {}",
                        unit.format(stats.median),
                        unit.format(stats.p90)
                    ),
                    _ => unit.format(stats.median),
                };
                let took = started.elapsed().as_secs_f64();
                eprintln!("{shown} (n={}, {took:.1}s)", stats.samples);
                self.measurements.push(Measurement {
                    group,
                    operation: operation.to_string(),
                    backend: backend.to_string(),
                    unit,
                    stats,
                    detail,
                });
            }
            Err(error) => {
                eprintln!("FAILED: {error}");
                self.failures.push(Failure {
                    group,
                    operation: operation.to_string(),
                    backend: backend.to_string(),
                    error,
                });
            }
        }
    }

    /// Like [`measure`](Recorder::measure), for a measurement without
    /// detail.
    pub fn measure_stats(
        &mut self,
        group: &'static str,
        operation: &str,
        backend: &str,
        unit: Unit,
        run: impl FnOnce() -> Result<Stats, String>,
    ) {
        self.measure(group, operation, backend, unit, || Ok((run()?, None)));
    }

    /// Records a failure that belongs to no single measurement.
    pub fn fail(&mut self, group: &'static str, operation: &str, error: String) {
        eprintln!("FAILED: {group} / {operation}: {error}");
        self.failures.push(Failure {
            group,
            operation: operation.to_string(),
            backend: "-".to_string(),
            error,
        });
    }
}
