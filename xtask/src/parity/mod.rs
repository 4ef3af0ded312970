// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask parity`: the same scenarios on the old module
//! (`reedbase-last`), the fs backend, the mem backend and the pg backend,
//! compared, with every difference checked against the listing in
//! `PARITY.md`.
//!
//! The pg column needs a PostgreSQL server, found as the pg crate's tests
//! find it ([`crate::pg_server`]); without one it reads SKIPPED, loudly,
//! and the other columns are compared alone; with
//! `REEDBASE_PG_REQUIRED=1` a missing server fails the command.
//!
//! Four groups of scenarios, each a group of rows in the printed table:
//! 1. the old module's own tests: its type tests on the old and core types
//!    (`type_checks.rs`), its lock and queue tests as conformance cases;
//! 2. the rest of the conformance suite; every case of both groups runs on
//!    each backend (`conformance_runs.rs`);
//! 3. proptest-generated sequential traces, compared step by step, one row
//!    per class of step (`traces.rs`);
//! 4. cross-compatibility on a shared directory and across processes
//!    (`cross_compat.rs`, with the lock-holding child of [`crate::held_lock`]),
//!    and queue entries copied to and from the pg queue (`pg_entries.rs`).
//!
//! The command fails when a divergence is not listed, or a listed one did
//! not happen.

mod backends;
mod compat_samples;
mod conformance_runs;
mod cross_compat;
mod findings;
mod last_reliability;
mod listing;
mod pg_entries;
mod report;
mod trace_compare;
mod traces;
mod type_checks;

use std::path::PathBuf;
use std::time::Instant;

use backends::Bases;

/// The options of `cargo xtask parity`.
#[derive(Debug, Clone, clap::Args)]
pub struct Options {
    /// Random traces to run besides the fixed coverage trace
    #[arg(long, default_value_t = 64)]
    cases: usize,
    /// Seed of the traces, decimal or 0x-hex
    #[arg(long, default_value = "0x5eed", value_parser = parse_seed)]
    seed: u64,
    /// The intentional divergences [default: PARITY.md at the workspace root]
    #[arg(long, value_name = "FILE")]
    listing: Option<PathBuf>,
    /// Instead, run every conformance case N times on the old module alone
    /// and print how often each failed (measures the `(sometimes)` listings)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    repeat_last: Option<u64>,
}

fn parse_seed(text: &str) -> Result<u64, String> {
    let parsed = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => text.replace('_', "").parse().ok(),
    };
    parsed.ok_or_else(|| format!("want a decimal or 0x-hex number, got {text:?}"))
}

/// Runs `cargo xtask parity`.
///
/// # Errors
///
/// Bad arguments, an unreadable or malformed PARITY.md, or any unlisted
/// divergence or stale listing.
pub fn run(options: &Options) -> Result<(), String> {
    let listing_path = options
        .listing
        .clone()
        .unwrap_or_else(listing::default_path);
    let listing = listing::read(&listing_path)?;
    backends::install_quiet_hook();
    if let Some(rounds) = options.repeat_last {
        return last_reliability::run(rounds as usize, &listing);
    }
    let started = Instant::now();
    let server = crate::pg_server::find("cargo xtask parity, the pg column")?;
    let bases = Bases::new(server.map(|server| server.run("xtask_parity")));
    println!(
        "ReedBase parity: the old module (reedbase-last) beside the new fs, mem and pg backends."
    );
    println!(
        "Each scenario runs on all four: the old module's tests and the rest of the conformance\n\
         suite, {} random operation traces (seed {:#x}) plus a fixed coverage trace, and\n\
         cross-compatibility checks on a shared directory across processes and between the\n\
         file queues and pg's queue table. Absolute table names go to the new backends only:\n\
         the old module would write wherever they point.\n\
         A difference is accepted only if {} lists it with its reason.\n",
        options.cases,
        options.seed,
        file_name(&listing_path)
    );
    match bases.pg_server() {
        Some(server) => println!("pg: the server at {}\n", server.url()),
        None => println!(
            "pg: SKIPPED, no PostgreSQL server answers: the pg column is not compared. Set {} or start\n\
             the local server; {}=1 makes this a failure.\n",
            reedbase_concurrent_pg::testing::URL_ENV,
            reedbase_concurrent_pg::testing::REQUIRED_ENV
        ),
    }

    let mut warnings = Vec::new();
    eprintln!(
        "[1/3] the old module's tests and the conformance suite, every case on last, fs, mem and pg"
    );
    let mut findings = type_checks::run();
    findings.extend(conformance_runs::run(&listing, &mut warnings, &bases));
    eprintln!("[2/3] random sequential traces");
    let (trace_findings, trace_detail) =
        traces::run(options.cases, options.seed, &listing, &bases)?;
    findings.extend(trace_findings);
    eprintln!("[3/3] cross-compatibility between the old module, fs and pg");
    findings.extend(cross_compat::run(&bases));
    eprintln!();

    let orphans = report::orphan_listings(&findings, &listing);
    print!("{}", report::table(&findings, &listing, &orphans));
    let details = report::details(&findings, &listing, &orphans);
    if !details.is_empty() || trace_detail.is_some() {
        println!("\nWhat differed:\n");
        print!("{details}");
        if let Some(trace_detail) = trace_detail {
            println!("{trace_detail}");
        }
    }
    for warning in &warnings {
        println!("warning: {warning}");
    }
    let [same, listed, unlisted, stale, intermittent] =
        report::counts(&findings, &listing, orphans.len());
    println!(
        "\n{} scenarios in {:.0} s: {same} same, {listed} improved (listed), {unlisted} unlisted, {stale} stale listings.",
        findings.len(),
        started.elapsed().as_secs_f64()
    );
    if intermittent > 0 {
        println!(
            "warning: {intermittent} intermittent flaw(s) of the old module not listed in {}; see above.",
            file_name(&listing_path)
        );
    }
    if unlisted + stale == 0 {
        println!(
            "Parity holds: every difference from the old module is intended and explained in {}.",
            file_name(&listing_path)
        );
        Ok(())
    } else {
        Err(format!(
            "parity fails: {unlisted} unlisted divergence(s) and {stale} stale listing(s); see above, and {}",
            file_name(&listing_path)
        ))
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}
