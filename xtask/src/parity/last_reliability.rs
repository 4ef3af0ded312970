// SPDX-License-Identifier: Apache-2.0
//! `cargo xtask parity --repeat-last N`: every conformance case N times on
//! the old module alone, with how often each failed beside how PARITY.md
//! lists it. This is how the `(sometimes)` listings are measured.

use std::time::Instant;

use reedbase_concurrent_conformance::{self as conformance, run_case};
use reedbase_last::LastBackend;

use super::backends::{Bases, quietly};
use super::listing::Listing;

/// Runs each case `rounds` times on a fresh old module and prints a table.
///
/// # Errors
///
/// None in practice; the `Result` matches the other subcommands.
pub fn run(rounds: usize, listing: &Listing) -> Result<(), String> {
    let started = Instant::now();
    let bases = Bases::default();
    let cases = conformance::cases::<LastBackend>();
    let width = cases.iter().map(|c| c.name.len()).max().unwrap_or(4).max(4);
    println!("Each conformance case {rounds} times on the old module (reedbase-last):\n");
    println!("{:<width$} | failed | PARITY.md lists", "case");
    println!("{}-+--------+----------------", "-".repeat(width));
    for (index, case) in cases.iter().enumerate() {
        eprintln!("  [{}/{}] {}", index + 1, cases.len(), case.name);
        let failed = (0..rounds)
            .filter(|_| {
                let last = bases.clone();
                quietly(|| run_case(case, move || last.last()))
                    .and_then(|inner| inner)
                    .is_err()
            })
            .count();
        let listed = match listing.entries.get(case.name) {
            Some(l) if l.sometimes => format!("{} (sometimes)", l.differs_on),
            Some(l) => l.differs_on.to_string(),
            None => "-".to_string(),
        };
        println!("{:<width$} | {failed:>3}/{rounds:<3}| {listed}", case.name);
    }
    println!(
        "\n{} cases x {rounds} rounds in {:.0} s. A case that fails in some rounds but not all is listed as `last (sometimes)`.",
        cases.len(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
