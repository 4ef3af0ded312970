// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask parity`: the same scenarios on the old module
//! (`reedbase-last`), the fs backend and the mem backend, compared, with
//! every difference checked against the listing in `PARITY.md`.
//!
//! Four groups of scenarios, each a group of rows in the printed table:
//! 1. the old module's own tests: its type tests on the old and core types
//!    ([`type_checks`]), its lock and queue tests as conformance cases;
//! 2. the rest of the conformance suite; every case of both groups runs on
//!    each backend ([`conformance_runs`]);
//! 3. proptest-generated sequential traces, compared step by step, one row
//!    per class of step ([`traces`]);
//! 4. cross-compatibility on a shared directory and across processes
//!    ([`cross_compat`], with the lock-holding child in [`holder`]).
//!
//! The command fails when a divergence is not listed, or a listed one did
//! not happen.

mod backends;
mod conformance_runs;
mod cross_compat;
mod findings;
mod holder;
mod last_reliability;
mod listing;
mod report;
mod trace_compare;
mod traces;
mod type_checks;

use std::path::PathBuf;
use std::time::Instant;

const USAGE: &str = "\
usage: cargo xtask parity [--cases N] [--seed S] [--listing FILE]
       cargo xtask parity --repeat-last N

  --cases N        random traces to run besides the fixed coverage trace (default 64)
  --seed S         seed of the traces, decimal or 0x-hex (default 0x5eed)
  --listing FILE   the intentional divergences (default: PARITY.md at the workspace root)
  --repeat-last N  instead, run every conformance case N times on the old module alone
                   and print how often each failed (measures the `(sometimes)` listings)
";

const DEFAULT_CASES: usize = 64;
const DEFAULT_SEED: u64 = 0x5eed;

/// The parsed command line.
struct Options {
    cases: usize,
    seed: u64,
    listing: PathBuf,
    repeat_last: Option<usize>,
}

fn parse_args(args: &[String]) -> Result<Option<Options>, String> {
    let mut options = Options {
        cases: DEFAULT_CASES,
        seed: DEFAULT_SEED,
        listing: listing::default_path(),
        repeat_last: None,
    };
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| {
            args.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match arg.as_str() {
            "--cases" => {
                let text = value("--cases")?;
                options.cases = text
                    .parse()
                    .map_err(|_| format!("--cases wants a whole number, got {text:?}"))?;
            }
            "--seed" => {
                let text = value("--seed")?;
                options.seed = parse_seed(&text).ok_or_else(|| {
                    format!("--seed wants a decimal or 0x-hex number, got {text:?}")
                })?;
            }
            "--listing" => options.listing = PathBuf::from(value("--listing")?),
            "--repeat-last" => {
                let text = value("--repeat-last")?;
                let rounds = text.parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    format!("--repeat-last wants a positive whole number, got {text:?}")
                })?;
                options.repeat_last = Some(rounds);
            }
            "-h" | "--help" => {
                print!("{USAGE}");
                return Ok(None);
            }
            other => return Err(format!("unknown parity option {other:?}\n\n{USAGE}")),
        }
    }
    Ok(Some(options))
}

fn parse_seed(text: &str) -> Option<u64> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16).ok(),
        None => text.replace('_', "").parse().ok(),
    }
}

/// Runs `cargo xtask parity`.
///
/// # Errors
///
/// Bad arguments, an unreadable or malformed PARITY.md, or any unlisted
/// divergence or stale listing.
pub fn run(args: &[String]) -> Result<(), String> {
    let Some(options) = parse_args(args)? else {
        return Ok(());
    };
    let listing = listing::read(&options.listing)?;
    backends::install_quiet_hook();
    if let Some(rounds) = options.repeat_last {
        return last_reliability::run(rounds, &listing);
    }
    let started = Instant::now();
    println!("ReedBase parity: the old module (reedbase-last) beside the new fs and mem backends.");
    println!(
        "Each scenario runs on all three: the old module's tests and the rest of the conformance\n\
         suite, {} random operation traces (seed {:#x}) plus a fixed coverage trace, and\n\
         cross-compatibility checks on a shared directory across processes. Absolute table\n\
         names go to fs and mem only: the old module would write wherever they point.\n\
         A difference is accepted only if {} lists it with its reason.\n",
        options.cases,
        options.seed,
        file_name(&options.listing)
    );

    let mut warnings = Vec::new();
    eprintln!(
        "[1/3] the old module's tests and the conformance suite, every case on last, fs and mem"
    );
    let mut findings = type_checks::run();
    findings.extend(conformance_runs::run(&listing, &mut warnings));
    eprintln!("[2/3] random sequential traces");
    let (trace_findings, trace_detail) = traces::run(options.cases, options.seed, &listing)?;
    findings.extend(trace_findings);
    eprintln!("[3/3] cross-compatibility between the old module and fs");
    findings.extend(cross_compat::run());
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
    let [same, listed, unlisted, stale] = report::counts(&findings, &listing, orphans.len());
    println!(
        "\n{} scenarios in {:.0} s: {same} same, {listed} improved (listed), {unlisted} unlisted, {stale} stale listings.",
        findings.len(),
        started.elapsed().as_secs_f64()
    );
    if unlisted + stale == 0 {
        println!(
            "Parity holds: every difference from the old module is intended and explained in {}.",
            file_name(&options.listing)
        );
        Ok(())
    } else {
        Err(format!(
            "parity fails: {unlisted} unlisted divergence(s) and {stale} stale listing(s); see above, and {}",
            file_name(&options.listing)
        ))
    }
}

fn file_name(path: &std::path::Path) -> String {
    path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    )
}

/// Entry point of the child processes this task spawns
/// (`cargo xtask __parity-child <role> ...`).
///
/// # Errors
///
/// An unknown role, or the role's own failure.
pub fn child(args: &[String]) -> Result<(), String> {
    match args.split_first() {
        Some((role, rest)) if role == "hold-lock" => holder::hold_lock(rest),
        _ => Err("usage: __parity-child hold-lock <last|fs> <base> <table>".to_string()),
    }
}
