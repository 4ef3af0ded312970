// SPDX-License-Identifier: Apache-2.0
//! Reading the intentional divergences listed in `PARITY.md`.
//!
//! The listing is every markdown table row under a header row whose first
//! three cells are `scenario`, `differs on` and `reason`. The first cell
//! names a scenario as the table prints it (backticks allowed), the second
//! the backends that differ (`last`, or `fs, mem`, ...), optionally followed
//! by `(sometimes)` for a timing-dependent difference, the third says why.
//! Everything else in the file is prose for people and is ignored.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use super::findings::BackendSet;

/// One listed divergence.
#[derive(Debug, Clone)]
pub struct Listed {
    /// The backends expected to differ.
    pub differs_on: BackendSet,
    /// Whether it is listed as happening only sometimes (`(sometimes)` in
    /// the `differs on` cell): a timing-dependent flaw of the old module that
    /// a run may or may not show. Such a listing is never stale.
    pub sometimes: bool,
    /// Why the difference is intended.
    pub reason: String,
    /// The line of PARITY.md it was read from (1-based).
    pub line: usize,
}

/// The listed divergences by scenario name.
#[derive(Debug, Clone, Default)]
pub struct Listing {
    /// Scenario name to listing.
    pub entries: BTreeMap<String, Listed>,
}

/// `PARITY.md` at the workspace root.
pub fn default_path() -> PathBuf {
    crate::workspace::workspace_root().join("PARITY.md")
}

/// Reads and parses the listing at `path`.
///
/// # Errors
///
/// The file cannot be read, or a row under a listing header is malformed
/// (too few cells, an unknown backend, an empty reason, a scenario listed
/// twice), named with its line number.
pub fn read(path: &Path) -> Result<Listing, String> {
    let text = fs::read_to_string(path)
        .map_err(|e| format!("cannot read the divergence listing {}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

fn parse(text: &str) -> Result<Listing, String> {
    let mut listing = Listing::default();
    let mut in_listing = false;
    let mut found_header = false;
    for (index, raw) in text.lines().enumerate() {
        let line_no = index + 1;
        let line = raw.trim();
        if !line.starts_with('|') {
            in_listing = false;
            continue;
        }
        let cells = split_row(line);
        if is_listing_header(&cells) {
            in_listing = true;
            found_header = true;
            continue;
        }
        if !in_listing || is_separator(&cells) {
            continue;
        }
        let [scenario, differs_on, reason, ..] = cells.as_slice() else {
            return Err(format!(
                "line {line_no}: a listing row needs three cells: scenario | differs on | reason"
            ));
        };
        let scenario = scenario.trim_matches('`').trim().to_string();
        if scenario.is_empty() {
            return Err(format!("line {line_no}: empty scenario name"));
        }
        let sometimes = differs_on.contains("(sometimes)");
        let differs_on = BackendSet::parse(&differs_on.replace("(sometimes)", ""))
            .map_err(|e| format!("line {line_no}: `differs on` of {scenario}: {e}"))?;
        if reason.is_empty() {
            return Err(format!(
                "line {line_no}: {scenario} is listed without a reason"
            ));
        }
        let listed = Listed {
            differs_on,
            sometimes,
            reason: reason.to_string(),
            line: line_no,
        };
        if let Some(earlier) = listing.entries.insert(scenario.clone(), listed) {
            return Err(format!(
                "line {line_no}: {scenario} is listed twice (also on line {})",
                earlier.line
            ));
        }
    }
    if !found_header {
        return Err(
            "no listing table: expected a markdown table with the header `scenario | differs on | reason`"
                .to_string(),
        );
    }
    Ok(listing)
}

fn split_row(line: &str) -> Vec<String> {
    let inner = line.trim_start_matches('|');
    let inner = inner.strip_suffix('|').unwrap_or(inner);
    inner
        .split('|')
        .map(|cell| cell.trim().to_string())
        .collect()
}

fn is_listing_header(cells: &[String]) -> bool {
    let lower: Vec<String> = cells.iter().map(|c| c.to_lowercase()).collect();
    lower.len() >= 3 && lower[0] == "scenario" && lower[1] == "differs on" && lower[2] == "reason"
}

fn is_separator(cells: &[String]) -> bool {
    cells
        .iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| matches!(ch, '-' | ':' | ' ')))
}
