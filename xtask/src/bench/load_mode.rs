// SPDX-License-Identifier: Apache-2.0
//! What the load groups' parent and writers share: how a writer writes
//! ([`Mode`], with the lock timeouts) and what it counted ([`Counts`]).

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The lock timeout of every write of the throughput group.
pub const TIMEOUT: Duration = Duration::from_millis(100);
/// The lock timeout of the group-commit group: shorter than a durable
/// apply, so that under contention most writers queue, and the next lock
/// holder applies them.
pub const GROUP_COMMIT_TIMEOUT: Duration = Duration::from_millis(1);

/// The throughput group's floor: a blocking `flock` on one lock file, one
/// appended row, unlock; the cost of any design that takes a file lock per
/// write and hands it from process to process.
pub const FLOOR_FLOCK: &str = "floor: bare flock";
/// The group-commit group's per-write apply floor: the same with the
/// append fsynced (`fdatasync`) before the unlock.
pub const FLOOR_DURABLE_APPEND: &str = "floor: durable append";
/// The group-commit group's enqueue floor: a durable file-per-entry queue's
/// physical pattern alone (write a temporary, fsync it, rename it into a
/// shared directory, fsync the directory), with no lock and no table.
pub const FLOOR_DURABLE_ENQUEUE: &str = "floor: durable enqueue";
/// The group-commit group's relaxed-queue floor: each write first sleeps
/// the lock timeout (as a writer does that finds the lock busy for all of
/// it), then the enqueue floor's pattern without its two flushes.
pub const FLOOR_TIMEOUT_ENQUEUE: &str = "floor: timeout + enqueue";

/// The group-commit group's pg queue floor: each write one transaction,
/// sent in one message, that takes the table's producers' lock (an
/// advisory transaction lock, as a pg queue that keeps its entries in
/// order and its capacity exact must) and inserts one row, committed
/// durably; no lock holder, no apply. No queue on this server that orders
/// its producers this way queues faster: the lock is held across each
/// commit's flush.
pub const FLOOR_PG_ENQUEUE: &str = "pg floor: ordered enqueue";

/// The group-commit group's `submit_grouped` column: every write queued in
/// a relaxed queue and acknowledged once a lock holder has applied it (one
/// fsync of the table file per batch, none of its own), waiting at most
/// [`TIMEOUT`] for that, as the old module's writers wait at most its poll
/// interval (100 ms) for its lock.
pub const GROUPED: &str = "fs grouped";

/// How a writer writes, from its column label.
#[derive(Debug, Clone, Serialize)]
pub struct Mode {
    /// The column label (`last`, `fs durable`, `fs batch`, `sqlite relaxed`,
    /// `floor: bare flock`, ...).
    pub label: String,
    /// `last`, `fs`, `pg`, `sqlite`, or one of the floors: `flock` (a bare
    /// blocking `flock` around each append), `enqueue` (a durable queue
    /// entry's two flushes, no lock, no table) and `pg-enqueue` (one
    /// ordered insert per write on the server, no table).
    pub backend: &'static str,
    /// Whether queue entries are durable.
    pub durable_queue: bool,
    /// Whether the apply fsyncs the table file.
    pub durable_apply: bool,
    /// Whether fs applies in batches (`submit_batch`), or SQLite applies
    /// what it drains with the writer's own write in one append.
    pub batch: bool,
    /// Whether fs writes through `submit_grouped` ([`GROUPED`]).
    pub grouped: bool,
    /// The lock timeout of each write; for [`GROUPED`], how long a write
    /// waits to be applied.
    pub timeout: Duration,
}

impl Mode {
    /// The mode of a column; `durable_apply` for the group-commit group
    /// (whose fs queue is durable).
    pub fn parse(label: &str, durable_apply: bool) -> Result<Mode, String> {
        let (backend, durable_queue, batch) = match label {
            "last" => ("last", false, false),
            "fs durable" | "fs per-write" => ("fs", true, false),
            "fs relaxed" => ("fs", false, false),
            "fs batch" => ("fs", true, true),
            "fs per-write relaxed" => ("fs", false, false),
            "fs batch relaxed" => ("fs", false, true),
            GROUPED => ("fs", false, true),
            "pg durable" | "pg per-write" => ("pg", true, false),
            "pg relaxed" => ("pg", false, false),
            "pg batch" => ("pg", true, true),
            "sqlite durable" | "sqlite per-write" => ("sqlite", true, false),
            "sqlite batch" => ("sqlite", true, true),
            "sqlite relaxed" => ("sqlite", false, false),
            FLOOR_FLOCK | FLOOR_DURABLE_APPEND => ("flock", false, false),
            FLOOR_DURABLE_ENQUEUE => ("enqueue", true, false),
            FLOOR_TIMEOUT_ENQUEUE => ("enqueue", false, false),
            FLOOR_PG_ENQUEUE => ("pg-enqueue", true, false),
            other => return Err(format!("no writing mode called {other:?}")),
        };
        Ok(Mode {
            label: label.to_string(),
            backend,
            durable_queue,
            durable_apply,
            batch,
            grouped: label == GROUPED,
            timeout: if durable_apply && label != GROUPED {
                GROUP_COMMIT_TIMEOUT
            } else {
                TIMEOUT
            },
        })
    }
}

/// What one writer did.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Counts {
    /// Writes it submitted.
    pub submitted: u64,
    /// Its own writes applied under the lock.
    pub applied_direct: u64,
    /// Its own writes that went to the queue.
    pub queued: u64,
    /// Its own writes refused: queue full (or, for SQLite, still busy).
    pub rejected: u64,
    /// [`GROUPED`]: its own writes still queued when their wait ended
    /// (acknowledged as queued, with the relaxed queue's durability).
    #[serde(default)]
    pub unapplied: u64,
    /// Its own writes that failed because the old module read a partly
    /// written queue entry while draining.
    pub failed: u64,
    /// Queued writes (of any writer) it applied while holding the lock.
    pub drained: u64,
    /// When it stopped, nanoseconds since the Unix epoch.
    pub ended_at: u128,
    /// Nanoseconds from each acknowledged write's start to its
    /// acknowledgement.
    pub latencies: Vec<u64>,
}

impl Counts {
    /// Adds `other`'s counts to these.
    pub fn add(&mut self, other: &Counts) {
        self.submitted += other.submitted;
        self.applied_direct += other.applied_direct;
        self.queued += other.queued;
        self.rejected += other.rejected;
        self.unapplied += other.unapplied;
        self.failed += other.failed;
        self.drained += other.drained;
        self.ended_at = self.ended_at.max(other.ended_at);
        self.latencies.extend(&other.latencies);
    }
}
