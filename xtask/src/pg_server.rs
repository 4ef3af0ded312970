// SPDX-License-Identifier: Apache-2.0
//! The PostgreSQL server of the pg columns and rows of parity, bench and
//! stress, found as the pg crate's tests find it ([`TestServer`]:
//! `REEDBASE_PG_URL`, else the local server on its Unix socket). Where a
//! child process then finds its pg backend is a
//! [`PgSite`](crate::pg_site::PgSite).

use std::panic::{self, AssertUnwindSafe};

use reedbase_concurrent_pg::testing::TestServer;

use crate::panics::panic_message;

/// The server, or `Ok(None)` when none answers (after one `SKIPPED: {what}`
/// line on stderr saying what to set).
///
/// # Errors
///
/// No server answers and `REEDBASE_PG_REQUIRED=1` is set: a missing server
/// must not pass for a green run.
pub fn find(what: &str) -> Result<Option<TestServer>, String> {
    // TestServer::find panics in that case, as a test must; a task fails
    // with the message instead, without the panic's report. Called once at
    // the start of a task, before any other thread runs.
    let hook = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    let found = panic::catch_unwind(AssertUnwindSafe(|| TestServer::find(what)));
    panic::set_hook(hook);
    found.map_err(|payload| panic_message(&*payload))
}
