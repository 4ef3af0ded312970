// SPDX-License-Identifier: Apache-2.0
//! Finding a PostgreSQL server for tests, examples and doctests, and giving
//! each test run namespaces of its own.
//!
//! The server is the one named by [`URL_ENV`] (`REEDBASE_PG_URL`), else the
//! local server on its Unix socket as the current user, database `test`
//! ([`LOCAL_SOCKET_URL`]). Child processes that stand for other hosts
//! connect over TCP: to the same `REEDBASE_PG_URL` when it is set, else to
//! [`LOCAL_TCP_URL`]. When no server answers, [`TestServer::find`] prints
//! one `SKIPPED: ...` line saying what to set and returns `None`; with
//! [`REQUIRED_ENV`] (`REEDBASE_PG_REQUIRED=1`, as CI sets it) it panics
//! instead, so that a missing server cannot pass for a green run.
//!
//! ```
//! use reedbase_concurrent_pg::PgOptions;
//! use reedbase_concurrent_pg::testing::TestServer;
//!
//! let Some(server) = TestServer::find("testing module doctest") else { return Ok(()) };
//! let run = server.run("doc_testing");
//! let backend = run.backend(PgOptions::new())?;
//! assert!(backend.namespace().starts_with(run.prefix()));
//! // Dropping `run` deletes every namespace it handed out.
//! # Ok::<(), reedbase_concurrent_core::ReedError>(())
//! ```

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use postgres::{Client, Config, NoTls};
use reedbase_concurrent_core::ReedResult;

use crate::backend::PgBackend;
use crate::connection::Server;
use crate::options::{DEFAULT_SCHEMA, PgOptions};

/// The variable that names the test server (a URL or key-value string).
pub const URL_ENV: &str = "REEDBASE_PG_URL";
/// The variable that turns a missing server from a skip into a failure
/// (`1` or `true`).
pub const REQUIRED_ENV: &str = "REEDBASE_PG_REQUIRED";
/// The local server on its Unix socket, as the current user.
pub const LOCAL_SOCKET_URL: &str = "host=/var/run/postgresql dbname=test";
/// The local server over TCP, as the current user.
pub const LOCAL_TCP_URL: &str = "host=127.0.0.1 port=5432 dbname=test";

/// A server that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestServer {
    url: String,
    tcp_url: String,
}

impl TestServer {
    /// The test server, or `None` after printing one `SKIPPED: {what}: ...`
    /// line to standard error (past the test harness's capture).
    ///
    /// # Panics
    ///
    /// When no server answers and [`REQUIRED_ENV`] is `1` or `true`.
    pub fn find(what: &str) -> Option<TestServer> {
        let (url, tcp_url) = match std::env::var(URL_ENV) {
            Ok(url) if !url.trim().is_empty() => (url.clone(), url),
            _ => (LOCAL_SOCKET_URL.to_string(), LOCAL_TCP_URL.to_string()),
        };
        match probe(&url) {
            Ok(()) => Some(TestServer { url, tcp_url }),
            Err(reason) => {
                let advice = format!(
                    "no PostgreSQL server answers ({reason}); set {URL_ENV} \
                     (for example postgresql://user@127.0.0.1:5432/test) or start the local server"
                );
                if required() {
                    panic!(
                        "{what}: {advice} ({REQUIRED_ENV} is set, so this fails instead of skipping)"
                    );
                }
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "SKIPPED: {what}: {advice}; {REQUIRED_ENV}=1 makes this a failure"
                );
                None
            }
        }
    }

    /// The server's URL for this process.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The URL for child processes standing for other hosts: over TCP.
    pub fn tcp_url(&self) -> &str {
        &self.tcp_url
    }

    /// The server's URL (for this process) as a key-value string with
    /// another user, password or database: for tests of what the server
    /// refuses. Only the hosts, ports, user, password and database are
    /// kept.
    ///
    /// # Examples
    ///
    /// ```
    /// # use reedbase_concurrent_pg::testing::TestServer;
    /// # let Some(server) = TestServer::find("url_with doctest") else { return };
    /// let url = server.url_with(Some("nobody"), None, Some("elsewhere"));
    /// assert!(url.contains("user='nobody'") && url.contains("dbname='elsewhere'"));
    /// ```
    pub fn url_with(
        &self,
        user: Option<&str>,
        password: Option<&str>,
        dbname: Option<&str>,
    ) -> String {
        key_value_url(&self.url, user, password, dbname)
    }

    /// How errors name the server that `url` points at
    /// (`host:port/database`), or the URL itself if it does not parse.
    pub fn name_of(url: &str) -> String {
        url.parse::<tokio_postgres::Config>().map_or_else(
            |_| url.to_string(),
            |config| Server::of(&config).to_string(),
        )
    }

    /// A namespace no other run uses: `{label}_{pid}_{time}_{n}`. Whoever
    /// uses it removes it ([`PgBackend::drop_namespace`]).
    pub fn fresh_namespace(&self, label: &str) -> String {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos());
        format!(
            "{label}_{}_{nanos}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A run whose namespaces all start with one fresh prefix and are
    /// deleted when the run is dropped.
    pub fn run(&self, label: &str) -> TestRun {
        TestRun {
            server: self.clone(),
            prefix: format!("{}_", self.fresh_namespace(label)),
            next: AtomicUsize::new(0),
        }
    }

    /// A plain client of the server, for what a test does beside the
    /// backend (holding a lock from another session, ending a session).
    ///
    /// # Errors
    ///
    /// The client's connection error.
    pub fn client(&self) -> Result<Client, postgres::Error> {
        self.url.parse::<Config>()?.connect(NoTls)
    }
}

/// Namespaces for one test run, removed together when it is dropped (with
/// everything in them, in the default schema).
#[derive(Debug)]
pub struct TestRun {
    server: TestServer,
    prefix: String,
    next: AtomicUsize,
}

impl TestRun {
    /// The prefix of every namespace of this run.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The next fresh namespace of this run.
    pub fn namespace(&self) -> String {
        format!(
            "{}{:04}",
            self.prefix,
            self.next.fetch_add(1, Ordering::Relaxed)
        )
    }

    /// A backend in a fresh namespace of this run.
    ///
    /// # Errors
    ///
    /// As [`PgBackend::connect_with`].
    pub fn backend(&self, options: PgOptions) -> ReedResult<PgBackend> {
        PgBackend::connect_with(self.server.url(), &self.namespace(), options)
    }

    /// The server.
    pub fn server(&self) -> &TestServer {
        &self.server
    }
}

impl Drop for TestRun {
    fn drop(&mut self) {
        let sql = format!("DELETE FROM \"{DEFAULT_SCHEMA}\".tables WHERE left(namespace, $2) = $1");
        let length = i32::try_from(self.prefix.len()).unwrap_or(i32::MAX);
        if let Ok(mut client) = self.server.client() {
            // A run whose server went away leaves its rows behind; they
            // are in namespaces nobody else uses.
            let _ = client.execute(&sql, &[&self.prefix, &length]);
        }
    }
}

/// `url` as a key-value string, with the given parts replaced.
fn key_value_url(
    url: &str,
    user: Option<&str>,
    password: Option<&str>,
    dbname: Option<&str>,
) -> String {
    let quote = |value: &str| format!("'{}'", value.replace('\\', "\\\\").replace('\'', "\\'"));
    let Ok(config) = url.parse::<tokio_postgres::Config>() else {
        return url.to_string();
    };
    let hosts: Vec<String> = config
        .get_hosts()
        .iter()
        .map(|host| match host {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let mut parts = Vec::new();
    if !hosts.is_empty() {
        parts.push(format!("host={}", quote(&hosts.join(","))));
    }
    let ports: Vec<String> = config.get_ports().iter().map(u16::to_string).collect();
    if !ports.is_empty() {
        parts.push(format!("port={}", quote(&ports.join(","))));
    }
    if let Some(user) = user.or(config.get_user()) {
        parts.push(format!("user={}", quote(user)));
    }
    let given = config.get_password().map(String::from_utf8_lossy);
    if let Some(password) = password
        .map(str::to_string)
        .or(given.map(|given| given.to_string()))
    {
        parts.push(format!("password={}", quote(&password)));
    }
    if let Some(dbname) = dbname.or(config.get_dbname()) {
        parts.push(format!("dbname={}", quote(dbname)));
    }
    parts.join(" ")
}

fn required() -> bool {
    std::env::var(REQUIRED_ENV)
        .is_ok_and(|value| value.trim() == "1" || value.trim().eq_ignore_ascii_case("true"))
}

/// Connects once, within 3 s; the error names the server.
fn probe(url: &str) -> Result<(), String> {
    let mut config: Config = url
        .parse()
        .map_err(|error| format!("{URL_ENV} does not parse ({error})"))?;
    config.connect_timeout(Duration::from_secs(3));
    let server = Server::of(
        &url.parse::<tokio_postgres::Config>()
            .map_err(|error| format!("{URL_ENV} does not parse ({error})"))?,
    );
    let mut client = config
        .connect(NoTls)
        .map_err(|error| server.error("connect", &error).to_string())?;
    client
        .simple_query("")
        .map(drop)
        .map_err(|error| server.error("connect", &error).to_string())
}
