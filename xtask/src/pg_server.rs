// SPDX-License-Identifier: Apache-2.0
//! The PostgreSQL server of the pg columns and rows of parity, bench and
//! stress, found as the pg crate's tests find it
//! ([`TestServer`]: `REEDBASE_PG_URL`, else the local server on its Unix
//! socket), and where a child process finds the pg backend it is to use
//! ([`PgSite`]: the server's TCP address, as a process on another host
//! would reach it, and a namespace of the parent's run).

use std::panic::{self, AssertUnwindSafe};

use clap::Args;
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{PgBackend, PgOptions};

use crate::parity::panic_message;

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
/// Where a child's pg backend lives; both are given by the parent, or
/// neither (a child that uses no pg backend).
#[derive(Debug, Clone, Default, Args)]
pub struct PgSite {
    /// The pg backend's server, as the child reaches it (TCP)
    #[arg(
        id = "pg_url",
        long = "pg-url",
        value_name = "URL",
        requires = "pg_namespace"
    )]
    pub url: Option<String>,
    /// The pg backend's namespace, one of the parent's run
    #[arg(
        id = "pg_namespace",
        long = "pg-namespace",
        value_name = "NAMESPACE",
        requires = "pg_url"
    )]
    pub namespace: Option<String>,
}

impl PgSite {
    /// The site of `namespace` on `server`, over TCP.
    pub fn new(server: &TestServer, namespace: String) -> PgSite {
        PgSite {
            url: Some(server.tcp_url().to_string()),
            namespace: Some(namespace),
        }
    }

    /// The command-line arguments that give a child this site.
    pub fn args(&self) -> Vec<String> {
        match (&self.url, &self.namespace) {
            (Some(url), Some(namespace)) => vec![
                format!("--pg-url={url}"),
                format!("--pg-namespace={namespace}"),
            ],
            _ => Vec::new(),
        }
    }

    /// Connects to the site with `options`.
    ///
    /// # Errors
    ///
    /// No site was given, or the backend's connection error.
    pub fn connect(&self, options: PgOptions) -> Result<PgBackend, String> {
        let (Some(url), Some(namespace)) = (&self.url, &self.namespace) else {
            return Err("the pg backend needs --pg-url and --pg-namespace".to_string());
        };
        PgBackend::connect_with(url, namespace, options).map_err(|e| format!("pg connect: {e}"))
    }
}
