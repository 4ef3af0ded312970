// SPDX-License-Identifier: Apache-2.0
//! How an [`FsBackend`](crate::FsBackend) writes and reads its queue.

use std::time::Duration;

use reedbase_concurrent_core::DEFAULT_QUEUE_CAPACITY;

/// The default [`FsOptions::queue_lock_timeout`]: 250 ms.
///
/// A producer holds the producers' lock for a rename, and a listing when
/// its watch of the queue cannot say: microseconds to a few milliseconds,
/// whatever the durability (it writes and fsyncs its entry before it takes
/// the lock, and fsyncs the directory after). A quarter of a second in
/// which no entry arrives in the queue is far beyond that, so it means a
/// stopped or hung holder, and short enough that a caller whose own timeout
/// has already passed (the coordinator queues after the lock timed out)
/// hears about it promptly.
pub const DEFAULT_QUEUE_LOCK_TIMEOUT: Duration = Duration::from_millis(250);

/// The default [`FsOptions::max_entry_bytes`]: 16 MiB.
///
/// An entry is one [`PendingWrite`](reedbase_concurrent_core::PendingWrite):
/// a few rows of a pipe-delimited table, typically a few hundred bytes, and
/// 100 rows of 100 bytes each are about 14 KB of JSON. 16 MiB holds writes a
/// thousand times larger than any ReedBase makes, while bounding what one
/// read of a stray or hostile file can cost (the bytes, and the decoded
/// write, a small multiple of them).
pub const DEFAULT_MAX_ENTRY_BYTES: u64 = 16 * 1024 * 1024;

/// Whether `queue_write` makes an entry durable before it returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Durability {
    /// Write to a temporary name, fsync it, rename it into place and fsync
    /// the directory: a returned id survives a power cut.
    #[default]
    Durable,
    /// The same temporary file and rename (readers still never see a partial
    /// entry), without the two fsyncs: a returned id survives a process crash
    /// but not a power cut. For callers who choose speed.
    ///
    /// The loss window after a power cut: an entry acknowledged and not yet
    /// applied survives only if the file system wrote its name and its data
    /// back on its own before the cut (on Linux typically within 30 s,
    /// `vm.dirty_expire_centisecs`); otherwise it is gone, or comes back
    /// empty or partial and is moved aside as unreadable. Removals are not
    /// synced either, so an entry applied and removed within that window can
    /// come back, whole or empty: the start-up recipe's `recover_all` (of
    /// `reedbase-concurrent-table`) removes it when the table's journal still
    /// remembers its id (the newest 1024 ids by default); an older one is
    /// applied again if whole, or moved aside if empty.
    Relaxed,
}

/// How a queue entry is encoded on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Codec {
    /// serde_json, as the old module wrote it. Old-module processes can read
    /// these entries.
    #[default]
    Json,
    /// postcard: smaller and faster, but the old module cannot read it.
    /// Use only when no old-module process shares the base directory.
    Postcard,
}

/// Options of an [`FsBackend`](crate::FsBackend), built with chained setters.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_fs::{Codec, Durability, FsOptions};
///
/// let options = FsOptions::new().durability(Durability::Relaxed).capacity(500).codec(Codec::Postcard);
/// assert_eq!(options.capacity, 500);
/// assert_eq!(FsOptions::default().durability, Durability::Durable);
/// let options = options.queue_lock_timeout(Duration::from_millis(50)).max_entry_bytes(1 << 20);
/// assert_eq!(options.max_entry_bytes, 1 << 20);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct FsOptions {
    /// See [`Durability`]; default durable.
    pub durability: Durability,
    /// The most pending entries per table; default 100.
    pub capacity: usize,
    /// See [`Codec`]; default JSON.
    pub codec: Codec,
    /// How long a producer waits for another producer that holds the
    /// queue's producers' lock while no entry arrives in the queue, before
    /// `queue_write` fails with `QueueBusy` having written nothing; default
    /// [`DEFAULT_QUEUE_LOCK_TIMEOUT`]. See the
    /// [queue module](crate::queue#waiting-for-other-producers).
    pub queue_lock_timeout: Duration,
    /// The largest queue entry read, in bytes; a larger one is moved aside
    /// without being read. Default [`DEFAULT_MAX_ENTRY_BYTES`].
    pub max_entry_bytes: u64,
    /// Whether the queue may be followed through the process's inotify
    /// watch of its directory (default `true`): producers then take the
    /// count and the next sequence from it instead of listing the
    /// directory, and the backend keeps its ordered listing between pops,
    /// so a write and a pop cost the same at any depth (see the
    /// [queue module](crate::queue)).
    /// The watch is used only on local file systems and falls back to
    /// listing by itself where it cannot be had; `false` lists on every
    /// call as the free functions do (for a file system that reports itself
    /// local but is changed from elsewhere, or to compare).
    pub watch_queues: bool,
}

impl Default for FsOptions {
    fn default() -> Self {
        FsOptions {
            durability: Durability::default(),
            capacity: DEFAULT_QUEUE_CAPACITY,
            codec: Codec::default(),
            queue_lock_timeout: DEFAULT_QUEUE_LOCK_TIMEOUT,
            max_entry_bytes: DEFAULT_MAX_ENTRY_BYTES,
            watch_queues: true,
        }
    }
}

impl FsOptions {
    /// The defaults: durable, capacity 100, JSON, 250 ms, 16 MiB, queues
    /// watched.
    pub fn new() -> Self {
        FsOptions::default()
    }

    /// Sets the durability.
    pub fn durability(mut self, durability: Durability) -> Self {
        self.durability = durability;
        self
    }

    /// Sets the capacity per table.
    pub fn capacity(mut self, capacity: usize) -> Self {
        self.capacity = capacity;
        self
    }

    /// Sets the codec of new entries (entries of either codec are read).
    pub fn codec(mut self, codec: Codec) -> Self {
        self.codec = codec;
        self
    }

    /// Sets how long a producer waits for a producers' lock held without
    /// progress.
    pub fn queue_lock_timeout(mut self, timeout: Duration) -> Self {
        self.queue_lock_timeout = timeout;
        self
    }

    /// Sets the largest queue entry read, in bytes.
    pub fn max_entry_bytes(mut self, bytes: u64) -> Self {
        self.max_entry_bytes = bytes;
        self
    }

    /// Sets whether the queue is followed through an inotify watch
    /// ([`FsOptions::watch_queues`]).
    pub fn watch_queues(mut self, watch: bool) -> Self {
        self.watch_queues = watch;
        self
    }
}
