// SPDX-License-Identifier: Apache-2.0
//! Who this process is (pid, host name, start time), and whether a process
//! named in a holder record is still alive.
//!
//! Everything here is best effort: where `/proc` is missing, the start time
//! is unknown and liveness cannot be checked.

use std::fs;
use std::process;
use std::sync::OnceLock;

/// The longest host name recorded, in bytes (Linux's `HOST_NAME_MAX`).
const MAX_HOST_BYTES: usize = 64;

/// The host name recorded when none can be read.
const UNKNOWN_HOST: &str = "unknown";

/// This machine's host name, read once per process.
///
/// Read from `/proc/sys/kernel/hostname`, else `/etc/hostname`, else
/// [`UNKNOWN_HOST`]; cut to [`MAX_HOST_BYTES`], with every byte outside
/// `[A-Za-z0-9._-]` replaced by `_` so that it fits the holder record.
pub(super) fn host_name() -> &'static str {
    static HOST: OnceLock<String> = OnceLock::new();
    HOST.get_or_init(|| {
        ["/proc/sys/kernel/hostname", "/etc/hostname"]
            .iter()
            .filter_map(|path| fs::read_to_string(path).ok())
            .map(|text| sanitise_host(text.trim()))
            .find(|host| !host.is_empty())
            .unwrap_or_else(|| UNKNOWN_HOST.to_string())
    })
}

/// Makes `raw` safe for the holder record (see [`host_name`]).
fn sanitise_host(raw: &str) -> String {
    raw.bytes()
        .take(MAX_HOST_BYTES)
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b'_' {
                char::from(b)
            } else {
                '_'
            }
        })
        .collect()
}

/// This process's start time in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`), with the pid it belongs to; `None` without `/proc`.
///
/// Cached, and read again if the pid changed (a forked child).
pub(super) fn own_start_ticks() -> Option<u64> {
    static START: OnceLock<(u32, Option<u64>)> = OnceLock::new();
    let pid = process::id();
    let (cached_pid, ticks) = *START.get_or_init(|| (pid, start_ticks(pid)));
    if cached_pid == pid {
        ticks
    } else {
        start_ticks(pid)
    }
}

/// The start time of process `pid` in clock ticks since boot, or `None` if
/// it does not exist or `/proc` cannot tell.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    parse_start_ticks(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line. The second field (the command
/// name, in parentheses) may itself hold spaces and parentheses, so fields
/// are counted after the last `)`.
fn parse_start_ticks(stat: &str) -> Option<u64> {
    let (_, after_name) = stat.rsplit_once(')')?;
    // after_name starts with field 3 (the state), so field 22 is index 19.
    after_name.split_whitespace().nth(19)?.parse().ok()
}

/// True when the process a holder record names is certainly gone: the
/// record was written on this host, `/proc` works here, and either no
/// process has that pid or the one that has it started at another time (the
/// pid was reused).
///
/// False whenever it cannot be told (another host, no `/proc`): a record is
/// then taken at its word.
pub(super) fn is_certainly_gone(pid: u32, recorded_start: Option<u64>, host: &str) -> bool {
    if host != host_name() || own_start_ticks().is_none() {
        return false;
    }
    match (start_ticks(pid), recorded_start) {
        (None, _) => true,
        (Some(now), Some(then)) => now != then,
        (Some(_), None) => false,
    }
}

#[cfg(test)]
#[path = "identity_test.rs"]
mod tests;
