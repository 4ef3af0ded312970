// SPDX-License-Identifier: Apache-2.0
//! The library target of `cargo xtask`: every command and child role, so
//! that the binary (`src/main.rs`) only dispatches and the criterion bench
//! (`benches/micro.rs`) uses the same micro-benchmarks without compiling
//! xtask's sources a second time.

pub mod bench;
pub mod child_process;
pub mod crash;
pub mod held_lock;
pub mod panics;
pub mod parity;
pub mod pg_server;
pub mod pg_site;
pub mod stress;
pub mod test_cmd;
pub mod workspace;
