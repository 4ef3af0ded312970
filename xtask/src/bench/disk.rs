// SPDX-License-Identifier: Apache-2.0
//! Group `disk` (run with `queue`): what the disk under the bench costs on
//! its own, to read the queue's numbers against. A plain `std::fs` write of
//! one 1-row entry's bytes to a temporary name and a rename, without and
//! with the two fsyncs (file, then directory) of the durable mode.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::Path;
use std::time::Instant;

use super::Options;
use super::data;
use super::measure::{Recorder, Unit, sample_ns};

/// The group's name.
pub const GROUP: &str = "disk";
/// Operation: write and rename, no fsync.
pub const OP_RELAXED: &str = "write 1-row entry + rename, no fsync";
/// Operation: write, fsync, rename, fsync the directory.
pub const OP_DURABLE: &str = "write + fsync + rename + fsync dir";
/// The single column.
pub const BACKEND: &str = "std::fs";

/// Samples without fsync (`--quick`: a tenth).
const SAMPLES: usize = 2_000;
/// Samples with the fsyncs.
const SAMPLES_DURABLE: usize = 300;

/// Writes `bytes` to `dir/entry.tmp`, renames it to `dir/entry`, with the
/// fsyncs when `durable`.
fn write_entry(dir: &Path, bytes: &[u8], durable: bool) -> Result<(), String> {
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
    fs::rename(&temporary, dir.join("entry")).map_err(|e| format!("rename: {e}"))?;
    if durable {
        File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| format!("fsync of {}: {e}", dir.display()))?;
    }
    Ok(())
}

/// Runs the group's measurements in a directory under `dir`.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path) {
    recorder.begin_group(GROUP, "the disk alone, for reference");
    let dir = dir.join("disk");
    let bytes = serde_json::to_vec(&data::core_write(1)).unwrap_or_default();
    for (operation, durable, full) in [
        (OP_RELAXED, false, SAMPLES),
        (OP_DURABLE, true, SAMPLES_DURABLE),
    ] {
        let count = options.count(full);
        recorder.measure_stats(GROUP, operation, BACKEND, Unit::Nanos, || {
            fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            sample_ns(count, count / 10, |_| {
                let start = Instant::now();
                write_entry(&dir, &bytes, durable)?;
                let elapsed = start.elapsed();
                fs::remove_file(dir.join("entry")).map_err(|e| format!("removing: {e}"))?;
                Ok(elapsed)
            })
        });
    }
}
