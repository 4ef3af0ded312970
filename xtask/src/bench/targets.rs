// SPDX-License-Identifier: Apache-2.0
//! The targets of DESIGN.md's table, checked against this run's numbers.
//!
//! Informative only: a missed target is reported, never an error, because
//! timings depend on the machine and its load.

use serde::Serialize;

use super::measure::{Measurement, Unit};
use super::report::{format_ratio, render};
use super::{disk, drain, handoff, lock, queue};

/// "No slower" allows this much noise: the new median may be up to 5%
/// above the old one.
const NO_SLOWER_ALLOWANCE: f64 = 1.05;

/// One target and how this run did against it.
#[derive(Debug, Clone, Serialize)]
pub struct TargetCheck {
    /// What is measured, as DESIGN.md names it.
    pub what: String,
    /// The target.
    pub target: String,
    /// What this run measured.
    pub measured: String,
    /// Whether the target was met; `None` when a measurement is missing.
    pub met: Option<bool>,
}

/// Looks up measurements by group, operation and backend.
struct Lookup<'a>(&'a [Measurement]);

impl Lookup<'_> {
    fn get(&self, group: &str, operation: &str, backend: &str) -> Option<&Measurement> {
        self.0
            .iter()
            .find(|m| m.group == group && m.operation == operation && m.backend == backend)
    }

    fn median(&self, group: &str, operation: &str, backend: &str) -> Option<f64> {
        self.get(group, operation, backend).map(|m| m.stats.median)
    }
}

fn time(nanos: f64) -> String {
    Unit::Nanos.format(nanos)
}

/// A "new no slower than old" check of one operation.
fn no_slower(lookup: &Lookup, what: &str, group: &str, operation: &str, new: &str) -> TargetCheck {
    let old = lookup.median(group, operation, "last");
    let current = lookup.median(group, operation, new);
    let (measured, met) = match (old, current) {
        (Some(old), Some(current)) => (
            format!("{new} {} vs last {}", time(current), time(old)),
            Some(current <= old * NO_SLOWER_ALLOWANCE),
        ),
        _ => ("not measured".to_string(), None),
    };
    TargetCheck {
        what: what.to_string(),
        target: "no slower than last".to_string(),
        measured,
        met,
    }
}

/// Checks every target this run has numbers for (groups not run are left
/// out).
pub fn check(measurements: &[Measurement]) -> Vec<TargetCheck> {
    let lookup = Lookup(measurements);
    let ran = |group: &str| measurements.iter().any(|m| m.group == group);
    let mut checks = Vec::new();
    if ran(handoff::GROUP) {
        let latency = lookup.get(handoff::GROUP, handoff::OP_LATENCY, "fs");
        let old = lookup.get(handoff::GROUP, handoff::OP_LATENCY, "last");
        checks.push(TargetCheck {
            what: "lock hand-off between two processes".to_string(),
            target: "median < 1 ms, p90 < 2 ms".to_string(),
            measured: match (latency, old) {
                (Some(fs), Some(last)) => format!(
                    "fs {} / {}; last {} / {}",
                    time(fs.stats.median),
                    time(fs.stats.p90),
                    time(last.stats.median),
                    time(last.stats.p90)
                ),
                (Some(fs), None) => {
                    format!("fs {} / {}", time(fs.stats.median), time(fs.stats.p90))
                }
                _ => "not measured".to_string(),
            },
            met: latency.map(|fs| fs.stats.median < 1e6 && fs.stats.p90 < 2e6),
        });
        let cpu = lookup.median(handoff::GROUP, handoff::OP_WAITER_CPU, "fs");
        let old_cpu = lookup.median(handoff::GROUP, handoff::OP_WAITER_CPU, "last");
        checks.push(TargetCheck {
            what: "hand-off: waiter CPU while waiting".to_string(),
            target: "under 5% of one core".to_string(),
            measured: match (cpu, old_cpu) {
                (Some(fs), Some(last)) => format!("fs {fs:.2} %; last {last:.2} %"),
                _ => "not measured".to_string(),
            },
            met: cpu.map(|fs| fs < 5.0),
        });
    }
    if ran(lock::GROUP) {
        checks.push(no_slower(
            &lookup,
            "acquire + release, lock file exists",
            lock::GROUP,
            lock::OP_ACQUIRE_EXISTING,
            "fs",
        ));
        checks.push(no_slower(
            &lookup,
            "acquire + release, new table",
            lock::GROUP,
            lock::OP_ACQUIRE_NEW,
            "fs",
        ));
        checks.push(no_slower(
            &lookup,
            "is_locked, lock file exists",
            lock::GROUP,
            lock::OP_IS_LOCKED_EXISTS,
            "fs",
        ));
        checks.push(no_slower(
            &lookup,
            "is_locked, lock file absent",
            lock::GROUP,
            lock::OP_IS_LOCKED_ABSENT,
            "fs",
        ));
        let mem = lookup.median(lock::GROUP, lock::OP_ACQUIRE_EXISTING, "mem");
        checks.push(TargetCheck {
            what: "mem backend lock + unlock".to_string(),
            target: "under 1 us".to_string(),
            measured: mem.map_or("not measured".to_string(), time),
            met: mem.map(|mem| mem < 1_000.0),
        });
    }
    if ran(queue::GROUP) {
        checks.push(no_slower(
            &lookup,
            "queue_write 1 row, relaxed, empty queue",
            queue::GROUP,
            queue::OP_ONE_EMPTY,
            "fs relaxed json",
        ));
        checks.push(no_slower(
            &lookup,
            "queue_write 1 row, relaxed, 99 pending",
            queue::GROUP,
            queue::OP_ONE_DEEP,
            "fs relaxed json",
        ));
        let durable = lookup.median(queue::GROUP, queue::OP_ONE_EMPTY, "fs durable json");
        let bare = lookup.median(disk::GROUP, disk::OP_DURABLE, disk::BACKEND);
        checks.push(TargetCheck {
            what: "queue_write 1 row, durable (JSON)".to_string(),
            target: "median under 1 ms".to_string(),
            measured: match (durable, bare) {
                (Some(durable), Some(bare)) => {
                    format!(
                        "{}; the bare file+fsyncs on this disk: {}",
                        time(durable),
                        time(bare)
                    )
                }
                (Some(durable), None) => time(durable),
                _ => "not measured".to_string(),
            },
            met: durable.map(|durable| durable < 1e6),
        });
    }
    if ran(drain::GROUP) {
        let old = lookup.median(drain::GROUP, drain::OP_TOTAL, "last");
        let new = lookup.median(drain::GROUP, drain::OP_TOTAL, "fs relaxed json");
        checks.push(TargetCheck {
            what: "drain 100 entries (get + remove each)".to_string(),
            target: "10x faster than last or better".to_string(),
            measured: match (old, new) {
                (Some(old), Some(new)) => format!(
                    "fs {} vs last {} ({} faster)",
                    time(new),
                    time(old),
                    format_ratio(old / new)
                ),
                _ => "not measured".to_string(),
            },
            met: old.zip(new).map(|(old, new)| new * 10.0 <= old),
        });
        let deep = lookup.median(drain::GROUP, drain::OP_POP_100, "fs relaxed json");
        let shallow = lookup.median(drain::GROUP, drain::OP_POP_10, "fs relaxed json");
        let old_growth = lookup
            .median(drain::GROUP, drain::OP_POP_100, "last")
            .zip(lookup.median(drain::GROUP, drain::OP_POP_10, "last"))
            .map(|(deep, shallow)| deep / shallow);
        checks.push(TargetCheck {
            what: "drain: a pop's cost against queue depth".to_string(),
            target: "linear: depth 100 at most 10x depth 10".to_string(),
            measured: match (deep, shallow) {
                (Some(deep), Some(shallow)) => format!(
                    "fs {} at 100, {} at 10 ({}); last {}",
                    time(deep),
                    time(shallow),
                    format_ratio(deep / shallow),
                    old_growth.map_or("-".to_string(), format_ratio)
                ),
                _ => "not measured".to_string(),
            },
            met: deep
                .zip(shallow)
                .map(|(deep, shallow)| deep <= shallow * 10.0),
        });
    }
    checks
}

/// The checks as a table.
pub fn table(checks: &[TargetCheck]) -> String {
    let headers = ["what", "target (DESIGN.md)", "measured", "met"].map(String::from);
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|check| {
            vec![
                check.what.clone(),
                check.target.clone(),
                check.measured.clone(),
                match check.met {
                    Some(true) => "yes",
                    Some(false) => "NO",
                    None => "-",
                }
                .to_string(),
            ]
        })
        .collect();
    format!(
        "Targets of DESIGN.md (informative, not a failure; \"no slower\" allows {:.0}% noise)\n{}",
        (NO_SLOWER_ALLOWANCE - 1.0) * 100.0,
        render(&headers, &rows)
    )
}
