// SPDX-License-Identifier: Apache-2.0
//! Group `calls`: system calls and user-space instructions per old-API
//! operation, for the old module, one `FsBackend` and the fs crate's free
//! functions. Unlike times, these counts barely move on a busy machine.
//!
//! Each subject runs in a child (role `calls`, see `calls_child.rs`) twice:
//! under `strace -f`, which sees every thread's system calls, of which
//! those between the markers around each counted call are counted; and
//! under callgrind, which collects only inside each counted call (on the
//! calling thread) and writes one part of its profile per operation. Each
//! sum is divided by the number of counted calls. A tool that is missing
//! (or a `strace` that may not trace here) leaves its half of the table
//! out, SKIPPED, which the run says at its start and end and in the JSON.

use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};

use super::calls_child::{MARKER_ROOT, Operation, SUBJECTS, WARM_UP};
use super::calls_parse::{Windows, callgrind_parts, strace_windows, unhandled_system_calls};
use super::measure::{Measurement, Recorder, Stats, Unit};
use super::report::format_ratio;
use super::{Options, PgSites};

/// The group's name.
pub const GROUP: &str = "calls";

/// The operation of a system-call count.
pub fn op_system_calls(operation: &str) -> String {
    format!("system calls: {operation}")
}

/// The operation of an instruction count.
pub fn op_instructions(operation: &str) -> String {
    format!("instructions: {operation}")
}

/// Whether `command` with `args` runs and succeeds here; why not when not.
fn works(command: &str, args: &[&str]) -> Result<(), String> {
    let output = Command::new(command)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{command} cannot be started ({e})"))?;
    if output.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&output.stderr);
    Err(format!("{command} fails here: {}", said.trim()))
}

fn strace_works() -> Result<(), String> {
    works("strace", &["-f", "-o", "/dev/null", "true"])
}

fn valgrind_works() -> Result<(), String> {
    works("valgrind", &["--version"])
}

/// What the bench says about each half of the group it cannot measure.
pub fn skipped() -> Vec<String> {
    let mut said = Vec::new();
    if let Err(why) = strace_works() {
        said.push(format!("SKIPPED: the system calls per operation ({why})"));
    }
    if let Err(why) = valgrind_works() {
        said.push(format!("SKIPPED: the instructions per operation ({why})"));
    }
    said
}

/// Runs the group with the subjects' files under `dir`.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path, _pg: &PgSites) {
    recorder.begin_group(
        GROUP,
        "system calls (strace) and instructions (callgrind) per call",
    );
    let (strace_count, callgrind_count) = if options.quick { (10, 3) } else { (100, 50) };
    let (strace, valgrind) = (strace_works().is_ok(), valgrind_works().is_ok());
    for subject in SUBJECTS {
        let place = dir.join(format!("calls-{}", subject.replace(' ', "-")));
        if strace {
            match count_system_calls(&place.join("strace"), subject, strace_count) {
                Ok(found) => {
                    for (op, windows) in found {
                        let per_call = |n: u64| n as f64 / strace_count as f64;
                        let by_call: serde_json::Map<String, serde_json::Value> = windows
                            .calls
                            .iter()
                            .map(|(name, &n)| (name.clone(), per_call(n).into()))
                            .collect();
                        let detail = serde_json::json!({
                            "tool": "strace -f, every thread",
                            "counted_calls": strace_count,
                            "by_call": by_call,
                        });
                        let stats = Stats {
                            samples: strace_count,
                            ..Stats::single(per_call(windows.total()))
                        };
                        let operation = op_system_calls(op.name());
                        recorder.measure(GROUP, &operation, subject, Unit::Count, || {
                            Ok((stats, Some(detail)))
                        });
                    }
                }
                Err(error) => recorder.fail(GROUP, &format!("system calls, {subject}"), error),
            }
        }
        if valgrind {
            match count_instructions(&place.join("callgrind"), subject, callgrind_count) {
                Ok(found) => {
                    let unknown = found.unknown_system_calls;
                    for (op, instructions) in found.per_operation {
                        let stats = Stats {
                            samples: callgrind_count,
                            ..Stats::single(instructions as f64 / callgrind_count as f64)
                        };
                        let detail = serde_json::json!({
                            "tool": "callgrind, the calling thread",
                            "counted_calls": callgrind_count,
                            "system_calls_unknown_to_valgrind": unknown,
                        });
                        let operation = op_instructions(op.name());
                        recorder.measure(GROUP, &operation, subject, Unit::Count, || {
                            Ok((stats, Some(detail)))
                        });
                    }
                }
                Err(error) => recorder.fail(GROUP, &format!("instructions, {subject}"), error),
            }
        }
    }
}

/// Runs the `calls` child for `subject` with `count` counted calls per
/// operation, under `tool` with `tool_args` (which come before the
/// child's command line), its files in `dir`; what it said on stderr.
fn run_child(
    dir: &Path,
    (tool, tool_args): (&str, &[String]),
    subject: &str,
    count: usize,
) -> Result<String, String> {
    fs::create_dir_all(dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
    let exe = std::env::current_exe()
        .map_err(|e| format!("cannot find this executable to start a child: {e}"))?;
    let output = Command::new(tool)
        .args(tool_args)
        .arg(exe)
        .args(["__child", "calls", subject])
        .arg(dir.join("files"))
        .arg(count.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot start {tool}: {e}"))?;
    if output.status.success() {
        return Ok(String::from_utf8_lossy(&output.stderr).into_owned());
    }
    Err(format!(
        "the calls child of {subject} under {tool} failed ({}): {}",
        output.status,
        String::from_utf8_lossy(&output.stderr).trim()
    ))
}

/// The system calls of each operation of `subject`, summed over `count`
/// counted calls.
fn count_system_calls(
    dir: &Path,
    subject: &str,
    count: usize,
) -> Result<Vec<(Operation, Windows)>, String> {
    let trace = dir.join("strace.txt");
    let args = ["-f", "-s", "64", "-o"].map(String::from);
    let mut args = args.to_vec();
    args.push(trace.display().to_string());
    run_child(dir, ("strace", &args), subject, count).map(drop)?;
    let text =
        fs::read_to_string(&trace).map_err(|e| format!("reading {}: {e}", trace.display()))?;
    let _ = fs::remove_file(&trace);
    let mut windows = strace_windows(&text, MARKER_ROOT)?;
    Operation::ALL
        .into_iter()
        .enumerate()
        .map(|(index, op)| {
            let found = windows.remove(&index).unwrap_or_default();
            if found.windows != count as u64 {
                return Err(format!(
                    "strace saw {} counted calls of {} by {subject}, not {count}",
                    found.windows,
                    op.name()
                ));
            }
            Ok((op, found))
        })
        .collect()
}

/// What callgrind counted for one subject.
struct Instructions {
    /// Each operation's instructions, summed over the counted calls.
    per_operation: Vec<(Operation, u64)>,
    /// The system calls valgrind does not know: the child saw `ENOSYS`
    /// for them, and took whatever fallback it has.
    unknown_system_calls: Vec<u32>,
}

/// What callgrind counts of `subject`'s operations, `count` counted calls
/// each.
fn count_instructions(dir: &Path, subject: &str, count: usize) -> Result<Instructions, String> {
    let profile = dir.join("callgrind.out");
    let args = vec![
        "--tool=callgrind".to_string(),
        "-q".to_string(),
        format!("--callgrind-out-file={}", profile.display()),
        "--combine-dumps=yes".to_string(),
        "--collect-atstart=no".to_string(),
        "--toggle-collect=*calls_counted*".to_string(),
        "--dump-before=*calls_done*".to_string(),
    ];
    let said = run_child(dir, ("valgrind", &args), subject, count)?;
    let unknown = unhandled_system_calls(&said);
    let text =
        fs::read_to_string(&profile).map_err(|e| format!("reading {}: {e}", profile.display()))?;
    let _ = fs::remove_file(&profile);
    let parts = callgrind_parts(&text)?;
    // One part per operation, then the one written at the exit.
    if parts.len() != Operation::ALL.len() + 1 {
        return Err(format!(
            "callgrind wrote {} parts for {} operations",
            parts.len(),
            Operation::ALL.len()
        ));
    }
    let found = Operation::ALL
        .into_iter()
        .zip(parts)
        .map(|(op, part)| match part.trigger.contains("calls_done") {
            true => Ok((op, part.instructions)),
            false => Err(format!(
                "callgrind's part for {} was written by {:?}",
                op.name(),
                part.trigger
            )),
        })
        .collect::<Result<_, String>>()?;
    Ok(Instructions {
        per_operation: found,
        unknown_system_calls: unknown,
    })
}

/// `17`, `16.5`; `12,345`.
fn count_text(value: f64) -> String {
    if value >= 1000.0 {
        let digits = format!("{value:.0}");
        let mut grouped = String::new();
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i) % 3 == 0 {
                grouped.push(',');
            }
            grouped.push(c);
        }
        grouped
    } else if (value - value.round()).abs() < 0.05 {
        format!("{value:.0}")
    } else {
        format!("{value:.1}")
    }
}

/// The group's two tables in markdown, or `None` without its
/// measurements: the counts per operation with ratios against the old
/// module, and the system calls by name.
pub fn tables(measurements: &[Measurement]) -> Option<String> {
    let find = |operation: &str, subject: &str| {
        measurements
            .iter()
            .find(|m| m.group == GROUP && m.operation == operation && m.backend == subject)
    };
    if !measurements.iter().any(|m| m.group == GROUP) {
        return None;
    }
    let pair = |op: Operation, subject: &str| {
        (
            find(&op_system_calls(op.name()), subject).map(|m| m.stats.median),
            find(&op_instructions(op.name()), subject).map(|m| m.stats.median),
        )
    };
    let shown = |value: Option<f64>, text: fn(f64) -> String| value.map_or("-".into(), text);
    let mut text = String::from(
        "Calls per operation: old module vs fs vs fs free (system calls / instructions)\n\n",
    );
    text.push_str(&format!(
        "System calls: strace -f, every thread, between markers around each call; instructions: \
         callgrind, user space, the calling thread; counted after {WARM_UP} uncounted calls; \
         fs: FsBackend (relaxed JSON queue); fs free: the free functions (relaxed). \
         'X vs last': last's count / X's (above 1.00x: X makes fewer).\n\n"
    ));
    let unknown: Vec<u64> = measurements
        .iter()
        .filter(|m| m.group == GROUP)
        .filter_map(|m| {
            m.detail.as_ref()?["system_calls_unknown_to_valgrind"]
                .as_array()
                .cloned()
        })
        .flatten()
        .filter_map(|n| n.as_u64())
        .collect::<std::collections::BTreeSet<u64>>()
        .into_iter()
        .collect();
    if !unknown.is_empty() {
        let openat2 = if cfg!(target_arch = "x86_64") && unknown.contains(&437) {
            " (437: openat2)"
        } else {
            ""
        };
        text.push_str(&format!(
            "Valgrind here does not know system call(s) {unknown:?}{openat2}: under callgrind \
             the child got ENOSYS for them and took its fallback, so those instruction counts \
             are of the fallback path; the system-call counts (strace) are of the real one.\n\n"
        ));
    }
    text.push_str("| operation | last | fs | fs free | fs vs last | fs free vs last |\n");
    text.push_str("| --- | ---: | ---: | ---: | ---: | ---: |\n");
    for op in Operation::ALL {
        let mut row = vec![op.name().to_string()];
        for subject in SUBJECTS {
            let (calls, instructions) = pair(op, subject);
            row.push(format!(
                "{} / {}",
                shown(calls, count_text),
                shown(instructions, count_text)
            ));
        }
        let (last_calls, last_instructions) = pair(op, "last");
        for subject in ["fs", "fs free"] {
            let (calls, instructions) = pair(op, subject);
            let ratio = |new: Option<f64>, old: Option<f64>| match (new, old) {
                (Some(n), Some(o)) if n > 0.0 => format_ratio(o / n),
                _ => "-".into(),
            };
            row.push(format!(
                "{} / {}",
                ratio(calls, last_calls),
                ratio(instructions, last_instructions)
            ));
        }
        text.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    text.push_str("\nSystem calls by name, per operation\n\n| operation | last | fs | fs free |\n");
    text.push_str("| --- | --- | --- | --- |\n");
    for op in Operation::ALL {
        let mut row = vec![op.name().to_string()];
        for subject in SUBJECTS {
            let Some(measured) = find(&op_system_calls(op.name()), subject) else {
                row.push("-".into());
                continue;
            };
            let by_call = measured
                .detail
                .as_ref()
                .and_then(|d| d["by_call"].as_object());
            let mut calls: Vec<(&String, f64)> = by_call
                .into_iter()
                .flatten()
                .filter_map(|(name, n)| Some((name, n.as_f64()?)))
                .collect();
            calls.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(b.0)));
            let cell: Vec<String> = calls
                .iter()
                .map(|(name, n)| format!("{name} {}", count_text(*n)))
                .collect();
            row.push(if cell.is_empty() {
                "none".into()
            } else {
                cell.join(", ")
            });
        }
        text.push_str(&format!("| {} |\n", row.join(" | ")));
    }
    Some(text)
}
