// SPDX-License-Identifier: Apache-2.0
//! [`WriterOptions`]: how much a [`TableWriter`](crate::TableWriter)'s
//! journal remembers.

/// How many queue ids a journal remembers by default; see
/// [`WriterOptions::remember_ids`].
pub const DEFAULT_REMEMBERED_IDS: usize = 1024;

/// Options of a [`TableWriter`](crate::TableWriter).
///
/// ```
/// use reedbase_concurrent_table::WriterOptions;
///
/// let options = WriterOptions::new().remember_ids(4096);
/// assert_eq!(options.remember_ids, 4096);
/// assert_eq!(WriterOptions::default().remember_ids, 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct WriterOptions {
    /// How many applied queue ids (or apply steps, whichever is reached
    /// first) the journal keeps after compaction. It must be larger than the
    /// coordinator's [`max_batch`](reedbase_concurrent_core::CoordinatorOptions::max_batch)
    /// (see the [crate docs](crate#how-long-an-id-is-remembered)); default
    /// [`DEFAULT_REMEMBERED_IDS`], ten times the coordinator's default.
    pub remember_ids: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            remember_ids: DEFAULT_REMEMBERED_IDS,
        }
    }
}

impl WriterOptions {
    /// The defaults.
    pub fn new() -> Self {
        WriterOptions::default()
    }

    /// Sets how many ids are remembered (at least 2).
    pub fn remember_ids(mut self, remember_ids: usize) -> Self {
        self.remember_ids = remember_ids.max(2);
        self
    }
}
