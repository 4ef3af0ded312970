// SPDX-License-Identifier: Apache-2.0
//! Model test: random sequences of every operation (locks, queue, batches,
//! dead letters, the coordinator per write and in batches) run against a
//! [`MemBackend`] and against the conformance crate's reference model, which must agree at
//! every step. The operations, their strategy and the model live in
//! `reedbase_concurrent_conformance::model`, shared by every backend.
//! Set `PROPTEST_CASES` to run more cases than the default 256.
#![cfg(not(loom))]

use proptest::prelude::*;
use reedbase_concurrent_conformance::model;
use reedbase_concurrent_mem::MemBackend;

proptest! {
    #[test]
    fn mem_backend_agrees_with_the_model(ops in model::ops(80)) {
        model::check(&MemBackend::with_capacity(3), &ops)?;
    }
}
