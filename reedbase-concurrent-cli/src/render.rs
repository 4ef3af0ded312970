// SPDX-License-Identifier: Apache-2.0
//! The text a person reads: aligned columns, one line per table or entry.

use std::fmt::Write as _;

use crate::report::{EntryReport, LockReport, MovedReport, TableStatus};

/// Columns padded to their widest cell, two spaces apart; the last column
/// is not padded.
pub fn columns(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let header: Vec<String> = headers.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(rows) {
        let last = row.len().saturating_sub(1);
        let mut line = String::new();
        for (index, cell) in row.iter().enumerate() {
            if index == last {
                line.push_str(cell);
            } else {
                let _ = write!(line, "{cell:<width$}  ", width = widths[index]);
            }
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// `4s`, `1m 04s`, `2h 03m`, `3d 04h`.
pub fn age(seconds: f64) -> String {
    let secs = seconds.max(0.0) as u64;
    match secs {
        0..60 => format!("{secs}s"),
        60..3600 => format!("{}m {:02}s", secs / 60, secs % 60),
        3600..86_400 => format!("{}h {:02}m", secs / 3600, secs % 3600 / 60),
        _ => format!("{}d {:02}h", secs / 86_400, secs % 86_400 / 3600),
    }
}

/// `status`: one line per table.
pub fn status(where_: &str, tables: &[TableStatus]) -> String {
    if tables.is_empty() {
        return format!("no tables in {where_}\n");
    }
    let rows: Vec<Vec<String>> = tables
        .iter()
        .map(|table| {
            let mut pending = table.pending.to_string();
            if table.unreadable > 0 {
                let _ = write!(pending, " ({} unreadable)", table.unreadable);
            }
            if table.failing > 0 {
                let _ = write!(pending, " ({} failing)", table.failing);
            }
            vec![
                table.table.clone(),
                lock_text(&table.lock),
                pending,
                table.oldest_age_secs.map_or_else(|| "-".to_string(), age),
                moved_summary(&table.moved_aside),
            ]
        })
        .collect();
    columns(
        &["TABLE", "LOCK", "PENDING", "OLDEST", "MOVED ASIDE"],
        &rows,
    )
}

/// `free`, or `held by ...`.
pub fn lock_text(lock: &LockReport) -> String {
    match &lock.holder {
        Some(holder) => format!("held by {}", holder.text),
        None => "free".to_string(),
    }
}

/// `0`, or `2 (1 dead letter after 3 attempts, 1 unreadable)`.
fn moved_summary(moved: &[MovedReport]) -> String {
    if moved.is_empty() {
        return "0".to_string();
    }
    let dead: Vec<&MovedReport> = moved.iter().filter(|m| m.dead_letter).collect();
    let mut parts = Vec::new();
    if !dead.is_empty() {
        let attempts: Vec<String> = dead
            .iter()
            .map(|m| {
                m.attempts
                    .map_or_else(|| "?".to_string(), |n| n.to_string())
            })
            .collect();
        parts.push(format!(
            "{} dead letter{} after {} attempts",
            dead.len(),
            if dead.len() == 1 { "" } else { "s" },
            attempts.join("/")
        ));
    }
    let unreadable = moved.len() - dead.len();
    if unreadable > 0 {
        parts.push(format!("{unreadable} unreadable"));
    }
    format!("{} ({})", moved.len(), parts.join(", "))
}

/// `queue list`.
pub fn entries(table: &str, entries: &[EntryReport]) -> String {
    if entries.is_empty() {
        return format!("queue of table '{table}' is empty\n");
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|entry| {
            vec![
                entry.position.to_string(),
                entry.id.clone(),
                entry.age_secs.map_or_else(|| "-".to_string(), age),
                entry.operation.clone().unwrap_or_else(|| "-".to_string()),
                entry.rows.len().to_string(),
                entry.attempts.to_string(),
                match &entry.error {
                    Some(reason) => format!("unreadable: {reason}"),
                    None => "ok".to_string(),
                },
            ]
        })
        .collect();
    columns(
        &["#", "ID", "AGE", "OPERATION", "ROWS", "ATTEMPTS", "STATE"],
        &rows,
    )
}

/// `queue show`.
pub fn entry(table: &str, entry: &EntryReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "table:      {table}");
    let _ = writeln!(out, "id:         {}", entry.id);
    let _ = writeln!(out, "position:   {}", entry.position);
    if let Some(age_secs) = entry.age_secs {
        let _ = writeln!(out, "queued:     {} ago", age(age_secs));
    }
    let _ = writeln!(out, "bytes:      {}", entry.bytes);
    let _ = writeln!(out, "attempts:   {}", entry.attempts);
    match (&entry.operation, &entry.error) {
        (Some(operation), _) => {
            let _ = writeln!(out, "operation:  {operation}");
            let _ = writeln!(out, "rows:       {}", entry.rows.len());
            for row in &entry.rows {
                let _ = writeln!(out, "  {row}");
            }
        }
        (None, Some(reason)) => {
            let _ = writeln!(out, "unreadable: {reason}");
        }
        (None, None) => {}
    }
    out
}

/// `corrupt list`.
pub fn moved(moved: &[MovedReport]) -> String {
    if moved.is_empty() {
        return "no entries moved aside\n".to_string();
    }
    let rows: Vec<Vec<String>> = moved
        .iter()
        .map(|m| {
            vec![
                m.table.clone(),
                m.id.clone(),
                if m.dead_letter {
                    "dead letter"
                } else {
                    "unreadable"
                }
                .to_string(),
                m.attempts
                    .map_or_else(|| "-".to_string(), |n| n.to_string()),
                format!("{} (at {})", m.reason, m.location),
            ]
        })
        .collect();
    columns(&["TABLE", "ID", "KIND", "ATTEMPTS", "REASON"], &rows)
}

#[cfg(test)]
#[path = "render_test.rs"]
mod tests;
