// SPDX-License-Identifier: Apache-2.0
//! Where the bench's pg rows run: the PostgreSQL server found as the pg
//! crate's tests find it, and a fresh namespace of one test run for each
//! pg subject and column; none (and the pg rows SKIPPED) without a server.

use reedbase_concurrent_pg::testing::{TestRun, TestServer};

use crate::pg_site::PgSite;

/// The pg backend's places in one bench run: fresh namespaces of one test
/// run on the server, all removed when this is dropped; none without a
/// server.
pub struct PgSites {
    found: Option<(TestServer, TestRun)>,
}

impl PgSites {
    /// Finds the server; `None` inside without one (after a `SKIPPED:`
    /// line), and also when `REEDBASE_PG_REQUIRED=1` would make a test
    /// fail: a bench without its pg rows is still a bench.
    pub(super) fn find() -> PgSites {
        let found = crate::pg_server::find("cargo xtask bench, the pg rows")
            .unwrap_or_else(|error| {
                // REEDBASE_PG_REQUIRED makes tests fail; a bench measures
                // what it can.
                eprintln!("bench: the pg rows are skipped all the same: {error}");
                None
            })
            .map(|server| {
                let run = server.run("xtask_bench");
                (server, run)
            });
        PgSites { found }
    }

    /// Whether the pg rows run.
    pub fn available(&self) -> bool {
        self.found.is_some()
    }

    /// A fresh namespace of the run, reached over TCP; no site (which
    /// leaves pg out) without a server.
    pub fn site(&self) -> PgSite {
        match &self.found {
            Some((server, run)) => PgSite::new(server, run.namespace()),
            None => PgSite::default(),
        }
    }
}

/// What the bench says about its pg rows without a server.
pub(super) const PG_SKIPPED: &str = "SKIPPED: the pg rows (no PostgreSQL server answers; set REEDBASE_PG_URL or start the local server)";
