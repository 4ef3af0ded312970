// SPDX-License-Identifier: Apache-2.0
//! Group `lock`: uncontended acquire+release (lock file exists, and the
//! first lock of a new table) and `is_locked` (lock file exists, absent),
//! on the old module, the fs backend and the mem backend, in one process.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use reedbase_concurrent_core::LockBackend;
use reedbase_concurrent_mem::MemBackend;
use reedbase_last::concurrent as last;

use super::Options;
use super::measure::{Recorder, Slot, sample_interleaved};

/// The group's name.
pub const GROUP: &str = "lock";
/// Operation: acquire and drop the guard, the lock file already exists.
pub const OP_ACQUIRE_EXISTING: &str = "acquire+release, lock file exists";
/// Operation: acquire and drop the guard on a table never locked before.
pub const OP_ACQUIRE_NEW: &str = "acquire+release, new table";
/// Operation: `is_locked` on a free table whose lock file exists.
pub const OP_IS_LOCKED_EXISTS: &str = "is_locked, lock file exists";
/// Operation: `is_locked` on a table without a lock file.
pub const OP_IS_LOCKED_ABSENT: &str = "is_locked, lock file absent";

/// Samples per backend for the cheap operations (a tenth with `--quick`).
const SAMPLES: usize = 20_000;
/// Samples per backend for the first lock of a new table, each of which
/// creates a directory.
const SAMPLES_NEW_TABLE: usize = 2_000;
/// The timeout passed to `acquire_lock`; never reached, nobody else holds
/// the lock.
const TIMEOUT: Duration = Duration::from_secs(1);

/// One backend under test.
enum Subject {
    /// The old module's free functions on this base directory.
    Last(PathBuf),
    /// The fs backend's free functions (the same code as `FsBackend`).
    Fs(PathBuf),
    /// The in-memory backend.
    Mem(MemBackend),
}

impl Subject {
    /// Takes the table's lock and releases it at once.
    fn acquire_release(&self, table: &str) -> Result<(), String> {
        match self {
            Subject::Last(base) => last::acquire_lock(base, table, TIMEOUT)
                .map(drop)
                .map_err(|e| format!("last acquire_lock: {e}")),
            Subject::Fs(base) => reedbase_concurrent_fs::acquire_lock(base, table, TIMEOUT)
                .map(drop)
                .map_err(|e| format!("fs acquire_lock: {e}")),
            Subject::Mem(backend) => backend
                .acquire_lock(table, TIMEOUT)
                .map(drop)
                .map_err(|e| format!("mem acquire_lock: {e}")),
        }
    }

    /// Asks whether the table is locked, which it must not be.
    fn check_unlocked(&self, table: &str) -> Result<(), String> {
        let locked = match self {
            Subject::Last(base) => {
                last::is_locked(base, table).map_err(|e| format!("last is_locked: {e}"))?
            }
            Subject::Fs(base) => reedbase_concurrent_fs::is_locked(base, table)
                .map_err(|e| format!("fs is_locked: {e}"))?,
            Subject::Mem(backend) => backend
                .is_locked(table)
                .map_err(|e| format!("mem is_locked: {e}"))?,
        };
        if locked {
            return Err(format!(
                "is_locked says {table:?} is locked; nobody holds it"
            ));
        }
        Ok(())
    }
}

/// Runs the group's measurements with base directories under `dir`; the
/// three backends' samples are interleaved.
pub fn run(recorder: &mut Recorder, options: &Options, dir: &Path) {
    recorder.begin_group(GROUP, "uncontended locking in one process");
    let subjects = [
        ("last", Subject::Last(dir.join("lock-last"))),
        ("fs", Subject::Fs(dir.join("lock-fs"))),
        ("mem", Subject::Mem(MemBackend::new())),
    ];
    let slots = |operation: &'static str| -> Vec<Slot> {
        subjects
            .iter()
            .map(|(name, _)| Slot {
                group: GROUP,
                operation,
                backend: name.to_string(),
            })
            .collect()
    };
    let count = options.count(SAMPLES);
    let count_new = options.count(SAMPLES_NEW_TABLE);

    recorder.measure_interleaved(&slots(OP_ACQUIRE_EXISTING), || {
        for (_, subject) in &subjects {
            subject.acquire_release("bench")?;
        }
        sample_interleaved(count, count / 10, subjects.len(), |index, _| {
            let subject = &subjects[index].1;
            let start = Instant::now();
            subject.acquire_release("bench")?;
            Ok(start.elapsed())
        })
    });
    recorder.measure_interleaved(&slots(OP_ACQUIRE_NEW), || {
        sample_interleaved(count_new, count_new / 10, subjects.len(), |index, round| {
            let subject = &subjects[index].1;
            let table = format!("new_{round}");
            let start = Instant::now();
            subject.acquire_release(&table)?;
            Ok(start.elapsed())
        })
    });
    for (operation, table) in [
        (OP_IS_LOCKED_EXISTS, "bench"),
        (OP_IS_LOCKED_ABSENT, "never_locked"),
    ] {
        recorder.measure_interleaved(&slots(operation), || {
            sample_interleaved(count, count / 10, subjects.len(), |index, _| {
                let subject = &subjects[index].1;
                let start = Instant::now();
                subject.check_unlocked(table)?;
                Ok(start.elapsed())
            })
        });
    }
}
