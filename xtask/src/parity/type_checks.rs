// SPDX-License-Identifier: Apache-2.0
//! The old module's three type tests (`types.rs`), run on the old types
//! and on core's (which fs, mem and pg share), plus JSON read across the two:
//! the old `u64` timestamp and core's `u128` must read as each other.

use reedbase_concurrent_core::{CsvRow, PendingWrite, WriteOperation};
use reedbase_last::concurrent as last;

use super::backends::quietly;
use super::findings::{Backend, BackendSet, Divergence, Finding, Group, brief};

type Check = fn() -> Result<(), String>;

/// Scenario, the old test's name, the check on the old types, the check on
/// core's types.
const CHECKS: [(&str, &str, Check, Check); 3] = [
    (
        "types:csv_row_new",
        "test_csv_row_new",
        last_csv_row_new,
        core_csv_row_new,
    ),
    (
        "types:to_csv",
        "test_csv_row_to_csv",
        last_to_csv,
        core_to_csv,
    ),
    (
        "types:json_round_trip",
        "test_pending_write_serialisation",
        last_json,
        core_json,
    ),
];

/// One finding per check, in the old tests' group.
pub fn run() -> Vec<Finding> {
    CHECKS
        .iter()
        .map(|(scenario, old_name, on_last, on_core)| {
            let outcomes = [
                quietly(on_last).and_then(|r| r),
                quietly(on_core).and_then(|r| r),
            ];
            let cell = |outcome: &Result<(), String>, what: &str| match outcome {
                Ok(()) => format!("pass ({what})"),
                Err(message) => format!("FAIL: {}", brief(message, 36)),
            };
            let core_cell = cell(&outcomes[1], "core types");
            let mut failing = BackendSet::EMPTY;
            if outcomes[0].is_err() {
                failing.insert(Backend::Last);
            }
            if outcomes[1].is_err() {
                Backend::NEW.into_iter().for_each(|b| failing.insert(b));
            }
            let detail: Vec<String> = outcomes
                .iter()
                .zip(["old types", "core types"])
                .filter_map(|(o, what)| o.as_ref().err().map(|m| format!("  {what}: {m}\n")))
                .collect();
            Finding {
                group: Group::OldTests,
                scenario: (*scenario).to_string(),
                cells: [
                    cell(&outcomes[0], "old types"),
                    core_cell.clone(),
                    core_cell.clone(),
                    core_cell,
                ],
                divergence: (!failing.is_empty()).then(|| Divergence {
                    differs_on: failing,
                    detail: format!(
                        "the old module's {old_name} failed on:\n{}",
                        detail.concat()
                    ),
                    intermittent: None,
                }),
            }
        })
        .collect()
}

fn check(ok: bool, what: &str) -> Result<(), String> {
    if ok { Ok(()) } else { Err(what.to_string()) }
}

fn last_csv_row_new() -> Result<(), String> {
    let row = last::CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
    check(
        row.key == "user:1" && row.values == ["Alice", "alice@example.com"],
        "CsvRow::new keeps the key and values",
    )
}

fn core_csv_row_new() -> Result<(), String> {
    let row = CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
    check(
        row.key == "user:1" && row.values == ["Alice", "alice@example.com"],
        "CsvRow::new keeps the key and values",
    )
}

fn last_to_csv() -> Result<(), String> {
    let row = last::CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
    let bare = last::CsvRow::new("k", vec![]);
    check(
        row.to_csv() == "user:1|Alice|alice@example.com" && bare.to_csv() == "k|",
        "to_csv gives key|v1|v2 and key| for no values",
    )
}

fn core_to_csv() -> Result<(), String> {
    let row = CsvRow::new("user:1", vec!["Alice", "alice@example.com"]);
    let bare = CsvRow::new("k", vec![]);
    check(
        row.to_csv() == "user:1|Alice|alice@example.com" && bare.to_csv() == "k|",
        "to_csv gives key|v1|v2 and key| for no values",
    )
}

fn sample_last() -> last::PendingWrite {
    last::PendingWrite {
        rows: vec![last::CsvRow::new(
            "user:1",
            vec!["Alice", "alice@example.com"],
        )],
        timestamp: 1_234_567_890,
        operation: last::WriteOperation::Insert,
    }
}

fn sample_core() -> PendingWrite {
    PendingWrite {
        rows: vec![CsvRow::new("user:1", vec!["Alice", "alice@example.com"])],
        timestamp: 1_234_567_890,
        operation: WriteOperation::Insert,
    }
}

/// The old round trip, and core's JSON read by the old type.
fn last_json() -> Result<(), String> {
    let json = serde_json::to_string(&sample_last()).map_err(|e| e.to_string())?;
    let back: last::PendingWrite = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    check(back == sample_last(), "the old JSON round trip")?;
    let core_json = serde_json::to_string(&sample_core()).map_err(|e| e.to_string())?;
    let read: last::PendingWrite = serde_json::from_str(&core_json)
        .map_err(|e| format!("core's JSON does not read as the old type: {e}"))?;
    check(
        read == sample_last(),
        "core's JSON reads as the same old write",
    )
}

/// Core's round trip, and the old JSON read by core's type.
fn core_json() -> Result<(), String> {
    let json = serde_json::to_string(&sample_core()).map_err(|e| e.to_string())?;
    let back: PendingWrite = serde_json::from_str(&json).map_err(|e| e.to_string())?;
    check(back == sample_core(), "core's JSON round trip")?;
    let old_json = serde_json::to_string(&sample_last()).map_err(|e| e.to_string())?;
    let read: PendingWrite = serde_json::from_str(&old_json)
        .map_err(|e| format!("the old JSON does not read as core's type: {e}"))?;
    check(
        read == sample_core(),
        "the old JSON reads as the same core write",
    )
}
