// SPDX-License-Identifier: Apache-2.0
//! Reads what criterion wrote for the micro groups into [`Measurement`]s:
//! the names from `benchmark.json`, the median from `estimates.json`, and
//! the 90th and 99th percentiles of the per-iteration times of
//! `sample.json`.

use std::fs;
use std::path::Path;

use serde::Deserialize;

use super::measure::{Measurement, Stats, Unit};

#[derive(Deserialize)]
struct BenchmarkId {
    group_id: String,
    function_id: Option<String>,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

#[derive(Deserialize)]
struct Estimates {
    mean: Estimate,
    median: Estimate,
}

#[derive(Deserialize)]
struct Sample {
    iters: Vec<f64>,
    times: Vec<f64>,
}

fn read_json<T: for<'de> Deserialize<'de>>(path: &Path) -> Result<T, String> {
    let text = fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("parsing {}: {e}", path.display()))
}

/// Every benchmark under `dir` (criterion's output directory), as
/// measurements; a criterion group named `<group>: <operation>` gives that
/// group and operation, the benchmark's name the backend.
pub fn read(dir: &Path) -> Result<Vec<Measurement>, String> {
    let mut found = Vec::new();
    collect(dir, &mut found)?;
    found.sort_by_key(|m| m.order);
    Ok(found.into_iter().map(|found| found.measurement).collect())
}

struct Found {
    order: std::time::SystemTime,
    measurement: Measurement,
}

fn collect(dir: &Path, found: &mut Vec<Found>) -> Result<(), String> {
    let entries = fs::read_dir(dir).map_err(|e| format!("listing {}: {e}", dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| e.to_string())?.path();
        if path.is_dir() {
            collect(&path, found)?;
        } else if path.file_name().is_some_and(|n| n == "benchmark.json")
            && path.parent().is_some_and(|p| p.ends_with("new"))
            && let Some(new) = path.parent()
        {
            found.push(one(new)?);
        }
    }
    Ok(())
}

fn one(new: &Path) -> Result<Found, String> {
    let id: BenchmarkId = read_json(&new.join("benchmark.json"))?;
    let estimates: Estimates = read_json(&new.join("estimates.json"))?;
    let sample: Sample = read_json(&new.join("sample.json"))?;
    let (group, operation) = id
        .group_id
        .split_once(": ")
        .ok_or_else(|| format!("criterion group {:?} has no `<group>: `", id.group_id))?;
    let group = super::GROUPS
        .iter()
        .map(|(name, _)| *name)
        .find(|name| *name == group)
        .ok_or_else(|| format!("criterion group {group:?} is not a bench group"))?;
    let per_iteration: Vec<f64> = sample
        .times
        .iter()
        .zip(&sample.iters)
        .map(|(time, iters)| time / iters.max(1.0))
        .collect();
    let mut stats = Stats::from_values(per_iteration);
    stats.median = estimates.median.point_estimate;
    stats.mean = estimates.mean.point_estimate;
    let order = fs::metadata(new.join("estimates.json"))
        .and_then(|m| m.modified())
        .map_err(|e| e.to_string())?;
    Ok(Found {
        order,
        measurement: Measurement {
            group,
            operation: operation.to_string(),
            backend: id.function_id.unwrap_or_default(),
            unit: Unit::Nanos,
            stats,
            detail: Some(serde_json::json!({ "source": "criterion" })),
        },
    })
}
