// SPDX-License-Identifier: Apache-2.0
//! The one operation model: random sequences of operations ([`Op`]), run on
//! a backend and on a plain reference ([`Model`]), step by step.
//!
//! The operations cover both traits whole (locks with their holder, the
//! queue with batches, ids pending or moved aside, counted failures, the
//! tables with pending writes) and the coordinator's calls per write and in
//! batches under both dead-letter policies, over three tables
//! ([`TABLES`]), the shared [bad names and ids](crate::bad_table_names)
//! and writes that are invalid or that the trace's `apply` refuses. What
//! each step shows is normalised into an [`Obs`] (ids as the order the
//! trace was given them, errors without paths or waits), so that the model
//! and any backend compare by value.
//!
//! Three entry points:
//!
//! - [`check`]: a backend's proptest runs generated traces ([`ops`]) against
//!   the model, in a few lines (below);
//! - [`check_with`]: the same with a backend's own operations mixed in
//!   ([`ops_with`]), which an [`OwnOps`] runs and predicts (the fs crate
//!   adds a second codec and damaged entries this way);
//! - [`observe`]: runs a trace on a fresh backend from a factory and
//!   returns what each step showed, for comparing backends with each other
//!   (`cargo xtask parity`).
//!
//! A backend is checked on a fresh, empty instance per trace; give it a
//! small capacity (3 is good), so that full queues come up often.
//!
//! # Examples
//!
//! ```
//! use proptest::prelude::*;
//! use reedbase_concurrent_conformance::model;
//! use reedbase_concurrent_mem::MemBackend;
//!
//! proptest! {
//!     #![proptest_config(ProptestConfig::with_cases(8))]
//!     // In a backend's tests/, with #[test] here.
//!     fn mem_backend_agrees_with_the_model(ops in model::ops(40)) {
//!         model::check(&MemBackend::with_capacity(3), &ops)?;
//!     }
//! }
//! # mem_backend_agrees_with_the_model();
//! ```
//!
//! Comparing two backends on one trace:
//!
//! ```
//! use reedbase_concurrent_conformance::model::{self, Observe};
//! use reedbase_concurrent_mem::MemBackend;
//!
//! let trace = model::coverage_trace();
//! let one = model::observe(MemBackend::new, &trace, Observe::default());
//! let other = model::observe(MemBackend::new, &trace, Observe::default());
//! assert_eq!(one, other);
//! ```

mod obs;
mod op;
mod reference;
mod reference_flow;
mod runner;
mod runner_flow;
mod strategy;

use std::convert::Infallible;
use std::fmt;
use std::panic::{AssertUnwindSafe, catch_unwind};

use proptest::test_runner::TestCaseError;

pub use obs::{Call, Fault, Key, MovedReason, Obs, Outcome, Slot, WriteFault};
pub use op::{IdArg, Mode, Op, TABLES, TableArg, is_refused, show_write};
pub use reference::Model;
pub use runner::Runner;
pub use strategy::{coverage_trace, epilogue, ops, ops_with, table_arg, write_arg};

use reedbase_concurrent_core::Backend;

/// A backend's own operations, run on the backend and predicted on the
/// model; see [`check_with`].
pub trait OwnOps<B: Backend> {
    /// The operations.
    type Op: Clone + fmt::Debug + fmt::Display;

    /// Runs `op` on the backend under test, through `runner` (which knows
    /// the ids the trace was given).
    fn run(&mut self, op: &Self::Op, runner: &mut Runner<'_, B>) -> Obs;

    /// What `op` should show, updating `model`.
    fn expect(&mut self, op: &Self::Op, model: &mut Model) -> Obs;
}

/// No operations of a backend's own: what [`check`] uses.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoOwnOps;

impl<B: Backend> OwnOps<B> for NoOwnOps {
    type Op = Infallible;

    fn run(&mut self, op: &Infallible, _runner: &mut Runner<'_, B>) -> Obs {
        match *op {}
    }

    fn expect(&mut self, op: &Infallible, _model: &mut Model) -> Obs {
        match *op {}
    }
}

/// Runs `ops`, then the [`epilogue`], on `backend` (fresh and empty) and on
/// the model, and fails at the first step whose observations differ,
/// naming the step and both observations.
///
/// # Errors
///
/// A [`TestCaseError`] for the first step that differs, which proptest
/// shrinks and reports.
pub fn check<B: Backend>(backend: &B, ops: &[Op]) -> Result<(), TestCaseError> {
    check_with(backend, &mut NoOwnOps, ops)
}

/// As [`check`], with the backend's own operations run by `own`.
///
/// # Errors
///
/// As [`check`].
pub fn check_with<B: Backend, O: OwnOps<B>>(
    backend: &B,
    own: &mut O,
    ops: &[Op<O::Op>],
) -> Result<(), TestCaseError> {
    let mut model = Model::new(backend.capacity());
    let mut runner = Runner::new(backend);
    let epilogue = epilogue(backend.capacity());
    for (index, op) in ops.iter().chain(&epilogue).enumerate() {
        let (expected, got) = match op {
            Op::Own(own_op) => (own.expect(own_op, &mut model), own.run(own_op, &mut runner)),
            op => (model.step(op), runner.step(op)),
        };
        if got != expected {
            let place = match index.checked_sub(ops.len()) {
                None => format!("step {index}"),
                Some(n) => format!("epilogue step {n}"),
            };
            return Err(TestCaseError::fail(format!(
                "{place}: {op}\n  the model: {expected}\n  backend:   {got}"
            )));
        }
    }
    Ok(())
}

/// How [`observe`] runs a trace.
#[derive(Debug, Clone, Copy, Default)]
#[non_exhaustive]
pub struct Observe {
    /// Skip every step with an absolute table name or queue id (see
    /// [`Runner::skipping_absolute_names`]).
    pub skip_absolute_names: bool,
}

impl Observe {
    /// Skips every step with an absolute table name or queue id.
    pub fn skipping_absolute_names() -> Self {
        Observe {
            skip_absolute_names: true,
        }
    }
}

/// Runs `ops` on a fresh backend from `make` and returns what each step
/// showed. A step that panics shows [`Obs::Panicked`] and the trace goes
/// on; the guards it holds are released at the end.
pub fn observe<B: Backend>(make: impl FnOnce() -> B, ops: &[Op], how: Observe) -> Vec<Obs> {
    let backend = make();
    let mut runner = Runner::new(&backend);
    if how.skip_absolute_names {
        runner = runner.skipping_absolute_names();
    }
    let observed = ops
        .iter()
        .map(|op| {
            catch_unwind(AssertUnwindSafe(|| runner.step(op))).unwrap_or_else(|payload| {
                let message = payload
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_string()));
                Obs::Panicked(message.unwrap_or_else(|| "a non-string panic".to_string()))
            })
        })
        .collect();
    let _ = catch_unwind(AssertUnwindSafe(move || drop(runner)));
    observed
}
