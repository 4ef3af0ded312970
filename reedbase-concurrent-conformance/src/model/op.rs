// SPDX-License-Identifier: Apache-2.0
//! The operations of the model: one per method of the two traits, and the
//! coordinator's calls, over three tables and the shared bad inputs.

use std::convert::Infallible;
use std::fmt;
use std::time::Duration;

use reedbase_concurrent_core::PendingWrite;
use reedbase_concurrent_core::validation::{NameRule, RowField, RowRule};
use reedbase_concurrent_core::{CoordinatorOptions, DeadLetterPolicy};

use crate::bad_inputs::{UNKNOWN_IDS, bad_queue_ids, bad_table_names};

/// The valid tables the operations use.
pub const TABLES: [&str; 3] = ["users", "orders", "audit_log"];

/// The timeout of every operation that takes one: zero, so that a held
/// lock times out at once and no step waits.
pub(super) const NOW: Duration = Duration::ZERO;

/// The reason the trace gives to `move_aside`.
pub(super) const TRACE_REASON: &str = "moved aside by the trace";

/// What the trace's `apply` says when it refuses a write.
pub(super) const APPLY_REFUSAL: &str = "refused by the trace's apply";

/// The key prefix of a write that the trace's `apply` refuses.
pub(super) const POISON: &str = "poison:";

/// The table a step names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableArg {
    /// `TABLES[i]`.
    Valid(usize),
    /// The `i`-th of the shared [bad table names](crate::bad_table_names).
    Bad(usize),
}

impl TableArg {
    /// The name given to the backend.
    pub fn name(self) -> &'static str {
        match self {
            TableArg::Valid(i) => TABLES[i % TABLES.len()],
            TableArg::Bad(i) => {
                let bad = bad_table_names();
                &bad[i % bad.len()].name
            }
        }
    }

    /// The table's index in [`TABLES`], or the rule its name breaks.
    pub(super) fn valid(self) -> Result<usize, NameRule> {
        match self {
            TableArg::Valid(i) => Ok(i % TABLES.len()),
            TableArg::Bad(i) => {
                let bad = bad_table_names();
                Err(bad[i % bad.len()].rule)
            }
        }
    }

    /// True for an absolute name, which a backend that validates nothing
    /// would use as it is.
    pub fn is_absolute(self) -> bool {
        self.name().starts_with('/')
    }
}

impl fmt::Display for TableArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.name())
    }
}

/// Which queue id a step names. A pick `n` among `len` ids is the
/// `n % len`-th.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdArg {
    /// One of the ids issued so far on any table (maybe removed since).
    Issued(u8),
    /// One of the table's pending entries, in queue order.
    Pending(u8),
    /// The `i`-th of the shared [unknown ids](crate::UNKNOWN_IDS).
    Unknown(usize),
    /// The `i`-th of the shared [bad queue ids](crate::bad_queue_ids).
    Malformed(usize),
}

impl IdArg {
    /// The malformed id, with the rule it breaks.
    pub(super) fn malformed(self) -> Option<(&'static str, NameRule)> {
        match self {
            IdArg::Malformed(i) => {
                let bad = bad_queue_ids();
                let bad = &bad[i % bad.len()];
                Some((&bad.name, bad.rule))
            }
            _ => None,
        }
    }

    /// True for an absolute malformed id.
    pub fn is_absolute(self) -> bool {
        self.malformed().is_some_and(|(id, _)| id.starts_with('/'))
    }

    /// The `pick`-th of `len` things (`len > 0`).
    pub(super) fn index(pick: u8, len: usize) -> usize {
        usize::from(pick) % len
    }

    /// The unknown id this names, or that an empty pick falls back to.
    pub(super) fn unknown(self) -> &'static str {
        match self {
            IdArg::Unknown(i) => UNKNOWN_IDS[i % UNKNOWN_IDS.len()],
            _ => UNKNOWN_IDS[0],
        }
    }
}

impl fmt::Display for IdArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            IdArg::Issued(pick) => write!(f, "issued id (pick {pick})"),
            IdArg::Pending(pick) => write!(f, "pending id (pick {pick})"),
            IdArg::Unknown(_) => write!(f, "unknown {:?}", self.unknown()),
            IdArg::Malformed(_) => write!(f, "{:?}", self.malformed().map_or("", |(id, _)| id)),
        }
    }
}

/// How a coordinator step runs: per write or in batches, the largest batch,
/// and the dead-letter policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mode {
    /// `submit_batch` / `drain_batch` / `drain_all_batch` instead of the
    /// per-write calls.
    pub batch: bool,
    /// [`CoordinatorOptions::max_batch`], at least 1.
    pub max_batch: usize,
    /// `Some(n)`: [`DeadLetterPolicy::MoveAsideAfter`]`(n)`, at least 1;
    /// `None`: [`DeadLetterPolicy::Block`].
    pub move_aside_after: Option<u32>,
}

impl Mode {
    /// The coordinator's options for this mode.
    pub fn options(self) -> CoordinatorOptions {
        let policy = match self.move_aside_after {
            Some(n) => DeadLetterPolicy::MoveAsideAfter(n),
            None => DeadLetterPolicy::Block,
        };
        CoordinatorOptions::new()
            .max_batch(self.max_batch)
            .dead_letters(policy)
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let path = if self.batch { "batches" } else { "per write" };
        write!(f, "{path}, max_batch {}", self.max_batch)?;
        match self.move_aside_after {
            Some(n) => write!(f, ", dead letters after {n}"),
            None => write!(f, ", blocking"),
        }
    }
}

/// One step of a trace; `X` is a backend's own operation (see
/// [`OwnOps`](super::OwnOps)), none by default.
#[derive(Debug, Clone)]
pub enum Op<X = Infallible> {
    /// `try_acquire_lock`, keeping the guard.
    TryAcquire(TableArg),
    /// `acquire_lock` with a zero timeout, keeping the guard.
    AcquireNow(TableArg),
    /// Drops the guard held for the table, if any.
    Release(TableArg),
    /// `is_locked`.
    IsLocked(TableArg),
    /// `wait_for_unlock` with a zero timeout.
    WaitForUnlockNow(TableArg),
    /// `lock_holder`, seen as held or free.
    LockHolder(TableArg),
    /// `queue_write` (the write may hold an invalid or a refused row).
    QueueWrite(TableArg, PendingWrite),
    /// `get_next_pending`.
    GetNext(TableArg),
    /// `get_pending_batch` with this `max`.
    GetBatch(TableArg, usize),
    /// `get_next_pending`, then `remove_from_queue` of what it returned.
    RemoveHead(TableArg),
    /// `remove_from_queue`.
    Remove(TableArg, IdArg),
    /// `remove_batch_from_queue`.
    RemoveBatch(TableArg, Vec<IdArg>),
    /// `count_pending`.
    Count(TableArg),
    /// `is_pending`.
    IsPending(TableArg, IdArg),
    /// `move_aside` with the trace's reason.
    MoveAside(TableArg, IdArg),
    /// `moved_aside`.
    MovedAside(TableArg),
    /// `record_failed_apply`.
    RecordFailedApply(TableArg, IdArg),
    /// `tables_with_pending`.
    TablesWithPending,
    /// `submit` or `submit_batch` with a zero timeout.
    Submit(TableArg, PendingWrite, Mode),
    /// `drain` or `drain_batch` with a zero timeout.
    Drain(TableArg, Mode),
    /// `drain_all` or `drain_all_batch` with a zero timeout.
    DrainAll(Mode),
    /// `wait_applied` with a zero timeout.
    WaitApplied(TableArg, IdArg),
    /// A backend's own operation.
    Own(X),
}

impl<X> Op<X> {
    /// The table the step names, if it names one.
    pub fn table(&self) -> Option<TableArg> {
        use Op::*;
        match self {
            TryAcquire(t)
            | AcquireNow(t)
            | Release(t)
            | IsLocked(t)
            | WaitForUnlockNow(t)
            | LockHolder(t)
            | QueueWrite(t, _)
            | GetNext(t)
            | GetBatch(t, _)
            | RemoveHead(t)
            | Remove(t, _)
            | RemoveBatch(t, _)
            | Count(t)
            | IsPending(t, _)
            | MoveAside(t, _)
            | MovedAside(t)
            | RecordFailedApply(t, _)
            | Submit(t, _, _)
            | Drain(t, _)
            | WaitApplied(t, _) => Some(*t),
            TablesWithPending | DrainAll(_) | Own(_) => None,
        }
    }

    /// The ids the step names.
    pub fn ids(&self) -> Vec<IdArg> {
        match self {
            Op::Remove(_, id)
            | Op::IsPending(_, id)
            | Op::MoveAside(_, id)
            | Op::RecordFailedApply(_, id)
            | Op::WaitApplied(_, id) => vec![*id],
            Op::RemoveBatch(_, ids) => ids.clone(),
            _ => Vec::new(),
        }
    }
}

impl<X: fmt::Display> fmt::Display for Op<X> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Op::*;
        match self {
            TryAcquire(t) => write!(f, "try_acquire_lock({t})"),
            AcquireNow(t) => write!(f, "acquire_lock({t}, 0 ms)"),
            Release(t) => write!(f, "drop the guard of {t}"),
            IsLocked(t) => write!(f, "is_locked({t})"),
            WaitForUnlockNow(t) => write!(f, "wait_for_unlock({t}, 0 ms)"),
            LockHolder(t) => write!(f, "lock_holder({t})"),
            QueueWrite(t, w) => write!(f, "queue_write({t}, {})", show_write(w)),
            GetNext(t) => write!(f, "get_next_pending({t})"),
            GetBatch(t, max) => write!(f, "get_pending_batch({t}, {max})"),
            RemoveHead(t) => write!(f, "remove_from_queue({t}, the head)"),
            Remove(t, id) => write!(f, "remove_from_queue({t}, {id})"),
            RemoveBatch(t, ids) => {
                let ids: Vec<String> = ids.iter().map(ToString::to_string).collect();
                write!(f, "remove_batch_from_queue({t}, [{}])", ids.join(", "))
            }
            Count(t) => write!(f, "count_pending({t})"),
            IsPending(t, id) => write!(f, "is_pending({t}, {id})"),
            MoveAside(t, id) => write!(f, "move_aside({t}, {id})"),
            MovedAside(t) => write!(f, "moved_aside({t})"),
            RecordFailedApply(t, id) => write!(f, "record_failed_apply({t}, {id})"),
            TablesWithPending => write!(f, "tables_with_pending()"),
            Submit(t, w, mode) => write!(f, "submit({t}, {}; {mode})", show_write(w)),
            Drain(t, mode) => write!(f, "drain({t}; {mode})"),
            DrainAll(mode) => write!(f, "drain_all({mode})"),
            WaitApplied(t, id) => write!(f, "wait_applied({t}, {id}, 0 ms)"),
            Own(own) => own.fmt(f),
        }
    }
}

/// A write, briefly: `Insert["k|a|b"; "k2|"]`, marked when a row is invalid
/// or the trace's `apply` refuses it.
pub fn show_write(write: &PendingWrite) -> String {
    let rows: Vec<String> = write
        .rows
        .iter()
        .map(|r| format!("{:?}", r.to_csv()))
        .collect();
    let mark = if row_fault(write).is_some() {
        " (invalid row)"
    } else if is_refused(write) {
        " (refused by apply)"
    } else {
        ""
    };
    format!("{:?}[{}]{mark}", write.operation, rows.join("; "))
}

/// True for a write that the trace's `apply` refuses.
pub fn is_refused(write: &PendingWrite) -> bool {
    write.rows.iter().any(|row| row.key.starts_with(POISON))
}

/// The first row fault of a write, written out plainly (not with core's
/// validation): the row's key, the field and the rule.
pub(super) fn row_fault(write: &PendingWrite) -> Option<(String, RowField, RowRule)> {
    let field_rule = |text: &str| {
        if text.contains('|') {
            Some(RowRule::ContainsDelimiter)
        } else if text.contains(['\n', '\r']) {
            Some(RowRule::ContainsLineBreak)
        } else if text.chars().any(|c| c.is_control() && c != '\t') {
            Some(RowRule::ContainsControlCharacter)
        } else {
            None
        }
    };
    write.rows.iter().find_map(|row| {
        let fault = |field, rule| Some((row.key.clone(), field, rule));
        if row.key.is_empty() {
            return fault(RowField::Key, RowRule::EmptyKey);
        }
        if let Some(rule) = field_rule(&row.key) {
            return fault(RowField::Key, rule);
        }
        let (index, rule) = row
            .values
            .iter()
            .enumerate()
            .find_map(|(index, value)| field_rule(value).map(|rule| (index, rule)))?;
        fault(RowField::Value(index), rule)
    })
}
