// SPDX-License-Identifier: Apache-2.0
//! Model test: random sequences of every operation run against
//! [`FsBackend`] (each sequence on its own temporary base directory, relaxed
//! durability, capacity 3) and against the conformance crate's reference model, which must
//! agree at every step. The operations, their strategy and the model live
//! in `reedbase_concurrent_conformance::model`, shared by every
//! backend.
//!
//! The fs backend adds two operations of its own ([`FsOp`]): a write through
//! a second backend on the same directory that writes postcard (both codecs
//! share one queue), and a damaged entry file, which stays counted (and
//! removable) until a read passes over it and moves it aside. Set
//! `PROPTEST_CASES` to run more cases than the default 256.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fmt;

use proptest::prelude::*;
use reedbase_concurrent_conformance::model::{
    self, Model, Obs, OwnOps, Runner, Slot, TABLES, TableArg,
};
use reedbase_concurrent_core::PendingWrite;
use reedbase_concurrent_fs::{Codec, Durability, FsBackend, FsOptions};

/// The fs backend's own operations.
#[derive(Debug, Clone)]
enum FsOp {
    /// `queue_write` through the postcard backend on the same directory.
    QueueWritePostcard(TableArg, PendingWrite),
    /// Overwrites the file of one of the table's pending entries (the
    /// `pick % len`-th) with a truncated JSON entry.
    Damage(usize, u8),
}

impl fmt::Display for FsOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FsOp::QueueWritePostcard(t, w) => {
                write!(f, "queue_write({t}, {}) as postcard", model::show_write(w))
            }
            FsOp::Damage(table, pick) => write!(
                f,
                "damage a pending entry of {} (pick {pick})",
                TABLES[*table]
            ),
        }
    }
}

fn fs_op() -> impl Strategy<Value = FsOp> {
    prop_oneof![
        (model::table_arg(), model::write_arg()).prop_map(|(t, w)| FsOp::QueueWritePostcard(t, w)),
        (0..TABLES.len(), any::<u8>()).prop_map(|(table, pick)| FsOp::Damage(table, pick)),
    ]
}

/// Runs and predicts [`FsOp`]s.
struct FsOps {
    postcard: FsBackend,
}

impl OwnOps<FsBackend> for FsOps {
    type Op = FsOp;

    fn run(&mut self, op: &FsOp, runner: &mut Runner<'_, FsBackend>) -> Obs {
        match op {
            FsOp::QueueWritePostcard(t, write) => {
                runner.queue_write_through(&self.postcard, *t, write)
            }
            FsOp::Damage(table, pick) => {
                let ids = runner.pending_ids(*table).unwrap();
                let Some(id) = ids.get(usize::from(*pick) % ids.len().max(1)) else {
                    return Obs::Own("nothing to damage".to_string());
                };
                let file = format!("tables/{}/queue/{id}.pending", TABLES[*table]);
                std::fs::write(
                    runner.backend().base_path().join(file),
                    b"{\"rows\":[{\"key\"",
                )
                .unwrap();
                Obs::Own(format!("damaged {}", runner.slot_of(id)))
            }
        }
    }

    fn expect(&mut self, op: &FsOp, model: &mut Model) -> Obs {
        match op {
            FsOp::QueueWritePostcard(t, write) => model.queue_write(*t, write),
            FsOp::Damage(table, pick) => {
                let slots = model.pending_slots(*table);
                let Some(slot) = slots.get(usize::from(*pick) % slots.len().max(1)).copied() else {
                    return Obs::Own("nothing to damage".to_string());
                };
                model.mark_unreadable(*table, slot);
                Obs::Own(format!("damaged {}", Slot::Issued(slot)))
            }
        }
    }
}

proptest! {
    #[test]
    fn fs_backend_agrees_with_the_model(ops in model::ops_with(fs_op(), 12, 40)) {
        let dir = tempfile::tempdir().unwrap();
        let options = FsOptions::new().durability(Durability::Relaxed).capacity(3);
        let json = FsBackend::with_options(dir.path(), options);
        let postcard = FsBackend::with_options(dir.path(), options.codec(Codec::Postcard));
        model::check_with(&json, &mut FsOps { postcard }, &ops)?;
    }

    /// The same without the queue watch: every call lists, as where
    /// inotify cannot be had.
    #[test]
    fn fs_backend_without_the_queue_watch_agrees_with_the_model(ops in model::ops_with(fs_op(), 12, 40)) {
        let dir = tempfile::tempdir().unwrap();
        let options = FsOptions::new().durability(Durability::Relaxed).capacity(3).watch_queues(false);
        let json = FsBackend::with_options(dir.path(), options);
        let postcard = FsBackend::with_options(dir.path(), options.codec(Codec::Postcard));
        model::check_with(&json, &mut FsOps { postcard }, &ops)?;
    }
}
