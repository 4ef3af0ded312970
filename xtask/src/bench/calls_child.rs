// SPDX-License-Identifier: Apache-2.0
//! Child role `calls`: one subject's old-API operations, for the `calls`
//! group, which runs this child under `strace` and under callgrind.
//!
//! Each operation gets its set-up (a lock taken once, a queue filled), a
//! warm-up of [`WARM_UP`] calls (so that what a subject does once per
//! process is not counted; the last one after a pause of 150 ms, so that
//! the fs crate's looks at a directory laid out just before are settled,
//! as in steady use), then `count` counted calls. Each counted call
//! runs inside `calls_counted` (callgrind collects only in there) between
//! two marker system calls, a failing `stat` of `<MARKER_ROOT>/b<op>` and
//! `.../e<op>` (the parent counts only what `strace` saw between them);
//! what a call needs around it (the entry a removal removes, the removal of
//! an entry just queued) runs outside. After each operation the child calls
//! `calls_done`, where callgrind writes one part of its profile.

use std::hint::black_box;
use std::path::{Path, PathBuf};

use clap::Args;

use super::subjects::{Payload, Subject, base_of, subject};
use crate::pg_site::PgSite;

/// An old-API operation whose calls are counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `acquire_lock` and the guard's drop, the lock file there.
    LockExists,
    /// The same on a table never locked before.
    LockNewTable,
    /// `is_locked` of a free table whose lock file exists.
    IsLockedExists,
    /// `is_locked` of a table without a lock file.
    IsLockedAbsent,
    /// `is_locked` of a free table whose lock file another process made,
    /// in a process that never locked it (a monitor, a reader).
    IsLockedOnlyProbed,
    /// `wait_for_unlock` on a free lock.
    WaitFree,
    /// `queue_write` of one row to an empty queue, relaxed.
    QueueWrite,
    /// `get_next_pending` with 100 entries queued.
    NextPending,
    /// `remove_from_queue` with 100 entries queued.
    Remove,
    /// `count_pending` with 100 entries queued.
    Count,
}

impl Operation {
    /// Every operation, in the order the child runs them (`<op>` in the
    /// markers is an index into this).
    pub const ALL: [Operation; 10] = [
        Operation::LockExists,
        Operation::LockNewTable,
        Operation::IsLockedExists,
        Operation::IsLockedAbsent,
        Operation::IsLockedOnlyProbed,
        Operation::WaitFree,
        Operation::QueueWrite,
        Operation::NextPending,
        Operation::Remove,
        Operation::Count,
    ];

    /// Its row in the tables (the `lock` and `queue` groups' names).
    pub fn name(self) -> &'static str {
        match self {
            Operation::LockExists => "acquire+release, lock file exists",
            Operation::LockNewTable => "acquire+release, new table",
            Operation::IsLockedExists => "is_locked, lock file exists",
            Operation::IsLockedAbsent => "is_locked, lock file absent",
            Operation::IsLockedOnlyProbed => "is_locked, only probed by this process",
            Operation::WaitFree => "wait_for_unlock, lock free",
            Operation::QueueWrite => "queue_write 1 row, empty queue, relaxed",
            Operation::NextPending => "get_next_pending, depth 100",
            Operation::Remove => "remove_from_queue, depth 100",
            Operation::Count => "count_pending, depth 100",
        }
    }

    fn is_queue(self) -> bool {
        matches!(
            self,
            Operation::QueueWrite | Operation::NextPending | Operation::Remove | Operation::Count
        )
    }
}

/// The columns: the old module, one `FsBackend` (with a relaxed JSON queue
/// for the queue operations, as in the `queue` group), and the fs crate's
/// free functions (relaxed).
pub const SUBJECTS: [&str; 3] = ["last", "fs", "fs free"];

/// Where the markers point: a path that does not exist.
pub const MARKER_ROOT: &str = "/.reedbase-calls";

/// Uncounted calls of each operation before the counted ones.
pub const WARM_UP: usize = 3;

/// How long the child waits before the last warm-up call of an operation:
/// more than the 100 ms after which the fs crate keeps a look's answer.
const SETTLE: std::time::Duration = std::time::Duration::from_millis(150);

/// Child role `calls`.
#[derive(Debug, Args)]
pub struct CallsArgs {
    /// The subject: `last`, `fs` or `fs free`.
    subject: String,
    /// Where its files go.
    dir: PathBuf,
    /// How many counted calls of each operation.
    count: usize,
}

/// Runs role `calls`.
pub fn calls(args: &CallsArgs) -> Result<(), String> {
    if !SUBJECTS.contains(&args.subject.as_str()) {
        return Err(format!("no calls subject called {:?}", args.subject));
    }
    for (index, op) in Operation::ALL.into_iter().enumerate() {
        let label = match (args.subject.as_str(), op.is_queue()) {
            ("fs", true) => "fs relaxed json",
            (other, _) => other,
        };
        let s = subject(&args.dir, &PgSite::default(), label)?;
        let counted = Counted {
            marker: index,
            rounds: WARM_UP + args.count,
        };
        run_operation(s.as_ref(), &base_of(&args.dir, label), op, &counted)
            .map_err(|e| format!("{} / {}: {e}", op.name(), args.subject))?;
        calls_done(index);
    }
    Ok(())
}

/// What callgrind counts: everything `work` does, and nothing else.
#[inline(never)]
fn calls_counted(work: &mut dyn FnMut() -> Result<(), String>) -> Result<(), String> {
    black_box(work)()
}

/// The end of operation `op`'s counted calls (callgrind dumps its profile
/// on the way in).
#[inline(never)]
fn calls_done(op: usize) {
    black_box(op);
}

/// A marker system call: `kind` `b` (begin) or `e` (end) of a counted call
/// of operation `op`.
fn marker(kind: char, op: usize) {
    let _ = std::fs::symlink_metadata(format!("{MARKER_ROOT}/{kind}{op}"));
}

/// How one operation's calls are run: `rounds` of them, the first
/// [`WARM_UP`] uncounted, the others between markers numbered `marker`.
struct Counted {
    marker: usize,
    rounds: usize,
}

impl Counted {
    /// Runs round `round`'s `work`, counted from round [`WARM_UP`] on.
    fn round(
        &self,
        round: usize,
        work: &mut dyn FnMut() -> Result<(), String>,
    ) -> Result<(), String> {
        if round + 1 == WARM_UP {
            // As in steady use: the fs crate trusts what a look at a
            // directory found only once the directory's last change is
            // 100 ms old (see its design note on the queue look), and the
            // set-up and the first calls have just laid the table out.
            std::thread::sleep(SETTLE);
        }
        if round < WARM_UP {
            return work();
        }
        marker('b', self.marker);
        let done = calls_counted(work);
        marker('e', self.marker);
        done
    }
}

fn expect_false(found: Option<Result<bool, String>>, what: &str) -> Result<(), String> {
    match found {
        Some(Ok(false)) => Ok(()),
        Some(Ok(true)) => Err(format!("{what}: a free lock was said to be held")),
        Some(Err(e)) => Err(e),
        None => Err(format!("{what}: not offered by this subject")),
    }
}

fn run_operation(
    s: &dyn Subject,
    base: &Path,
    op: Operation,
    counted: &Counted,
) -> Result<(), String> {
    let filler = Payload::rows(1);
    let lock_once = || s.acquire_release("bench");
    match op {
        Operation::LockExists => {
            lock_once()?;
            for r in 0..counted.rounds {
                counted.round(r, &mut || s.acquire_release("bench"))?;
            }
        }
        Operation::LockNewTable => {
            for r in 0..counted.rounds {
                let table = format!("t{r}");
                counted.round(r, &mut || s.acquire_release(&table))?;
            }
        }
        Operation::IsLockedExists | Operation::IsLockedAbsent => {
            lock_once()?;
            let table = match op {
                Operation::IsLockedExists => "bench",
                _ => "never_locked",
            };
            for r in 0..counted.rounds {
                counted.round(r, &mut || expect_false(s.is_locked(table), "is_locked"))?;
            }
        }
        Operation::IsLockedOnlyProbed => {
            // As another process (or the old module) leaves it: an empty
            // `write.lock` in the table's directory.
            let table_dir = base.join("tables").join("probed_only");
            std::fs::create_dir_all(&table_dir)
                .and_then(|()| std::fs::write(table_dir.join("write.lock"), b""))
                .map_err(|e| format!("making {}: {e}", table_dir.display()))?;
            for r in 0..counted.rounds {
                counted.round(r, &mut || {
                    expect_false(s.is_locked("probed_only"), "is_locked")
                })?;
            }
        }
        Operation::WaitFree => {
            lock_once()?;
            for r in 0..counted.rounds {
                counted.round(r, &mut || {
                    s.wait_free("bench")
                        .unwrap_or(Err("no wait_for_unlock".into()))
                })?;
            }
        }
        Operation::QueueWrite => {
            for r in 0..counted.rounds {
                let mut id = String::new();
                counted.round(r, &mut || {
                    id = s.queue_write_timed("empty", &filler)?.1;
                    Ok(())
                })?;
                s.remove("empty", &id)?;
            }
        }
        Operation::NextPending => {
            s.fill("depth100", &filler, 100)?;
            for r in 0..counted.rounds {
                counted.round(r, &mut || match s.next_id("depth100")? {
                    Some(_) => Ok(()),
                    None => Err("get_next_pending found the queue empty".into()),
                })?;
            }
        }
        Operation::Remove => {
            s.fill("remove100", &filler, 99)?;
            for r in 0..counted.rounds {
                let (_, id) = s.queue_write_timed("remove100", &filler)?;
                counted.round(r, &mut || s.remove("remove100", &id))?;
            }
        }
        Operation::Count => {
            s.fill("count100", &filler, 100)?;
            for r in 0..counted.rounds {
                counted.round(r, &mut || match s.count("count100")? {
                    100 => Ok(()),
                    other => Err(format!("count_pending said {other}, not 100")),
                })?;
            }
        }
    }
    Ok(())
}
