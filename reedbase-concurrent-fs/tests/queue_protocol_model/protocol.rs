// SPDX-License-Identifier: Apache-2.0
//! What is checked: the configuration (processes, writes, capacity, faults),
//! the protocol's variant (faithful, or a deliberately broken mutation),
//! and the steps each process takes, in order, named after the functions
//! of the fs backend and the coordinator that take them.

use std::fmt;

/// `FsOptions::durability`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Durability {
    Durable,
    Relaxed,
}

/// How `move_aside` writes the reason and moves the entry.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum MoveAside {
    /// As `queue/corrupt.rs` had it before it synced (a broken variant):
    /// reason written, entry renamed, no fsync of either.
    Unsynced,
    /// Reason fsynced and its name made durable before the rename, then
    /// `corrupt/` and the queue directory fsynced.
    Synced,
}

/// What a consumer's listing of the queue directory returns.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Listing {
    /// The directory as it is at one moment (one `getdents64` call of a
    /// small directory, under the directory's lock).
    Snapshot,
    /// As POSIX specifies `readdir`: every entry present throughout the
    /// listing, and any of those created or deleted during it. The
    /// consumer checks each listing by another, as `listing::ordered_entries`
    /// does (unless [`Mutation::UncheckedListing`]).
    Posix,
}

/// A deliberately broken protocol, which the checker must refute.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Mutation {
    /// The write is acknowledged before the directory fsync.
    AcknowledgeBeforeDirFsync,
    /// Count and number before taking the producers' lock.
    NumberOutsideLock,
    /// The temporary is renamed without its fsync.
    NoTemporaryFsync,
    /// The consumer removes an entry before applying it.
    RemoveBeforeApply,
    /// The sequence is the number of pending entries, not the highest + 1.
    NumberByCount,
    /// `submit` applies its own write before the queued ones.
    OwnWriteFirst,
    /// A failed directory fsync after the rename takes the entry back and
    /// reports the write as not queued (as the code did before it reported
    /// the outcome as unknown).
    TakeBackOnDirFsyncError,
    /// The consumer delivers from one listing, without checking it by a
    /// second (as the code did before `ordered_entries` checked it).
    UncheckedListing,
}

#[derive(Clone, Debug)]
pub(crate) struct Config {
    /// One list of writes per producer; writes are numbered 0, 1, ... in
    /// the order listed.
    pub(crate) producers: Vec<u8>,
    pub(crate) capacity: usize,
    pub(crate) durability: Durability,
    /// A damaged entry (sequence 0) lies in the queue from the start.
    pub(crate) damaged_entry: bool,
    pub(crate) move_aside: MoveAside,
    pub(crate) listing: Listing,
    /// The consumer's first call is a `submit` of a write of its own
    /// (numbered after the producers' writes), then it drains.
    pub(crate) submit: bool,
    /// A directory fsync of a producer may fail (EIO); the call then
    /// reports `QueueOutcomeUnknown` and leaves the entry queued.
    pub(crate) dir_fsync_errors: bool,
    pub(crate) max_crashes: u8,
    /// Hold the queue to its capacity after a power cut too (which may
    /// bring back entries whose removal or move was not yet durable).
    pub(crate) capacity_after_power_cut: bool,
    pub(crate) max_power_cuts: u8,
    pub(crate) mutation: Option<Mutation>,
}

impl Config {
    /// Two producers (two writes and one), one consumer, capacity 2,
    /// durable, one SIGKILL and one power cut.
    pub(crate) fn small() -> Config {
        Config {
            producers: vec![2, 1],
            capacity: 2,
            durability: Durability::Durable,
            damaged_entry: false,
            move_aside: MoveAside::Synced,
            listing: Listing::Snapshot,
            submit: false,
            dir_fsync_errors: false,
            max_crashes: 1,
            capacity_after_power_cut: false,
            max_power_cuts: 1,
            mutation: None,
        }
    }

    /// The writes of producer `p`.
    pub(crate) fn writes_of(&self, p: usize) -> std::ops::Range<u8> {
        let first: u8 = self.producers[..p].iter().sum();
        first..first + self.producers[p]
    }

    /// The producers' writes (the consumer's own write comes after them).
    pub(crate) fn write_count(&self) -> u8 {
        self.producers.iter().sum()
    }
}

/// A step of a process, named after the function that takes it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Action {
    // Producer: `producer::enqueue` and `Staged`.
    CreateTemporary,
    LockTemporary,
    WriteTemporary,
    FsyncTemporary,
    LockProducers,
    CountAndNumber,
    SweepTemporaries,
    RenameIntoQueue,
    RefuseQueueFull,
    UnlockProducers,
    FsyncQueueDir,
    TakeBack,
    Acknowledge,
    // Consumer: the coordinator's drain over `FsBackend`.
    AcquireLock,
    ListQueue,
    ListQueueAgain,
    GetNextPending,
    Apply,
    ApplyOwn,
    RemoveFromQueue,
    CreateReason,
    WriteReason,
    FsyncReason,
    FsyncCorruptDir,
    RenameAside,
    // Faults.
    Crash,
    PowerCut,
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self {
            Action::CreateTemporary => "create_temporary",
            Action::LockTemporary => "lock_temporary",
            Action::WriteTemporary => "write_temporary",
            Action::FsyncTemporary => "fsync_temporary",
            Action::LockProducers => "lock_producers",
            Action::CountAndNumber => "count_and_number",
            Action::SweepTemporaries => "sweep_temporaries",
            Action::RenameIntoQueue => "rename_into_queue",
            Action::RefuseQueueFull => "refuse_queue_full",
            Action::UnlockProducers => "unlock_producers",
            Action::FsyncQueueDir => "fsync_queue_dir",
            Action::TakeBack => "take_back",
            Action::Acknowledge => "acknowledge",
            Action::AcquireLock => "acquire_lock",
            Action::ListQueue => "get_next_pending: list_begin",
            Action::ListQueueAgain => "get_next_pending: check_listing",
            Action::GetNextPending => "get_next_pending",
            Action::Apply => "apply",
            Action::ApplyOwn => "apply (submit's own write)",
            Action::RemoveFromQueue => "remove_from_queue",
            Action::CreateReason => "move_aside: create_reason",
            Action::WriteReason => "move_aside: write_reason",
            Action::FsyncReason => "move_aside: fsync_reason",
            Action::FsyncCorruptDir => "move_aside: fsync_corrupt_dir",
            Action::RenameAside => "move_aside: rename_aside",
            Action::Crash => "crash",
            Action::PowerCut => "power_cut",
        };
        f.write_str(name)
    }
}

/// Who takes a step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Actor {
    Producer(u8),
    Consumer,
    Power,
}

/// One transition: who, what, which of the step's outcomes (a power
/// cut's combination, an entry among ties, a failed fsync), and the steps
/// the process took at once after it (see [`is_eager`]).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Step {
    pub(crate) actor: Actor,
    pub(crate) action: Action,
    pub(crate) choice: u8,
    pub(crate) then: [Option<Action>; 3],
}

impl Step {
    pub(crate) fn new(actor: Actor, action: Action, choice: u8) -> Step {
        Step {
            actor,
            action,
            choice,
            then: [None; 3],
        }
    }

    /// Notes that `action` followed at once.
    pub(crate) fn followed_by(&mut self, action: Action) {
        if let Some(free) = self.then.iter_mut().find(|slot| slot.is_none()) {
            *free = Some(action);
        }
    }
}

/// A step that the model takes as soon as it is enabled, as part of the
/// step before it (a partial-order reduction): it is seen by no other
/// process and by no property, or it only enables other processes, or it
/// only adds to what is checked.
///
/// - `write_temporary`, `fsync_temporary`: only the producer's own
///   temporary, whose data nobody reads before the rename (a sweep looks
///   at its `flock`, not its data);
/// - `unlock_producers`: only lets other producers on; every interleaving
///   where the lock is held longer is one of these with the other
///   processes' steps moved after the unlock;
/// - `acknowledge`: taken earlier, it makes the FIFO property cover more
///   writes and the no-loss property more states, never fewer;
/// - `acquire_lock`: the table lock of the only consumer.
///
/// A crash or a power cut between such a step and the one before it
/// leaves a state that differs only in what no property looks at.
pub(crate) fn is_eager(action: Action) -> bool {
    matches!(
        action,
        Action::WriteTemporary
            | Action::FsyncTemporary
            | Action::UnlockProducers
            | Action::Acknowledge
            | Action::AcquireLock
    )
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.actor {
            Actor::Producer(p) => write!(f, "producer {p}: {}", self.action)?,
            Actor::Consumer => write!(f, "consumer: {}", self.action)?,
            Actor::Power => write!(f, "{}", self.action)?,
        }
        for action in self.then.iter().flatten() {
            write!(f, " + {action}")?;
        }
        if self.choice > 0 {
            write!(f, " (outcome {})", self.choice)?;
        }
        Ok(())
    }
}

/// The configuration with each process's program.
#[derive(Debug)]
pub(crate) struct Model {
    pub(crate) config: Config,
    /// One write of `producer::enqueue`, in order.
    pub(crate) producer: Vec<Action>,
    /// The coordinator's handling of one readable entry.
    pub(crate) drain: Vec<Action>,
    /// `move_aside` of one unreadable entry.
    pub(crate) aside: Vec<Action>,
}

impl Model {
    pub(crate) fn new(config: Config) -> Model {
        use Action::*;
        let durable = config.durability == Durability::Durable;
        let mut producer = vec![CreateTemporary, LockTemporary, WriteTemporary];
        if durable && config.mutation != Some(Mutation::NoTemporaryFsync) {
            producer.push(FsyncTemporary);
        }
        if config.mutation == Some(Mutation::NumberOutsideLock) {
            producer.extend([CountAndNumber, LockProducers]);
        } else {
            producer.extend([LockProducers, CountAndNumber]);
        }
        producer.extend([SweepTemporaries, RenameIntoQueue, UnlockProducers]);
        match (durable, config.mutation) {
            (false, _) => producer.push(Acknowledge),
            (true, Some(Mutation::AcknowledgeBeforeDirFsync)) => {
                producer.extend([Acknowledge, FsyncQueueDir]);
            }
            (true, _) => producer.extend([FsyncQueueDir, Acknowledge]),
        }
        let mut drain = match config.mutation {
            Some(Mutation::RemoveBeforeApply) => vec![RemoveFromQueue, Apply],
            _ => vec![Apply, RemoveFromQueue],
        };
        if durable {
            // `remove_batch_from_queue` of a durable backend.
            let at = drain
                .iter()
                .position(|a| *a == RemoveFromQueue)
                .unwrap_or(0);
            drain.insert(at + 1, FsyncQueueDir);
        }
        let aside = match config.move_aside {
            MoveAside::Unsynced => vec![CreateReason, WriteReason, RenameAside],
            MoveAside::Synced => vec![
                CreateReason,
                WriteReason,
                FsyncReason,
                FsyncCorruptDir,
                RenameAside,
                FsyncCorruptDir,
                FsyncQueueDir,
            ],
        };
        Model {
            config,
            producer,
            drain,
            aside,
        }
    }

    /// Where in the producer's program the temporary is renamed.
    pub(crate) fn rename_at(&self) -> usize {
        self.producer
            .iter()
            .position(|a| *a == Action::RenameIntoQueue)
            .unwrap_or(0)
    }
}
