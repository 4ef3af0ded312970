// SPDX-License-Identifier: Apache-2.0
//! Whether the process a holder record names holds the lock on that file
//! now: a holder leaves its record in place when it releases, so a record
//! is a label worth believing only while its process holds the `flock`.
//!
//! For this process the guards say it (they register the lock files they
//! hold); for another process of this host, `/proc/locks` (its exclusive
//! `FLOCK` on the file's inode). Where `/proc/locks` cannot be read, it
//! cannot be told and the record is taken at its word.

use std::sync::{Mutex, PoisonError};

/// The lock files (device, inode) this process's guards hold now, one
/// element per guard.
static HELD_HERE: Mutex<Vec<(u64, u64)>> = Mutex::new(Vec::new());

/// Notes that a guard of this process now holds the lock file `key`.
pub(crate) fn hold(key: (u64, u64)) {
    HELD_HERE
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(key);
}

/// Notes that a guard of this process released the lock file `key`.
pub(crate) fn release(key: (u64, u64)) {
    let mut held = HELD_HERE.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(at) = held.iter().position(|kept| *kept == key) {
        held.swap_remove(at);
    }
}

/// Whether process `pid` of this host holds the lock file `key` now;
/// `None` when it cannot be told.
pub(crate) fn holds(pid: u32, key: (u64, u64)) -> Option<bool> {
    if pid == std::process::id() {
        let held = HELD_HERE.lock().unwrap_or_else(PoisonError::into_inner);
        return Some(held.contains(&key));
    }
    let locks = std::fs::read_to_string("/proc/locks").ok()?;
    Some(holds_in(&locks, pid, key.1))
}

/// Whether the `/proc/locks` text `locks` shows process `pid` holding an
/// exclusive `FLOCK` on inode `ino`. Lines look like
/// `1: FLOCK  ADVISORY  WRITE 4242 fe:00:6464113 0 EOF`, and a request
/// still waiting has `->` after the number. The device is left out: some
/// file systems (Btrfs subvolumes) show another device there than `stat`.
fn holds_in(locks: &str, pid: u32, ino: u64) -> bool {
    locks.lines().any(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [_, kind, _, mode, holder, file, ..] = fields.as_slice() else {
            return false;
        };
        *kind == "FLOCK"
            && *mode == "WRITE"
            && holder.parse() == Ok(pid)
            && file.rsplit(':').next().and_then(|i| i.parse().ok()) == Some(ino)
    })
}

#[cfg(test)]
#[path = "holding_test.rs"]
mod tests;
