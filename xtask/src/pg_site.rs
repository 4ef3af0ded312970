// SPDX-License-Identifier: Apache-2.0
//! [`PgSite`]: where a child process of bench or stress finds the pg
//! backend it is to use: the server's TCP address, as a process on another
//! host would reach it, and a namespace of the parent's run.

use clap::Args;
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{PgBackend, PgOptions};

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

    /// Whether a site is given (else the child uses no pg backend).
    pub fn is_given(&self) -> bool {
        self.url.is_some() && self.namespace.is_some()
    }

    /// The same server, in a namespace of its own beside this one:
    /// `<namespace>_<label>`, every character but ASCII letters and digits
    /// made `_` (so that it is still one of the parent's run).
    pub fn beside(&self, label: &str) -> PgSite {
        let label: String = label
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
            .collect();
        PgSite {
            url: self.url.clone(),
            namespace: self.namespace.as_ref().map(|ns| format!("{ns}_{label}")),
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
