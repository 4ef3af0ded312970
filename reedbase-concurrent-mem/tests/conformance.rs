// SPDX-License-Identifier: Apache-2.0
//! Runs the backend conformance suite (`reedbase-concurrent-conformance`) against
//! [`MemBackend`], unchanged: once with the default capacity and once with
//! the smallest capacity the suite accepts, so that the capacity edges are
//! checked as well.

use reedbase_concurrent_conformance as conformance;
use reedbase_concurrent_mem::MemBackend;

#[test]
fn mem_backend_passes_conformance_suite() {
    conformance::run_all(MemBackend::new);
}

#[test]
fn mem_backend_with_small_capacity_passes_conformance_suite() {
    conformance::run_all(|| MemBackend::with_capacity(conformance::MIN_CAPACITY));
}
