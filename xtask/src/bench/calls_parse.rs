// SPDX-License-Identifier: Apache-2.0
//! Reading what the `calls` group's tools wrote: `strace -f -o` output cut
//! into the windows between the child's markers, and callgrind's profile
//! with one part per dump.

use std::collections::BTreeMap;

/// The system calls seen in the windows of one marker number.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Windows {
    /// How many windows (begin and end marker pairs).
    pub windows: u64,
    /// Calls by name, summed over the windows.
    pub calls: BTreeMap<String, u64>,
}

impl Windows {
    /// Every call of the windows.
    pub fn total(&self) -> u64 {
        self.calls.values().sum()
    }
}

/// What a line of `strace -f` output is.
#[derive(Debug, PartialEq, Eq)]
enum Line<'a> {
    /// The start of a system call (finished or `<unfinished ...>`).
    Call { name: &'a str, text: &'a str },
    /// Anything else: a resumed call, a signal, an exit.
    Other,
}

fn classify(line: &str) -> Line<'_> {
    let mut rest = line.trim_start();
    // `-f` prefixes the thread id: `1234 ` in a file, `[pid 1234] ` on a
    // terminal.
    if let Some(after) = rest.strip_prefix("[pid ") {
        rest = after.split_once(']').map_or("", |(_, r)| r).trim_start();
    } else {
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 && rest[digits..].starts_with(' ') {
            rest = rest[digits..].trim_start();
        }
    }
    let Some((name, _)) = rest.split_once('(') else {
        return Line::Other;
    };
    let is_name = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if is_name {
        Line::Call { name, text: rest }
    } else {
        Line::Other
    }
}

/// Cuts `strace -f` output into the windows between the markers (a system
/// call on the path `<root>/b<n>` opens window `n`, one on `<root>/e<n>`
/// closes it; the markers themselves are not counted) and counts the
/// system calls started in each, of every thread. Fails on a window that
/// is not closed before the next opens, or closed without being open.
pub fn strace_windows(output: &str, root: &str) -> Result<BTreeMap<usize, Windows>, String> {
    let mut found: BTreeMap<usize, Windows> = BTreeMap::new();
    let mut open: Option<usize> = None;
    for (number, line) in output.lines().enumerate() {
        let Line::Call { name, text } = classify(line) else {
            continue;
        };
        if let Some(marker) = marker_of(text, root) {
            let (kind, window) = marker.map_err(|m| format!("line {}: {m}", number + 1))?;
            match (kind, open) {
                ('b', None) => open = Some(window),
                ('e', Some(current)) if current == window => {
                    open = None;
                    found.entry(window).or_default().windows += 1;
                }
                _ => {
                    return Err(format!(
                        "line {}: marker {kind}{window} while window {open:?} is open",
                        number + 1
                    ));
                }
            }
            continue;
        }
        if let Some(window) = open {
            let counts = &mut found.entry(window).or_default().calls;
            *counts.entry(name.to_string()).or_default() += 1;
        }
    }
    match open {
        None => Ok(found),
        Some(window) => Err(format!("window {window} is never closed")),
    }
}

/// The marker a call's text names, if it names one: its kind (`b` or `e`)
/// and number.
fn marker_of(text: &str, root: &str) -> Option<Result<(char, usize), String>> {
    let quoted = format!("\"{root}/");
    let start = text.find(&quoted)? + quoted.len();
    let rest = &text[start..];
    let end = rest.find('"').unwrap_or(rest.len());
    let mut chars = rest[..end].chars();
    let kind = chars.next();
    let number = chars.as_str().parse::<usize>();
    Some(match (kind, number) {
        (Some(kind @ ('b' | 'e')), Ok(number)) => Ok((kind, number)),
        _ => Err(format!(
            "a marker path {:?} that does not parse",
            &rest[..end]
        )),
    })
}

/// One part of a callgrind profile (written with `--combine-dumps=yes`):
/// what triggered its dump and the instructions (`Ir`) it collected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// The `desc: Trigger:` line's text, e.g. `--dump-before=calls_done`
    /// or `Program termination`.
    pub trigger: String,
    /// The part's `totals:` (else `summary:`) of its first event.
    pub instructions: u64,
}

/// The parts of a callgrind profile, in order. Fails when a part has no
/// total or its first event is not `Ir`.
pub fn callgrind_parts(profile: &str) -> Result<Vec<Part>, String> {
    let mut parts: Vec<(String, Option<u64>, Option<u64>)> = Vec::new();
    for line in profile.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let first_number = || {
            let word = value.split_whitespace().next().unwrap_or("");
            word.parse::<u64>()
                .map_err(|_| format!("callgrind {key}: {value:?} is not a count"))
        };
        match key {
            "part" => parts.push((String::new(), None, None)),
            "events" if value.split_whitespace().next() != Some("Ir") => {
                return Err(format!("callgrind counts {value:?}, not Ir first"));
            }
            _ => {}
        }
        let Some(part) = parts.last_mut() else {
            continue;
        };
        match key {
            "desc" => {
                if let Some(trigger) = value.strip_prefix("Trigger:") {
                    part.0 = trigger.trim().to_string();
                }
            }
            "totals" => part.1 = Some(first_number()?),
            "summary" => part.2 = Some(first_number()?),
            _ => {}
        }
    }
    parts
        .into_iter()
        .enumerate()
        .map(|(index, (trigger, totals, summary))| {
            let instructions = totals
                .or(summary)
                .ok_or(format!("callgrind part {} has no total", index + 1))?;
            Ok(Part {
                trigger,
                instructions,
            })
        })
        .collect()
}

/// The numbers of the system calls valgrind said it does not handle
/// (`WARNING: unhandled amd64-linux syscall: 437`), in `stderr`, sorted,
/// each once.
pub fn unhandled_system_calls(stderr: &str) -> Vec<u32> {
    let mut numbers: Vec<u32> = stderr
        .lines()
        .filter(|line| line.contains("WARNING: unhandled"))
        .filter_map(|line| line.rsplit_once("syscall:"))
        .filter_map(|(_, number)| number.trim().parse().ok())
        .collect();
    numbers.sort_unstable();
    numbers.dedup();
    numbers
}

#[cfg(test)]
#[path = "calls_parse_test.rs"]
mod tests;
