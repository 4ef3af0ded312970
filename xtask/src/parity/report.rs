// SPDX-License-Identifier: Apache-2.0
//! Verdicts against the listing, the printed table, the details of what
//! failed, and the summary line.

use std::fmt::Write as _;

use super::findings::{Finding, Group};
use super::listing::Listing;

/// How a scenario stands against PARITY.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// All backends agree, and nothing is listed.
    Same,
    /// The backends differ exactly as PARITY.md lists.
    Listed,
    /// The backends differ and PARITY.md does not list it (or lists other
    /// backends).
    Unlisted,
    /// PARITY.md lists a difference that did not happen.
    Stale,
    /// All agreed this time, and PARITY.md lists the difference as
    /// happening only sometimes.
    SameSometimes,
    /// The old module alone failed a conformance case that PARITY.md does
    /// not list, and passed it in some of the runs again: a timing-dependent
    /// flaw of the old module. Reported with a warning to list it; it does
    /// not fail the run, since no run can be made to show it.
    IntermittentUnlisted,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Verdict::Same => "same",
            Verdict::Listed => "improved (listed)",
            Verdict::Unlisted => "UNLISTED",
            Verdict::Stale => "STALE LISTING",
            Verdict::SameSometimes => "same (listed: sometimes)",
            Verdict::IntermittentUnlisted => "improved (UNLISTED, intermittent)",
        }
    }
}

/// The verdict of one finding.
pub fn verdict(finding: &Finding, listing: &Listing) -> Verdict {
    let listed = listing.entries.get(&finding.scenario);
    match (&finding.divergence, listed) {
        (None, None) => Verdict::Same,
        (None, Some(l)) if l.sometimes => Verdict::SameSometimes,
        (None, Some(_)) => Verdict::Stale,
        (Some(d), Some(l)) if l.differs_on == d.differs_on => Verdict::Listed,
        (Some(d), _) if d.intermittent.is_some() => Verdict::IntermittentUnlisted,
        (Some(_), _) => Verdict::Unlisted,
    }
}

/// Listed scenario names that no finding has (a renamed case, a removed
/// check): each is a stale listing too.
pub fn orphan_listings<'a>(findings: &[Finding], listing: &'a Listing) -> Vec<&'a str> {
    listing
        .entries
        .keys()
        .filter(|name| !findings.iter().any(|f| &f.scenario == *name))
        .map(String::as_str)
        .collect()
}

/// The table: one heading per group, one row per finding, then one row per
/// orphan listing.
pub fn table(findings: &[Finding], listing: &Listing, orphans: &[&str]) -> String {
    let header = ["scenario", "last", "fs", "mem", "pg", "verdict"];
    let mut rows: Vec<[String; 6]> = findings
        .iter()
        .map(|f| {
            [
                format!("  {}", f.scenario),
                f.cells[0].clone(),
                f.cells[1].clone(),
                f.cells[2].clone(),
                f.cells[3].clone(),
                verdict(f, listing).text().to_string(),
            ]
        })
        .collect();
    rows.extend(orphans.iter().map(|name| {
        [
            format!("  {name}"),
            "not run".to_string(),
            "not run".to_string(),
            "not run".to_string(),
            "not run".to_string(),
            Verdict::Stale.text().to_string(),
        ]
    }));
    let mut widths = header.map(|h| h.chars().count());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let line = |cells: &[String; 6]| -> String {
        let padded: Vec<String> = cells
            .iter()
            .zip(widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        format!("{}\n", padded.join(" | ").trim_end())
    };
    let mut out = line(&header.map(str::to_string));
    let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
    out.push_str(&format!("{}\n", rule.join("-+-")));
    let mut previous = None;
    for (index, row) in rows.iter().enumerate() {
        let group = findings.get(index).map(|f| f.group);
        if group != previous {
            let title = group.map_or(
                "listed in PARITY.md, but no such scenario ran",
                Group::title,
            );
            out.push_str(&format!("{title}\n"));
            previous = group;
        }
        out.push_str(&line(row));
    }
    out
}

/// The details of every unlisted divergence and stale listing.
pub fn details(findings: &[Finding], listing: &Listing, orphans: &[&str]) -> String {
    let mut out = String::new();
    for finding in findings {
        match verdict(finding, listing) {
            Verdict::Unlisted => {
                let Some(divergence) = &finding.divergence else {
                    continue;
                };
                let _ = write!(
                    out,
                    "UNLISTED {} (differs on {}):\n{}",
                    finding.scenario, divergence.differs_on, divergence.detail
                );
                if divergence.differs_on.involves_new_backend() {
                    let _ = writeln!(
                        out,
                        "  fs, mem or pg is involved: a new backend breaks its contract or the new backends disagree. Fix it; do not list it."
                    );
                }
                if let Some(listed) = listing.entries.get(&finding.scenario) {
                    let _ = writeln!(
                        out,
                        "  PARITY.md line {} lists it as differing on {} only.",
                        listed.line, listed.differs_on
                    );
                }
                out.push('\n');
            }
            Verdict::Stale => {
                if let Some(listed) = listing.entries.get(&finding.scenario) {
                    let _ = writeln!(
                        out,
                        "STALE LISTING {}: PARITY.md line {} says it differs on {} ({}), but all agreed in this run.\n",
                        finding.scenario, listed.line, listed.differs_on, listed.reason
                    );
                }
            }
            Verdict::IntermittentUnlisted => {
                let Some(divergence) = &finding.divergence else {
                    continue;
                };
                let reruns = divergence.intermittent.map_or_else(String::new, |r| {
                    format!(", then {} of {} runs again", r.failed, r.runs)
                });
                let _ = write!(
                    out,
                    "INTERMITTENT, UNLISTED {} (failed on last alone{reruns}):\n{}",
                    finding.scenario, divergence.detail
                );
                let _ = writeln!(
                    out,
                    "  A flaw of the old module that comes and goes with timing. Measure it with `cargo xtask parity --repeat-last N` and list it in PARITY.md as `last (sometimes)` (and in reedbase-last's INTERMITTENT_FAILURES).\n"
                );
            }
            Verdict::Same | Verdict::Listed | Verdict::SameSometimes => {}
        }
    }
    for name in orphans {
        if let Some(listed) = listing.entries.get(*name) {
            let _ = writeln!(
                out,
                "STALE LISTING {name}: PARITY.md line {} names a scenario that does not exist.\n",
                listed.line
            );
        }
    }
    out
}

/// Counts of each verdict: (same, listed, unlisted, stale, intermittent
/// on the old module and unlisted).
pub fn counts(findings: &[Finding], listing: &Listing, orphans: usize) -> [usize; 5] {
    let mut counts = [0, 0, 0, orphans, 0];
    for finding in findings {
        let slot = match verdict(finding, listing) {
            Verdict::Same | Verdict::SameSometimes => 0,
            Verdict::Listed => 1,
            Verdict::Unlisted => 2,
            Verdict::Stale => 3,
            Verdict::IntermittentUnlisted => 4,
        };
        counts[slot] += 1;
    }
    counts
}

#[cfg(test)]
#[path = "report_test.rs"]
mod tests;
