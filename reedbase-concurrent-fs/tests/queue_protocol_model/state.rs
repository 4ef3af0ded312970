// SPDX-License-Identifier: Apache-2.0
//! A state of the model: the file system, each process's program counter
//! and locals, the two locks, and the record of what callers were told
//! (acknowledged, refused or failed) and what the table holds (applied),
//! against which the properties are checked.

use super::fs::{Content, Fs, Ino, Name};
use super::protocol::{Config, Model};

/// The write id of the damaged entry (never a producer's write).
pub(crate) const DAMAGED: u8 = 15;

/// A set of writes, one bit each.
pub(crate) type Writes = u16;

pub(crate) fn bit(write: u8) -> Writes {
    1 << write
}

/// A producer: which of its writes it is at, where in `enqueue`, and the
/// locals of that call.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Producer {
    /// Index of the current write among the producer's writes.
    pub(crate) next: u8,
    /// Index into [`Model::producer`].
    pub(crate) pc: u8,
    /// Attempts at this write so far (a swept temporary is written again).
    pub(crate) attempt: u8,
    /// The sequence number chosen under the lock.
    pub(crate) seq: u8,
    /// The count said the queue is full.
    pub(crate) full: bool,
    /// Temporaries listed under the lock, to sweep.
    pub(crate) to_sweep: Vec<Name>,
    /// The directory fsync failed and [`Mutation::TakeBackOnDirFsyncError`]
    /// is on: the entry is to be taken back.
    ///
    /// [`Mutation::TakeBackOnDirFsyncError`]: super::protocol::Mutation::TakeBackOnDirFsyncError
    pub(crate) failing: bool,
    /// Killed (SIGKILL, or a power cut): takes no more steps.
    pub(crate) dead: bool,
}

/// Where the consumer (the coordinator's drain under the table lock) is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum ConsumerPc {
    /// Not holding the table lock; also where a restarted process begins
    /// (the start-up recipe is a drain).
    Idle,
    /// Holding the lock, about to read the head of the queue.
    Head,
    /// At this index of [`Model::drain`].
    Drain(u8),
    /// At this index of [`Model::aside`].
    Aside(u8),
    /// Between the start and the end of a listing that is not a snapshot
    /// (see [`Listing::Posix`](super::protocol::Listing::Posix)).
    Listing,
    /// Between the start and the end of the listing that checks the one
    /// kept in [`Consumer::listed`].
    Recheck,
    /// `submit` applies its own write, then goes on at this index of
    /// [`Model::drain`] (its end: the call returns).
    ApplyOwn(u8),
}

/// Where the consumer's `submit` of its own write is (the coordinator
/// with `max_batch` 1: at most `capacity` queued writes first, its own
/// write applied in the pass of the last of them, or alone once the queue
/// is empty).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(crate) enum Submit {
    /// No `submit` running: a drain.
    No,
    /// Its own write not applied yet, after `drained` queued writes.
    Before { drained: u8 },
    /// The entry at hand is the last before its own write.
    LastPass,
    /// Its own write applied; the call returns at the end of this pass.
    Done,
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Consumer {
    pub(crate) pc: ConsumerPc,
    /// The entry at hand, `(sequence, write)`.
    pub(crate) entry: (u8, u8),
    /// The copy number `move_aside` is at.
    pub(crate) copy: u8,
    /// During a listing: the entries present since it began, and every
    /// entry present at some moment of it, `(sequence, write)`.
    pub(crate) throughout: Vec<(u8, u8)>,
    pub(crate) ever: Vec<(u8, u8)>,
    /// During a check: what the listing being checked returned.
    pub(crate) listed: Vec<(u8, u8)>,
    pub(crate) submit: Submit,
}

impl Consumer {
    /// A consumer not holding the lock, as a restarted process begins.
    pub(crate) fn idle() -> Consumer {
        Consumer {
            pc: ConsumerPc::Idle,
            entry: (0, 0),
            copy: 0,
            throughout: Vec::new(),
            ever: Vec::new(),
            listed: Vec::new(),
            submit: Submit::No,
        }
    }

    /// Notes what a listing in progress may see of `fs`.
    pub(crate) fn observe(&mut self, fs: &Fs) {
        if !matches!(self.pc, ConsumerPc::Listing | ConsumerPc::Recheck) {
            return;
        }
        let now: Vec<(u8, u8)> = fs.pending().map(|(seq, write, _)| (seq, write)).collect();
        self.throughout.retain(|entry| now.contains(entry));
        for entry in now {
            if !self.ever.contains(&entry) {
                self.ever.push(entry);
            }
        }
        self.ever.sort_unstable();
    }
}

#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct State {
    pub(crate) fs: Fs,
    pub(crate) producers: Vec<Producer>,
    pub(crate) consumer: Consumer,
    /// The producer holding the producers' lock (a `flock`: gone with it).
    pub(crate) producers_lock: Option<u8>,
    /// Writes whose `queue_write` returned an id.
    pub(crate) acked: Writes,
    /// Writes whose `queue_write` returned an error (full, or failed)
    /// meaning "not queued".
    pub(crate) failed: Writes,
    /// Writes whose `queue_write` returned `QueueOutcomeUnknown` (queued,
    /// then the directory fsync failed): applied at most once, or lost.
    pub(crate) unknown: Writes,
    /// Writes the table holds (`TableWriter` records each queue id with
    /// its rows in one durable step and skips a replay).
    pub(crate) applied: Writes,
    /// For each write, the writes acknowledged before its call began.
    pub(crate) preceded_by: Vec<Writes>,
    pub(crate) crashes: u8,
    pub(crate) power_cuts: u8,
}

impl State {
    pub(crate) fn initial(config: &Config) -> State {
        let mut fs = Fs::default();
        if config.damaged_entry {
            let name = Name::Pending {
                seq: 0,
                write: DAMAGED,
            };
            fs = fs.with_durable_file(name, Ino::Garbage, Content::Blank);
        }
        let producer = Producer {
            next: 0,
            pc: 0,
            attempt: 0,
            seq: 0,
            full: false,
            to_sweep: Vec::new(),
            failing: false,
            dead: false,
        };
        State {
            fs,
            producers: vec![producer; config.producers.len()],
            consumer: Consumer {
                submit: match config.submit {
                    true => Submit::Before { drained: 0 },
                    false => Submit::No,
                },
                ..Consumer::idle()
            },
            producers_lock: None,
            acked: 0,
            failed: 0,
            unknown: 0,
            applied: 0,
            preceded_by: vec![0; usize::from(config.write_count()) + 1],
            crashes: 0,
            power_cuts: 0,
        }
    }

    /// The write producer `p` is at, or `None` once it has finished or died.
    pub(crate) fn current_write(&self, model: &Model, p: usize) -> Option<u8> {
        let me = &self.producers[p];
        let writes = model.config.writes_of(p);
        (!me.dead && me.next < writes.end - writes.start).then(|| writes.start + me.next)
    }

    /// The inodes processes hold open: each producer's temporary from its
    /// creation to its rename.
    pub(crate) fn open_inodes(&self, model: &Model) -> Vec<Ino> {
        (0..self.producers.len())
            .filter_map(|p| {
                let me = &self.producers[p];
                let write = self.current_write(model, p)?;
                (me.pc > 0 && usize::from(me.pc) <= model.rename_at()).then_some(Ino::Temporary {
                    write,
                    attempt: me.attempt,
                })
            })
            .collect()
    }

    /// Entries in the queue now.
    pub(crate) fn pending_count(&self) -> usize {
        self.fs.pending().count()
    }

    /// Drops unreferenced inodes; called after every step.
    pub(crate) fn tidy(&mut self, model: &Model) {
        let open = self.open_inodes(model);
        self.fs.collect_garbage(&open);
    }

    /// A short picture of the state for a trace.
    pub(crate) fn describe(&self) -> String {
        let names: Vec<String> = self
            .fs
            .names()
            .map(|(name, ino)| {
                let blank = self
                    .fs
                    .inode(ino)
                    .is_some_and(|inode| inode.now == Content::Blank);
                format!("{name}{}", if blank { " (empty)" } else { "" })
            })
            .collect();
        format!(
            "[{}] acked {:#b} applied {:#b} failed {:#b} unknown {:#b}",
            names.join(", "),
            self.acked,
            self.applied,
            self.failed,
            self.unknown
        )
    }
}
