// SPDX-License-Identifier: Apache-2.0
//! Connections to the server: parsing the URL and the settings every
//! session gets, naming the server in errors without its password, the
//! pools, this process's identity, and turning client errors into
//! [`ReedError::ServerError`].
//!
//! Contract: every round trip runs on a [`Session`] under the deadline of
//! the call it serves, and a checkout waits for a connection no longer than
//! that deadline either, so no call outlives its bound. Every session asks
//! the server for a `statement_timeout` and a `lock_timeout` of the call
//! bound (the statements that wait longer, for a lock or the producers'
//! turn, set their own), and for TCP keepalives and a `tcp_user_timeout`
//! derived from the lease, on both ends of the connection.

mod session;

use std::fmt;
use std::time::{Duration, Instant};

use reedbase_concurrent_core::ReedError;
use tokio_postgres::config::Host;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Config, Row};

use crate::options::{PgOptions, server_millis};

pub(crate) use session::{OpenError, Session, SessionManager};

/// A pool of sessions.
pub(crate) type Pool = r2d2::Pool<SessionManager>;
/// A session checked out of a pool; dropping it returns it (or discards
/// it, if it is closed).
pub(crate) type Connection = r2d2::PooledConnection<SessionManager>;

/// The server as errors name it: `host:port/database`, never the user's
/// password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Server(String);

impl Server {
    /// Describes the server a configuration points at.
    pub(crate) fn of(config: &Config) -> Server {
        let hosts: Vec<String> = config
            .get_hosts()
            .iter()
            .enumerate()
            .map(|(index, host)| {
                let name = match host {
                    Host::Tcp(name) => name.clone(),
                    Host::Unix(path) => path.display().to_string(),
                };
                let port = config
                    .get_ports()
                    .get(index)
                    .or_else(|| config.get_ports().first())
                    .copied()
                    .unwrap_or(5432);
                format!("{name}:{port}")
            })
            .collect();
        let hosts = if hosts.is_empty() {
            "localhost:5432".to_string()
        } else {
            hosts.join(",")
        };
        let database = config
            .get_dbname()
            .or_else(|| config.get_user())
            .unwrap_or("(the user's database)");
        Server(format!("{hosts}/{database}"))
    }

    /// A [`ReedError::ServerError`] for `operation` from a client error,
    /// keeping the SQLSTATE.
    pub(crate) fn error(
        &self,
        operation: &'static str,
        error: &tokio_postgres::Error,
    ) -> ReedError {
        ReedError::ServerError {
            operation,
            server: self.0.clone(),
            code: error.code().map(|code| code.code().to_string()),
            reason: describe(error),
        }
    }

    /// A [`ReedError::ServerError`] without a client error behind it.
    pub(crate) fn failure(&self, operation: &'static str, reason: impl Into<String>) -> ReedError {
        ReedError::ServerError {
            operation,
            server: self.0.clone(),
            code: None,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The message of a client error: the server's own message (with its
/// severity, detail and hint) when the server sent one, else the client's
/// error and its cause.
pub(crate) fn describe(error: &tokio_postgres::Error) -> String {
    if let Some(db) = error.as_db_error() {
        let mut text = format!("{}: {}", db.severity(), db.message());
        if let Some(detail) = db.detail() {
            text.push_str(&format!(" ({detail})"));
        }
        if let Some(hint) = db.hint() {
            text.push_str(&format!("; hint: {hint}"));
        }
        return text;
    }
    if error.is_closed() {
        return "connection closed: the server ended the session, the network failed, \
                or no answer came within the call's bound"
            .to_string();
    }
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(&format!(": {cause_text}"));
        }
        source = cause.source();
    }
    text
}

/// True when the error says that the session is gone: the connection is
/// closed, broken, or the server ended the session (an administrator's
/// `pg_terminate_backend`, a shutdown, a crash).
pub(crate) fn session_ended(error: &tokio_postgres::Error) -> bool {
    if error.is_closed() {
        return true;
    }
    match error.code() {
        Some(code) => {
            let class = &code.code()[..2];
            // 57P: operator intervention (admin shutdown, crash shutdown,
            // cannot connect now); 08: connection exception.
            code.code().starts_with("57P") || class == "08"
        }
        None => error.as_db_error().is_none(),
    }
}

/// True when a wait for a lock ran past the session's `lock_timeout`.
pub(crate) fn lock_wait_expired(error: &tokio_postgres::Error) -> bool {
    error.code() == Some(&SqlState::LOCK_NOT_AVAILABLE)
}

/// True for the server's "this waited too long" errors: a `lock_timeout`
/// or a `statement_timeout` that expired.
pub(crate) fn timed_out(error: &tokio_postgres::Error) -> bool {
    lock_wait_expired(error) || error.code() == Some(&SqlState::QUERY_CANCELED)
}

/// Parses a URL (`postgresql://user@host:port/database`) or a key-value
/// string (`host=/var/run/postgresql dbname=test`), names the connections
/// after this process, and adds the settings of the module docs.
pub(crate) fn parse_config(
    url: &str,
    options: &PgOptions,
    identity: &Identity,
) -> Result<Config, String> {
    let mut config: Config = url.parse().map_err(|error: tokio_postgres::Error| {
        // The parser's message never quotes the password, but it can quote
        // the option it stumbled on; keep only the message.
        format!("the connection URL does not parse: {error}")
    })?;
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(options.connect_timeout);
    }
    if config.get_application_name().is_none() {
        config.application_name(identity.application_name());
    }
    let probe = keepalive_idle(options.lease);
    config
        .keepalives(true)
        .keepalives_idle(probe)
        .keepalives_interval(Duration::from_secs(1))
        .keepalives_retries(2)
        .tcp_user_timeout(options.lease);
    let server_side = format!(
        "-c statement_timeout={call} -c lock_timeout={call} -c tcp_keepalives_idle={idle} \
         -c tcp_keepalives_interval=1 -c tcp_keepalives_count=2 -c tcp_user_timeout={user}",
        call = server_millis(options.call_timeout),
        idle = probe.as_secs(),
        user = server_millis(options.lease),
    );
    let all = match config.get_options() {
        Some(given) if !given.trim().is_empty() => format!("{given} {server_side}"),
        _ => server_side,
    };
    config.options(all);
    Ok(config)
}

/// How long a connection is idle before keepalive probes start: a third of
/// the lease in whole seconds, at least 1, so that a dead peer is found
/// (idle, then two probes a second apart) within the lease.
pub(crate) fn keepalive_idle(lease: Duration) -> Duration {
    Duration::from_secs((lease.as_secs() / 3).max(1))
}

/// How long a session may sit idle in a pool before the pool closes it
/// (the sessions ask the server not to end them when idle).
const POOL_IDLE: Duration = Duration::from_secs(60);

/// Builds a pool of at most `size` sessions. Sessions are opened on demand
/// and are fit for use while their connection is open (the background
/// driver notices a session the server ended while it sat in the pool).
pub(crate) fn build_pool(config: Config, options: &PgOptions) -> Pool {
    let manager = SessionManager {
        config,
        connect_timeout: options.connect_timeout,
    };
    r2d2::Pool::builder()
        .max_size(options.pool_size)
        .min_idle(Some(0))
        .idle_timeout(Some(POOL_IDLE))
        .connection_timeout(options.connect_timeout)
        .test_on_check_out(true)
        .error_handler(Box::new(r2d2::NopErrorHandler))
        .build_unchecked(manager)
}

/// Why a checkout failed.
#[derive(Debug)]
pub(crate) enum NoSession {
    /// The deadline passed while every session was in use or none could be
    /// opened.
    Deadline(String),
}

/// Takes a session from `pool` by `deadline`, with that deadline set on it.
pub(crate) fn checkout(pool: &Pool, deadline: Instant) -> Result<Connection, NoSession> {
    let left = deadline.saturating_duration_since(Instant::now());
    if left.is_zero() {
        return Err(NoSession::Deadline(
            "the call's bound passed before a connection was free".to_string(),
        ));
    }
    match pool.get_timeout(left) {
        Ok(mut conn) => {
            conn.set_deadline(Some(deadline));
            Ok(conn)
        }
        Err(error) => Err(NoSession::Deadline(format!(
            "no connection within {left:?} (the pool holds at most {}): {error}",
            pool.max_size()
        ))),
    }
}

/// This process as lock holders name it: its pid and its host name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    /// The process id.
    pub(crate) pid: u32,
    /// The host name, reduced to the characters a host name may have.
    pub(crate) host: Option<String>,
}

impl Identity {
    /// This process.
    pub(crate) fn current() -> Identity {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|name| sanitise_host(name.trim()))
            .filter(|name| !name.is_empty());
        Identity {
            pid: std::process::id(),
            host,
        }
    }

    /// `reedbase pid 4242 on db-1`, cut to the 63 bytes the server keeps.
    pub(crate) fn application_name(&self) -> String {
        let mut name = format!("reedbase pid {}", self.pid);
        if let Some(host) = &self.host {
            name.push_str(&format!(" on {host}"));
        }
        name.truncate(63);
        name
    }
}

/// Keeps the characters of a host name (ASCII letters, digits, `.`, `-`,
/// `_`), at most 255 of them: the result can stand in SQL text as a literal.
pub(crate) fn sanitise_host(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        .take(255)
        .collect()
}

/// An open transaction on a connection that is rolled back when dropped
/// unless it was committed, so that no error path leaves a connection in a
/// transaction when it goes back to the pool.
pub(crate) struct OpenTransaction<'c> {
    client: &'c mut Session,
    open: bool,
}

impl<'c> OpenTransaction<'c> {
    /// Runs `BEGIN` followed by `setup` (settings, a lock) in one round
    /// trip. On failure the transaction is rolled back.
    pub(crate) fn begin(
        client: &'c mut Session,
        setup: &str,
    ) -> Result<Self, tokio_postgres::Error> {
        let transaction = OpenTransaction { client, open: true };
        transaction
            .client
            .batch_execute(&format!("BEGIN; {setup}"))?;
        Ok(transaction)
    }

    /// Runs `BEGIN` followed by `setup` and, in the same flight, the
    /// prepared statement `sql` (one round trip); its rows. On any failure
    /// the transaction is rolled back.
    pub(crate) fn begin_with(
        client: &'c mut Session,
        setup: &str,
        sql: &str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<(Self, Vec<Row>), tokio_postgres::Error> {
        let transaction = OpenTransaction { client, open: true };
        let (begun, rows) =
            transaction
                .client
                .pipelined(&format!("BEGIN; {setup}"), sql, types, params)?;
        begun?;
        Ok((transaction, rows?))
    }

    /// As [`begin_with`](Self::begin_with), committing in the same go when
    /// `commit_if` accepts the statement's rows (see
    /// [`Session::pipelined_commit`]): the rows and, when `COMMIT` was
    /// sent, its answer; otherwise the transaction, still open.
    pub(crate) fn begin_with_commit(
        client: &'c mut Session,
        setup: &str,
        sql: &str,
        types: &[Type],
        params: Vec<Box<dyn ToSql + Send + Sync>>,
        commit_if: fn(&[Row]) -> bool,
    ) -> Result<(Vec<Row>, Commit<'c>), tokio_postgres::Error> {
        let mut transaction = OpenTransaction { client, open: true };
        let ((begun, rows), committed) = transaction.client.pipelined_commit(
            format!("BEGIN; {setup}"),
            sql,
            types,
            params,
            commit_if,
        )?;
        begun?;
        let rows = rows?;
        match committed {
            Some(answer) => {
                transaction.open = false;
                Ok((rows, Commit::Sent(answer)))
            }
            None => Ok((rows, Commit::NotSent(transaction))),
        }
    }

    /// The connection, to run statements in the transaction.
    pub(crate) fn client(&mut self) -> &mut Session {
        self.client
    }

    /// Commits.
    pub(crate) fn commit(mut self) -> Result<(), tokio_postgres::Error> {
        self.open = false;
        self.client.batch_execute("COMMIT")
    }
}

/// What [`OpenTransaction::begin_with_commit`] did about the commit.
pub(crate) enum Commit<'c> {
    /// `COMMIT` was sent; its answer.
    Sent(Result<(), tokio_postgres::Error>),
    /// Not sent: the transaction, open (dropping it rolls it back).
    NotSent(OpenTransaction<'c>),
}

impl Drop for OpenTransaction<'_> {
    fn drop(&mut self) {
        if self.open {
            // A connection too broken to roll back is closed, and the pool
            // discards it; the server rolls back what it had.
            let _ = self.client.batch_execute("ROLLBACK");
        }
    }
}

/// The `SET LOCAL` that makes a transaction's commit asynchronous under
/// relaxed durability, or nothing.
pub(crate) fn commit_setting(durable: bool) -> &'static str {
    if durable {
        ""
    } else {
        "SET LOCAL synchronous_commit = off;"
    }
}

/// Runs one statement and commits it: on its own when `durable` (the
/// server's `synchronous_commit` applies), else in a transaction whose
/// commit does not wait for the flush.
pub(crate) fn write_statement(
    client: &mut Session,
    durable: bool,
    sql: &str,
    params: &[(&(dyn ToSql + Sync), Type)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    if durable {
        return client.query_typed(sql, params);
    }
    let mut transaction = OpenTransaction::begin(client, commit_setting(false))?;
    let rows = transaction.client().query_typed(sql, params)?;
    transaction.commit()?;
    Ok(rows)
}

#[cfg(test)]
#[path = "connection_test.rs"]
mod tests;
