// SPDX-License-Identifier: Apache-2.0
//! The in-process micro-benchmarks on their own, through criterion's
//! command line (`cargo xtask bench` runs the same ones and puts them in
//! its table):
//!
//! ```text
//! cargo bench -p xtask --bench micro
//! cargo bench -p xtask --bench micro -- 'queue: queue_write 1 row'
//! ```
//!
//! The benchmarks themselves live in `src/bench/micro.rs`, in xtask's
//! library target. The pg subjects run when a PostgreSQL server answers (as
//! the pg crate's tests find it), in namespaces removed at the end.

use reedbase_concurrent_pg::testing::TestServer;
use xtask::bench::micro;
use xtask::pg_site;

fn main() {
    let mut criterion = micro::criterion(false).configure_from_args();
    let dir = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(error) => panic!("cannot make a temporary directory: {error}"),
    };
    let server = TestServer::find("cargo bench -p xtask --bench micro, the pg subjects");
    let run = server.as_ref().map(|server| server.run("xtask_micro"));
    let site = match (&server, &run) {
        (Some(server), Some(run)) => pg_site::PgSite::new(server, run.namespace()),
        _ => pg_site::PgSite::default(),
    };
    if let Err(error) = micro::run(&mut criterion, dir.path(), &site, &[]) {
        panic!("{error}");
    }
    criterion.final_summary();
}
