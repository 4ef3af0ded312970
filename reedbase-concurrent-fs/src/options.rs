// SPDX-License-Identifier: Apache-2.0
//! How an [`FsBackend`](crate::FsBackend) writes its queue.

use reedbase_concurrent_core::DEFAULT_QUEUE_CAPACITY;

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
/// use reedbase_concurrent_fs::{Codec, Durability, FsOptions};
///
/// let options = FsOptions::new().durability(Durability::Relaxed).capacity(500).codec(Codec::Postcard);
/// assert_eq!(options.capacity, 500);
/// assert_eq!(FsOptions::default().durability, Durability::Durable);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FsOptions {
    /// See [`Durability`]; default durable.
    pub durability: Durability,
    /// The most pending entries per table; default 100.
    pub capacity: usize,
    /// See [`Codec`]; default JSON.
    pub codec: Codec,
}

impl Default for FsOptions {
    fn default() -> Self {
        FsOptions {
            durability: Durability::default(),
            capacity: DEFAULT_QUEUE_CAPACITY,
            codec: Codec::default(),
        }
    }
}

impl FsOptions {
    /// The defaults: durable, capacity 100, JSON.
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
}
