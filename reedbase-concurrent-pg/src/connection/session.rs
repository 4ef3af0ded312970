// SPDX-License-Identifier: Apache-2.0
//! [`Session`]: one connection to the server whose every round trip is
//! bounded on the client.
//!
//! Contract: a call on a session returns by the session's deadline (set by
//! the caller with [`Session::set_deadline`]) whatever the network or the
//! server does. When the deadline passes first, the connection is closed on
//! this side (its socket dropped, which ends the session on the server as
//! soon as the server sees it, or after its keepalives or
//! `idle_session_timeout` when it cannot), the call fails as a closed
//! connection, and the pool discards the session. A closed session is never
//! used again, so an answer that arrives late is never read as the answer
//! to another statement.
//!
//! Every connection is driven by one background thread of the process (a
//! single-threaded runtime): it reads the server's messages as they come,
//! so a session the server ended while it sat in the pool shows as closed
//! without a round trip, and a guard's heartbeat can run beside its owner.
//!
//! The statements the crate runs on every write (the queue insert, the
//! fetch, the batch removal, the count) are prepared once per session and
//! kept with it ([`Session::query_prepared`]): the server parses and plans
//! them once, not per call (about a third of the processor time of a
//! durable `queue_write` in a loop of 2,000 on this crate's test
//! machine). A statement the server no longer knows (`DEALLOCATE`), or
//! whose plan no longer fits its tables, fails that call and is prepared
//! again by the next. [`Session::pipelined`] sends a simple query and a
//! prepared statement in one flight, each ended by its own `Sync`, so the
//! server answers the first before it runs the second;
//! [`Session::pipelined_commit`] does the same on the connection's thread
//! and sends `COMMIT` from there as soon as the answers allow it, so that
//! the locks the transaction holds do not wait for the calling thread.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::runtime::{Builder, Handle};
use tokio::task::AbortHandle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Config, NoTls, Row, Statement};

/// How long a call may wait, after its deadline closed the connection, for
/// the client to report the closed connection (it does at once; this only
/// guards against a surprise).
const CLOSE_GRACE: Duration = Duration::from_millis(50);

/// The process's runtime: a current-thread runtime driven by one thread
/// that does nothing else; calls run their futures on the caller's thread.
fn runtime() -> Result<&'static Handle, String> {
    static RUNTIME: OnceLock<Result<Handle, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            let runtime = Builder::new_current_thread()
                .enable_time()
                .enable_io()
                .build()
                .map_err(|error| format!("cannot start the connection runtime: {error}"))?;
            let handle = runtime.handle().clone();
            std::thread::Builder::new()
                .name("reedbase-pg-io".to_string())
                .spawn(move || runtime.block_on(std::future::pending::<()>()))
                .map_err(|error| format!("cannot start the connection thread: {error}"))?;
            Ok(handle)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// Why a session could not be opened.
#[derive(Debug)]
pub(crate) enum OpenError {
    /// The client or the server refused (with the SQLSTATE when the server
    /// sent one).
    Client(tokio_postgres::Error),
    /// No session within the bound (the socket connected but the server, or
    /// the network, did not finish the start-up).
    Timeout(Duration),
    /// The process could not start its connection thread.
    Runtime(String),
    /// The session's connection is closed (the pool then opens another).
    Closed,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpenError::Client(error) => write!(f, "{}", super::describe(error)),
            OpenError::Timeout(bound) => {
                write!(
                    f,
                    "no session within {bound:?} (the server or the network did not answer)"
                )
            }
            OpenError::Runtime(reason) => f.write_str(reason),
            OpenError::Closed => f.write_str("the connection is closed"),
        }
    }
}

impl std::error::Error for OpenError {}

/// The answers of [`Session::pipelined`]: the simple query's, then the
/// prepared statement's rows.
pub(crate) type Pipelined = (
    Result<(), tokio_postgres::Error>,
    Result<Vec<Row>, tokio_postgres::Error>,
);

/// The most statements a session keeps prepared. The crate prepares a
/// handful per schema (its hot statements); the bound only keeps a process
/// that works in many schemas from growing a session without limit.
const PREPARED_MAX: usize = 64;

/// One connection; see the module docs.
pub(crate) struct Session {
    client: Arc<Client>,
    driver: AbortHandle,
    handle: &'static Handle,
    deadline: Option<Instant>,
    /// The statements prepared on this connection, by their text: parsed
    /// and planned by the server once per session rather than per call.
    prepared: HashMap<String, Statement>,
}

impl Session {
    /// Opens a session: socket, start-up and authentication within `bound`.
    pub(crate) fn open(config: &Config, bound: Duration) -> Result<Session, OpenError> {
        let handle = runtime().map_err(OpenError::Runtime)?;
        let connecting =
            handle.block_on(async { tokio::time::timeout(bound, config.connect(NoTls)).await });
        let (client, connection) = match connecting {
            Ok(Ok(pair)) => pair,
            Ok(Err(error)) => return Err(OpenError::Client(error)),
            Err(_) => return Err(OpenError::Timeout(bound)),
        };
        let driver = handle
            .spawn(async move {
                // The connection ends with an error or when the client is
                // dropped; either way the client then reports it closed.
                let _ = connection.await;
            })
            .abort_handle();
        Ok(Session {
            client: Arc::new(client),
            driver,
            handle,
            deadline: None,
            prepared: HashMap::new(),
        })
    }

    /// Sets the deadline of the calls that follow; `None` lifts it.
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// True once the connection is closed (by the server, the network or a
    /// passed deadline).
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// Closes the connection at once, on this side.
    pub(crate) fn close(&self) {
        self.driver.abort();
    }

    /// What a heartbeat needs: the client and a way to close the session.
    pub(crate) fn share(&self) -> (Arc<Client>, AbortHandle, &'static Handle) {
        (Arc::clone(&self.client), self.driver.clone(), self.handle)
    }

    /// Runs `call` on the client, bounded by the deadline.
    fn bounded<'a, T, F>(
        &'a self,
        call: impl FnOnce(&'a Client) -> F,
    ) -> Result<T, tokio_postgres::Error>
    where
        F: Future<Output = Result<T, tokio_postgres::Error>> + 'a,
    {
        let future = call(&self.client);
        let Some(deadline) = self.deadline else {
            return self.handle.block_on(future);
        };
        let driver = &self.driver;
        self.handle.block_on(async move {
            let mut future = std::pin::pin!(future);
            let deadline = tokio::time::Instant::from_std(deadline);
            match tokio::time::timeout_at(deadline, &mut future).await {
                Ok(result) => result,
                Err(_) => {
                    // Closing the connection fails the call as closed.
                    driver.abort();
                    match tokio::time::timeout(CLOSE_GRACE, &mut future).await {
                        Ok(result) => result,
                        Err(_) => future.await,
                    }
                }
            }
        })
    }

    /// `Client::simple_query`, bounded.
    pub(crate) fn simple_query(
        &mut self,
        sql: &str,
    ) -> Result<Vec<tokio_postgres::SimpleQueryMessage>, tokio_postgres::Error> {
        self.bounded(|client| client.simple_query(sql))
    }

    /// The statement `sql` with parameters of `types`, prepared on this
    /// session the first time (one round trip) and reused after.
    fn statement(&mut self, sql: &str, types: &[Type]) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.bounded(|client| client.prepare_typed(sql, types))?;
        if self.prepared.len() >= PREPARED_MAX {
            // Dropping a `Statement` closes it on the server.
            self.prepared.clear();
        }
        self.prepared.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    /// Forgets the prepared statement `sql` when `result` shows the server
    /// no longer knows it or can no longer run its plan, so that the next
    /// call prepares it again.
    fn forget_if_stale<T>(
        &mut self,
        sql: &str,
        result: Result<T, tokio_postgres::Error>,
    ) -> Result<T, tokio_postgres::Error> {
        if let Err(error) = &result
            && matches!(
                error.code(),
                Some(&SqlState::INVALID_SQL_STATEMENT_NAME | &SqlState::FEATURE_NOT_SUPPORTED)
            )
        {
            self.prepared.remove(sql);
        }
        result
    }

    /// Runs the prepared statement `sql` (see [`statement`](Self::statement)),
    /// bounded; its parameters are `params`, of the types `types`.
    pub(crate) fn query_prepared(
        &mut self,
        sql: &str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<Row>, tokio_postgres::Error> {
        let statement = self.statement(sql, types)?;
        let rows = self.bounded(|client| async move { client.query(&statement, params).await });
        self.forget_if_stale(sql, rows)
    }

    /// As [`query_prepared`](Self::query_prepared), for exactly one row.
    pub(crate) fn query_prepared_one(
        &mut self,
        sql: &str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Row, tokio_postgres::Error> {
        let statement = self.statement(sql, types)?;
        let row = self.bounded(|client| async move { client.query_one(&statement, params).await });
        self.forget_if_stale(sql, row)
    }

    /// Sends `first` (a simple query: settings, a lock) and the prepared
    /// statement `sql` in one flight, without waiting for `first`'s answer
    /// before sending `sql`; returns both answers. The server runs them in
    /// order, so when `first` fails inside a transaction block, `sql` fails
    /// too (the block is aborted) and changes nothing.
    pub(crate) fn pipelined(
        &mut self,
        first: &str,
        sql: &str,
        types: &[Type],
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Pipelined, tokio_postgres::Error> {
        let statement = self.statement(sql, types)?;
        let (first, second) = self.bounded(|client| async move {
            // Each request is sent when its future is first polled: `first`
            // goes out before `sql`, and neither waits for an answer.
            let first = client.batch_execute(first);
            let second = client.query(&statement, params);
            Ok(both(first, second).await)
        })?;
        Ok((first, self.forget_if_stale(sql, second)))
    }

    /// As [`pipelined`](Self::pipelined), followed at once by `COMMIT`
    /// when both answers are in without error and `commit_if` accepts the
    /// statement's rows; returns both answers and, when `COMMIT` was sent,
    /// its answer.
    ///
    /// The calls run on the connection's own thread, not the caller's: the
    /// answers are read there, and `COMMIT` leaves as soon as they are
    /// judged, with no wait for the calling thread to be scheduled in
    /// between. The transaction's locks are held for that gap, which is
    /// what a producer's lock costs the others.
    pub(crate) fn pipelined_commit(
        &mut self,
        first: String,
        sql: &str,
        types: &[Type],
        params: Vec<Box<dyn ToSql + Send + Sync>>,
        commit_if: fn(&[Row]) -> bool,
    ) -> Result<(Pipelined, Option<Result<(), tokio_postgres::Error>>), tokio_postgres::Error> {
        let statement = self.statement(sql, types)?;
        let client = Arc::clone(&self.client);
        let task = self.handle.spawn(async move {
            let params: Vec<&(dyn ToSql + Sync)> = params
                .iter()
                .map(|param| param.as_ref() as &(dyn ToSql + Sync))
                .collect();
            // As in `pipelined`: both requests leave before either answer.
            let (begun, rows) = both(
                client.batch_execute(&first),
                client.query(&statement, &params),
            )
            .await;
            let committed = match (&begun, &rows) {
                (Ok(()), Ok(rows)) if commit_if(rows) => Some(client.batch_execute("COMMIT").await),
                _ => None,
            };
            ((begun, rows), committed)
        });
        let ((begun, rows), committed) = self.bounded(|_| async move {
            Ok(task.await.unwrap_or_else(|error| {
                // The task is never aborted, so it ended by a panic.
                std::panic::resume_unwind(error.into_panic())
            }))
        })?;
        Ok(((begun, self.forget_if_stale(sql, rows)), committed))
    }

    /// `Client::batch_execute`, bounded.
    pub(crate) fn batch_execute(&mut self, sql: &str) -> Result<(), tokio_postgres::Error> {
        self.bounded(|client| client.batch_execute(sql))
    }

    /// `Client::query_typed`, bounded.
    pub(crate) fn query_typed(
        &mut self,
        sql: &str,
        params: &[(
            &(dyn tokio_postgres::types::ToSql + Sync),
            tokio_postgres::types::Type,
        )],
    ) -> Result<Vec<tokio_postgres::Row>, tokio_postgres::Error> {
        self.bounded(|client| client.query_typed(sql, params))
    }

    /// `Client::query_typed_one`, bounded.
    pub(crate) fn query_typed_one(
        &mut self,
        sql: &str,
        params: &[(
            &(dyn tokio_postgres::types::ToSql + Sync),
            tokio_postgres::types::Type,
        )],
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        self.bounded(|client| client.query_typed_one(sql, params))
    }

    /// `Client::query_typed_opt`, bounded.
    pub(crate) fn query_typed_opt(
        &mut self,
        sql: &str,
        params: &[(
            &(dyn tokio_postgres::types::ToSql + Sync),
            tokio_postgres::types::Type,
        )],
    ) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
        self.bounded(|client| client.query_typed_opt(sql, params))
    }

    /// `Client::execute_typed`, bounded.
    pub(crate) fn execute_typed(
        &mut self,
        sql: &str,
        params: &[(
            &(dyn tokio_postgres::types::ToSql + Sync),
            tokio_postgres::types::Type,
        )],
    ) -> Result<u64, tokio_postgres::Error> {
        self.bounded(|client| client.execute_typed(sql, params))
    }

    /// `Client::execute`, bounded.
    pub(crate) fn execute(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, tokio_postgres::Error> {
        self.bounded(|client| client.execute(sql, params))
    }

    /// `Client::query_one`, bounded.
    pub(crate) fn query_one(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<tokio_postgres::Row, tokio_postgres::Error> {
        self.bounded(|client| client.query_one(sql, params))
    }

    /// `Client::query_opt`, bounded.
    pub(crate) fn query_opt(
        &mut self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Option<tokio_postgres::Row>, tokio_postgres::Error> {
        self.bounded(|client| client.query_opt(sql, params))
    }
}

/// Runs `a` and `b` together, polling `a` first each time; both outputs.
async fn both<A: Future, B: Future>(a: A, b: B) -> (A::Output, B::Output) {
    let mut a = std::pin::pin!(a);
    let mut b = std::pin::pin!(b);
    let (mut from_a, mut from_b) = (None, None);
    std::future::poll_fn(|cx| {
        if from_a.is_none()
            && let std::task::Poll::Ready(output) = a.as_mut().poll(cx)
        {
            from_a = Some(output);
        }
        if from_b.is_none()
            && let std::task::Poll::Ready(output) = b.as_mut().poll(cx)
        {
            from_b = Some(output);
        }
        match (from_a.take(), from_b.take()) {
            (Some(a), Some(b)) => std::task::Poll::Ready((a, b)),
            (a, b) => {
                from_a = a;
                from_b = b;
                std::task::Poll::Pending
            }
        }
    })
    .await
}

impl Drop for Session {
    fn drop(&mut self) {
        // Dropping the client ends the connection politely when the network
        // lets it; the driver is aborted a moment later in case it cannot.
        let driver = self.driver.clone();
        self.handle.spawn(async move {
            tokio::time::sleep(CLOSE_GRACE).await;
            driver.abort();
        });
    }
}

/// Opens sessions for the pool; a session is fit for use while its
/// connection is open (no round trip is spent to check it).
pub(crate) struct SessionManager {
    pub(crate) config: Config,
    pub(crate) connect_timeout: Duration,
}

impl r2d2::ManageConnection for SessionManager {
    type Connection = Session;
    type Error = OpenError;

    fn connect(&self) -> Result<Session, OpenError> {
        Session::open(&self.config, self.connect_timeout)
    }

    fn is_valid(&self, session: &mut Session) -> Result<(), OpenError> {
        session.set_deadline(None);
        if session.is_closed() {
            Err(OpenError::Closed)
        } else {
            Ok(())
        }
    }

    fn has_broken(&self, session: &mut Session) -> bool {
        session.is_closed()
    }
}

#[cfg(test)]
#[path = "session_test.rs"]
mod tests;
