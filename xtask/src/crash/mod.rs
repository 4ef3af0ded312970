// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask crash`: power cuts and I/O errors below the fs backend, the
//! durable queue and the table writer, on the fault-injecting file system
//! of `reedbase-faultfs` (a FUSE mount served by this process; needs root
//! and `/dev/fuse`).
//!
//! For each scenario (per-write or batch apply, durable or relaxed queue),
//! writer processes submit a small numbered workload through the
//! coordinator. One run without faults counts the workload's durability
//! boundaries (the file system's fsyncs and renames); then the workload
//! runs once per boundary with the power cut just before it, and
//! `--random` more times with the power cut at a random moment. After each
//! cut the file system forgets what was not durable, a restart process
//! runs the start-up recipe (`recover_all`, then `drain_all`) and reports
//! what a reader finds, and `verify` checks it. The I/O-error runs fail
//! the n-th write, fsync, rename, unlink or mkdir with `EIO` or `ENOSPC`
//! instead, writers submitting a failed write again, and check that a call
//! reported as failed never shows its rows, one reported as applied always
//! does, and nothing is applied twice.
//!
//! Exits non-zero on any violation, and when the file system cannot be
//! mounted.

pub mod child;
mod runs;
mod verify;

use std::path::PathBuf;

use clap::Args;

/// The table every writer writes.
const TABLE: &str = "crash";

/// The options of `cargo xtask crash`.
#[derive(Debug, Clone, Args)]
pub struct Options {
    /// Writer processes running at once
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..))]
    pub writers: u32,
    /// Writes each writer submits
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..))]
    pub writes: u32,
    /// Power cuts at random moments, per scenario, besides one at every boundary
    #[arg(long, default_value_t = 10)]
    pub random: u32,
    /// I/O-error runs per kind of call and scenario (the n-th call failed, n spread over the calls of a run)
    #[arg(long, default_value_t = 6)]
    pub io_runs: u32,
    /// Only the per-write durable scenario (for a short run)
    #[arg(long)]
    pub quick: bool,
    /// Print one row per boundary, not only the totals per scenario
    #[arg(long)]
    pub per_boundary: bool,
    /// Seed of the random moments (default: from the clock; printed)
    #[arg(long)]
    pub seed: Option<u64>,
    /// Mount the file system in this (empty) directory instead of a temporary one
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

/// Runs `cargo xtask crash`.
pub fn run(options: &Options) -> Result<(), String> {
    runs::run(options)
}
