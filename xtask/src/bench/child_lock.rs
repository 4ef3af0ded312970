// SPDX-License-Identifier: Apache-2.0
//! What the lock children need: taking a lock with either the old module or
//! the fs backend, and reading this process's CPU time.

use std::fs;
use std::path::Path;
use std::time::Duration;

use reedbase_last::concurrent as last;
use reedbase_last::error::ReedError as LastError;

/// A lock held by a child, of either backend; dropping it releases it.
#[allow(dead_code)] // The guards are held for their `Drop`, never read.
pub enum HeldLock {
    /// The old module's guard.
    Last(last::TableLock),
    /// The fs backend's guard.
    Fs(reedbase_concurrent_fs::TableLock),
}

/// Takes `table`'s lock with `backend` (`last` or `fs`), waiting at most
/// `timeout`; `Ok(None)` when it timed out.
pub fn acquire(
    backend: &str,
    base: &Path,
    table: &str,
    timeout: Duration,
) -> Result<Option<HeldLock>, String> {
    match backend {
        "last" => match last::acquire_lock(base, table, timeout) {
            Ok(guard) => Ok(Some(HeldLock::Last(guard))),
            Err(LastError::LockTimeout { .. }) => Ok(None),
            Err(error) => Err(format!("last acquire_lock: {error}")),
        },
        "fs" => match reedbase_concurrent_fs::acquire_lock(base, table, timeout) {
            Ok(guard) => Ok(Some(HeldLock::Fs(guard))),
            Err(error) if error.is_lock_timeout() => Ok(None),
            Err(error) => Err(format!("fs acquire_lock: {error}")),
        },
        other => Err(format!("unknown lock backend {other:?} (last, fs)")),
    }
}

/// The CPU time this process (its main thread) has used, in nanoseconds.
///
/// Reads `/proc/self/schedstat` (nanoseconds on the CPU), or failing that
/// the user and system time of `/proc/self/stat`, in clock ticks taken as
/// 100 per second (Linux's `USER_HZ` on every common platform).
pub fn cpu_time_ns() -> Result<u64, String> {
    if let Ok(text) = fs::read_to_string("/proc/self/schedstat")
        && let Some(Ok(nanos)) = text.split_whitespace().next().map(str::parse::<u64>)
    {
        return Ok(nanos);
    }
    let text = fs::read_to_string("/proc/self/stat")
        .map_err(|e| format!("cannot read /proc/self/stat for the CPU time (Linux only): {e}"))?;
    // Fields after the command name (which is in parentheses and may hold
    // spaces): state is field 3, utime 14 and stime 15.
    let after_name = text
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("/proc/self/stat has no command name")?;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |index: usize| -> Result<u64, String> {
        fields
            .get(index)
            .and_then(|field| field.parse().ok())
            .ok_or_else(|| format!("/proc/self/stat field {} is not a number", index + 3))
    };
    Ok((ticks(11)? + ticks(12)?) * 10_000_000)
}
