// SPDX-License-Identifier: Apache-2.0
//! Group `disk` (measured within `queue`): what the disk under the bench
//! costs on its own, to read the queue's numbers against. A plain `std::fs`
//! write of a 1-row entry's bytes to a temporary name and a rename, without
//! and with the two fsyncs (file, then directory) of the durable mode.
//!
//! Its samples are taken in turn with the queue's own (1 row, empty queue),
//! so that both see the disk in the same state: on a shared machine an
//! fsync's cost changes by ten times from one minute to the next.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;

/// The group's name.
pub const GROUP: &str = "disk";
/// Operation: write and rename, no fsync.
pub const OP_RELAXED: &str = "write 1-row entry + rename, no fsync";
/// Operation: write, fsync, rename, fsync the directory.
pub const OP_DURABLE: &str = "write + fsync + rename + fsync dir";
/// The single column.
pub const BACKEND: &str = "std::fs";
/// The name the entry is renamed to (and removed by).
pub const ENTRY: &str = "entry";

/// Writes `bytes` to `dir/entry.tmp` and renames it to `dir/entry`, with
/// the fsyncs when `durable`.
pub fn write_entry(dir: &Path, bytes: &[u8], durable: bool) -> Result<(), String> {
    let temporary = dir.join("entry.tmp");
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)
        .map_err(|e| format!("creating {}: {e}", temporary.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("writing {}: {e}", temporary.display()))?;
    if durable {
        file.sync_data()
            .map_err(|e| format!("fsync of {}: {e}", temporary.display()))?;
    }
    drop(file);
    fs::rename(&temporary, dir.join(ENTRY)).map_err(|e| format!("rename: {e}"))?;
    if durable {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("fsync of {}: {e}", dir.display()))?;
    }
    Ok(())
}
