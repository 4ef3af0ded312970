// SPDX-License-Identifier: Apache-2.0
//! What each scenario produced: one [`Finding`] per table row, with the
//! [`Divergence`] it showed, if any.

use std::fmt;

/// One of the four implementations compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `reedbase_last::LastBackend`, the old module.
    Last,
    /// `reedbase_concurrent_fs::FsBackend`.
    Fs,
    /// `reedbase_concurrent_mem::MemBackend`.
    Mem,
    /// `reedbase_concurrent_pg::PgBackend`, on a real server.
    Pg,
}

/// How many backends are compared: the columns of the table.
pub const BACKENDS: usize = 4;

impl Backend {
    /// The four, in table order.
    pub const ALL: [Backend; BACKENDS] = [Backend::Last, Backend::Fs, Backend::Mem, Backend::Pg];

    /// The new backends, which must agree with each other.
    pub const NEW: [Backend; 3] = [Backend::Fs, Backend::Mem, Backend::Pg];

    /// The name used in the table and in PARITY.md.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Last => "last",
            Backend::Fs => "fs",
            Backend::Mem => "mem",
            Backend::Pg => "pg",
        }
    }

    /// Its column in the table (and in every `[_; BACKENDS]`).
    pub fn index(self) -> usize {
        match self {
            Backend::Last => 0,
            Backend::Fs => 1,
            Backend::Mem => 2,
            Backend::Pg => 3,
        }
    }

    fn bit(self) -> u8 {
        match self {
            Backend::Last => 1,
            Backend::Fs => 2,
            Backend::Mem => 4,
            Backend::Pg => 8,
        }
    }
}

/// A set of backends: those on which a scenario differs from the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct BackendSet(u8);

impl BackendSet {
    /// The empty set.
    pub const EMPTY: BackendSet = BackendSet(0);

    /// The set holding `backends`.
    pub fn of(backends: &[Backend]) -> BackendSet {
        BackendSet(backends.iter().fold(0, |bits, b| bits | b.bit()))
    }

    /// Adds `backend`.
    pub fn insert(&mut self, backend: Backend) {
        self.0 |= backend.bit();
    }

    /// Whether `backend` is in the set.
    pub fn contains(self, backend: Backend) -> bool {
        self.0 & backend.bit() != 0
    }

    /// Whether every backend of `self` is in `other`.
    pub fn is_subset(self, other: BackendSet) -> bool {
        self.0 & !other.0 == 0
    }

    /// Whether the set is empty.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// Whether the set holds anything but the old module, that is, whether
    /// the new backends disagree with each other (a bug, never intended).
    pub fn involves_new_backend(self) -> bool {
        Backend::NEW.iter().any(|backend| self.contains(*backend))
    }

    /// Parses `last`, `fs, mem`, `pg`, ... as PARITY.md writes it.
    pub fn parse(text: &str) -> Result<BackendSet, String> {
        let mut set = BackendSet::EMPTY;
        for word in text.split([',', ' ', '+']).filter(|w| !w.is_empty()) {
            let backend = Backend::ALL
                .into_iter()
                .find(|b| b.name() == word)
                .ok_or_else(|| format!("{word:?} is not a backend (last, fs, mem or pg)"))?;
            set.insert(backend);
        }
        if set.is_empty() {
            return Err("names no backend".to_string());
        }
        Ok(set)
    }
}

impl fmt::Display for BackendSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = Backend::ALL
            .into_iter()
            .filter(|b| self.contains(*b))
            .map(Backend::name)
            .collect();
        f.write_str(&names.join(", "))
    }
}

/// The scenario groups, in the order they run and print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Group {
    /// The old module's shipped tests, as conformance cases.
    OldTests,
    /// The rest of the conformance suite.
    Conformance,
    /// proptest-generated sequential traces, one row per class of step.
    Traces,
    /// On-disk and cross-process compatibility with the old module.
    CrossCompat,
}

impl Group {
    /// The group's heading in the table.
    pub fn title(self) -> &'static str {
        match self {
            Group::OldTests => {
                "the old module's own tests (types; lock and queue as conformance cases)"
            }
            Group::Conformance => "conformance suite",
            Group::Traces => "random sequential traces, one row per class of step",
            Group::CrossCompat => "cross-compatibility (shared disk, separate processes)",
        }
    }
}

/// How one scenario differed between the backends.
#[derive(Debug, Clone)]
pub struct Divergence {
    /// The backends that differ from the others.
    pub differs_on: BackendSet,
    /// A full account for the details section (messages, diverging step).
    pub detail: String,
    /// For a conformance case that failed on the old module alone and that
    /// PARITY.md does not list: how often it failed when run again there
    /// (`failed` of `runs`), if it passed in some of those runs. Such a
    /// failure is a timing-dependent flaw of the old module that a run may
    /// or may not show; see [`Reruns`].
    pub intermittent: Option<Reruns>,
}

/// How a case that failed once on the old module did when run again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reruns {
    /// How many of the runs again failed.
    pub failed: usize,
    /// How many times it was run again.
    pub runs: usize,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Finding {
    /// The group the row belongs to.
    pub group: Group,
    /// The scenario's name, which is also its key in PARITY.md.
    pub scenario: String,
    /// What the old module, fs, mem and pg showed, briefly.
    pub cells: [String; BACKENDS],
    /// `None` when all agree.
    pub divergence: Option<Divergence>,
}

/// The first line of `message`, cut to `max` characters with an ellipsis.
pub fn brief(message: &str, max: usize) -> String {
    let line = message.lines().next().unwrap_or("").trim();
    if line.chars().count() <= max {
        return line.to_string();
    }
    let cut: String = line.chars().take(max.saturating_sub(1)).collect();
    format!("{cut}…")
}
