// SPDX-License-Identifier: Apache-2.0
//! [`PgBackend`]: its pools, schema and namespace, and its implementations
//! of [`LockBackend`] (in `lock`) and [`QueueBackend`] (in `queue`).

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use std::time::Instant;

use reedbase_concurrent_core::{
    LockBackend, LockHolder, MovedAside, PendingWrite, QueueBackend, ReedError, ReedResult,
    validate_queue_id, validate_table_name, validate_write,
};

use crate::connection::{self, Connection, Identity, NoSession, OpenError, Pool, Server, Session};
use crate::lock::PgLockGuard;
use crate::options::{Durability, PgOptions};
use crate::schema::{self, LockClasses, SchemaError};

/// The PostgreSQL backend: table locks that exclude processes on every host
/// that reaches the server, and a queue table; see the [crate docs](crate).
///
/// Cloning shares the pool and the registry cache; a clone is as cheap as an
/// `Arc`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use reedbase_concurrent_core::{LockBackend, LockGuard};
/// use reedbase_concurrent_pg::PgBackend;
/// use reedbase_concurrent_pg::testing::TestServer;
///
/// # let Some(server) = TestServer::find("PgBackend doctest") else { return Ok(()) };
/// # let url = server.url().to_string();
/// # let namespace = server.fresh_namespace("doc_backend");
/// // url: "postgresql://app@db.example.org/reedbase" or "host=/var/run/postgresql dbname=test"
/// let backend = PgBackend::connect(&url, &namespace)?;
/// {
///     let guard = backend.acquire_lock("users", Duration::from_secs(1))?;
///     assert!(guard.is_held()?);
///     assert!(backend.is_locked("users")?);
/// }
/// assert!(!backend.is_locked("users")?);
/// backend.drop_namespace()?;
/// # Ok::<(), reedbase_concurrent_core::ReedError>(())
/// ```
#[derive(Clone)]
pub struct PgBackend {
    shared: Arc<Shared>,
}

/// What every clone shares.
pub(crate) struct Shared {
    /// The sessions of the calls.
    pub(crate) work: Pool,
    /// The sessions that hold or wait for table locks.
    pub(crate) locks: Pool,
    /// Whether the server knows `idle_session_timeout` (14 or newer).
    pub(crate) idle_timeout: bool,
    pub(crate) server: Server,
    pub(crate) namespace: String,
    pub(crate) options: PgOptions,
    /// The quoted schema name, for SQL text.
    pub(crate) schema: String,
    pub(crate) classes: LockClasses,
    pub(crate) identity: Identity,
    /// Table numbers already looked up. A number never changes while its
    /// registry row exists (rows go only with [`PgBackend::drop_namespace`]).
    pub(crate) table_numbers: Mutex<HashMap<String, i32>>,
}

impl PgBackend {
    /// Connects to the server at `url` with the default options; the
    /// namespace separates this base's tables from other bases (or test
    /// runs) in the same database.
    ///
    /// `url` is a URL (`postgresql://user:password@host:5432/database`) or
    /// a key-value string (`host=/var/run/postgresql dbname=test`). One
    /// connection is opened at once (so that a wrong password or database
    /// shows here), and the schema is created or migrated if needed.
    ///
    /// # Errors
    ///
    /// [`ReedError::ServerError`] naming the operation (`connect`,
    /// `check_schema`, `create_schema`), the server (`host:port/database`,
    /// never the password) and the SQLSTATE: an unreachable server (no
    /// code), an authentication failure (`28P01`, `28000`), an unknown
    /// database (`3D000`), a missing privilege (`42501`), a schema newer
    /// than this release; also a namespace that breaks the rules of a table
    /// name ([`validate_table_name`]) or a bad schema name.
    pub fn connect(url: &str, namespace: &str) -> ReedResult<PgBackend> {
        PgBackend::connect_with(url, namespace, PgOptions::default())
    }

    /// As [`connect`](Self::connect), with options.
    ///
    /// # Errors
    ///
    /// As [`connect`](Self::connect).
    ///
    /// # Examples
    ///
    /// ```
    /// use reedbase_concurrent_core::QueueBackend;
    /// use reedbase_concurrent_pg::{Durability, PgBackend, PgOptions};
    /// use reedbase_concurrent_pg::testing::TestServer;
    ///
    /// # let Some(server) = TestServer::find("PgBackend::connect_with doctest") else { return Ok(()) };
    /// # let (url, namespace) = (server.url().to_string(), server.fresh_namespace("doc_connect_with"));
    /// let options = PgOptions::new().capacity(10).durability(Durability::Relaxed).pool_size(2);
    /// let backend = PgBackend::connect_with(&url, &namespace, options)?;
    /// assert_eq!(backend.capacity(), 10);
    /// backend.drop_namespace()?;
    /// # Ok::<(), reedbase_concurrent_core::ReedError>(())
    /// ```
    pub fn connect_with(url: &str, namespace: &str, options: PgOptions) -> ReedResult<PgBackend> {
        let identity = Identity::current();
        let config = connection::parse_config(url, &options, &identity).map_err(|reason| {
            ReedError::ServerError {
                operation: "connect",
                server: "(unparsed URL)".to_string(),
                code: None,
                reason,
            }
        })?;
        let server = Server::of(&config);
        validate_table_name(namespace)
            .map_err(|error| server.failure("connect", format!("invalid namespace: {error}")))?;
        schema::check_schema_name(&options.schema)
            .map_err(|reason| server.failure("connect", reason))?;
        let deadline = Instant::now() + options.connect_timeout;
        let mut session =
            Session::open(&config, options.connect_timeout).map_err(|error| match error {
                OpenError::Client(error) => server.error("connect", &error),
                other => server.failure("connect", other.to_string()),
            })?;
        session.set_deadline(Some(deadline));
        let classes = schema::ensure_schema(&mut session, &options.schema).map_err(|error| {
            match error {
                SchemaError::Server(operation, error) => server.error(operation, &error),
                SchemaError::TooNew(version) => server.failure(
                    "check_schema",
                    format!(
                        "schema {} is at version {version}, newer than this release understands ({}); \
                         upgrade reedbase-concurrent-pg",
                        options.schema,
                        schema::SCHEMA_VERSION
                    ),
                ),
            }
        })?;
        let idle_timeout = schema::server_version(&mut session)
            .map_err(|error| server.error("check_schema", &error))?
            >= 140_000;
        drop(session);
        let mut config = config;
        if idle_timeout {
            // The pools close idle sessions themselves; a server that ended
            // one just as it was taken from the pool would fail the call.
            let all = format!(
                "{} -c idle_session_timeout=0",
                config.get_options().unwrap_or_default()
            );
            config.options(all);
        }
        let work = connection::build_pool(config.clone(), &options);
        let locks = connection::build_pool(config, &options);
        Ok(PgBackend {
            shared: Arc::new(Shared {
                work,
                locks,
                idle_timeout,
                server,
                namespace: namespace.to_string(),
                schema: schema::quoted(&options.schema),
                options,
                classes,
                identity,
                table_numbers: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The namespace this backend works in.
    pub fn namespace(&self) -> &str {
        &self.shared.namespace
    }

    /// The options it was connected with.
    pub fn options(&self) -> &PgOptions {
        &self.shared.options
    }

    /// Deletes everything of this namespace from the server: its tables'
    /// registry rows, pending entries, moved-aside entries and counts. For
    /// test runs and for retiring a base; call it only when no process uses
    /// the namespace any more (a lock held meanwhile stays held until its
    /// guard drops, and queue calls of other processes fail).
    ///
    /// # Errors
    ///
    /// [`ReedError::ServerError`] (`drop_namespace`).
    pub fn drop_namespace(&self) -> ReedResult<()> {
        let shared = &self.shared;
        let mut conn = self.connection("drop_namespace")?;
        let sql = format!("DELETE FROM {}.tables WHERE namespace = $1", shared.schema);
        conn.execute(&sql, &[&shared.namespace])
            .map_err(|error| shared.server.error("drop_namespace", &error))?;
        self.cached_numbers().clear();
        Ok(())
    }

    pub(crate) fn shared(&self) -> &Shared {
        &self.shared
    }

    pub(crate) fn durable(&self) -> bool {
        self.shared.options.durability == Durability::Durable
    }

    /// The deadline of a call without a timeout of its own that starts now.
    pub(crate) fn call_deadline(&self) -> Instant {
        Instant::now() + self.shared.options.call_timeout
    }

    /// A session for `operation`, bounded by the call bound.
    pub(crate) fn connection(&self, operation: &'static str) -> ReedResult<Connection> {
        self.connection_by(operation, self.call_deadline())
    }

    /// A session for `operation`, bounded by `deadline`.
    pub(crate) fn connection_by(
        &self,
        operation: &'static str,
        deadline: Instant,
    ) -> ReedResult<Connection> {
        connection::checkout(&self.shared.work, deadline)
            .map_err(|NoSession::Deadline(reason)| self.shared.server.failure(operation, reason))
    }

    /// A session of the lock pool, bounded by `deadline`.
    pub(crate) fn lock_connection(&self, deadline: Instant) -> Result<Connection, NoSession> {
        connection::checkout(&self.shared.locks, deadline)
    }

    /// A [`ReedError::ServerError`] for `operation`.
    pub(crate) fn server_error(
        &self,
        operation: &'static str,
        error: &tokio_postgres::Error,
    ) -> ReedError {
        self.shared.server.error(operation, error)
    }
}

impl fmt::Debug for PgBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgBackend")
            .field("server", &self.shared.server.to_string())
            .field("namespace", &self.shared.namespace)
            .field("options", &self.shared.options)
            .finish_non_exhaustive()
    }
}

impl LockBackend for PgBackend {
    type Guard = PgLockGuard;

    /// Waits inside the server; returns within `timeout` plus the margin of
    /// the [`lock`](crate::lock) module, `LockTimeout` past it.
    fn acquire_lock(&self, table_name: &str, timeout: Duration) -> ReedResult<PgLockGuard> {
        self.acquire(table_name, timeout)
    }

    /// Within [`PgOptions::call_timeout`]; `Ok(None)` also when every lock
    /// connection of this backend is in use.
    fn try_acquire_lock(&self, table_name: &str) -> ReedResult<Option<PgLockGuard>> {
        self.try_acquire(table_name)
    }

    /// As `acquire_lock`, without the query for the holder on a timeout.
    fn try_acquire_lock_for(
        &self,
        table_name: &str,
        timeout: Duration,
    ) -> ReedResult<Option<PgLockGuard>> {
        self.acquire_or_none(table_name, timeout)
    }

    fn is_locked(&self, table_name: &str) -> ReedResult<bool> {
        self.locked(table_name)
    }

    /// Waits inside the server for a shared lock on the table's key, which
    /// it gets once no exclusive holder (nor an earlier exclusive waiter) is
    /// left, and releases it at once. For that instant a `try_acquire_lock`
    /// elsewhere finds the table busy.
    fn wait_for_unlock(&self, table_name: &str, timeout: Duration) -> ReedResult<()> {
        self.await_unlock(table_name, timeout)
    }

    /// The holder as recorded by its acquisition (its pid, host and the
    /// time it took the lock, by its own clock), when `pg_locks` shows that
    /// same session holding the lock; [`LockHolder::unknown`] for a lock
    /// held by a session that left no record (in the instant between taking
    /// the lock and committing the record).
    fn lock_holder(&self, table_name: &str) -> ReedResult<Option<LockHolder>> {
        self.holder(table_name)
    }
}

impl QueueBackend for PgBackend {
    /// Queues `write`; see the [`queue`](crate::queue) module.
    ///
    /// # Errors
    ///
    /// Besides the trait's: [`ReedError::QueueBusy`] past
    /// [`PgOptions::queue_timeout`], having written nothing;
    /// [`ReedError::ServerError`] (`queue_write`), having written nothing,
    /// except with SQLSTATE [`OUTCOME_UNKNOWN`](crate::OUTCOME_UNKNOWN):
    /// the answer to the commit was lost and the server could not be asked
    /// in time, so the write may be queued under the id the reason names.
    fn queue_write(&self, table_name: &str, write: &PendingWrite) -> ReedResult<String> {
        validate_table_name(table_name)?;
        validate_write(write)?;
        self.write_entry(table_name, write)
    }

    fn get_next_pending(&self, table_name: &str) -> ReedResult<Option<(String, PendingWrite)>> {
        validate_table_name(table_name)?;
        Ok(self
            .pending_batch(table_name, 1, "get_next_pending")?
            .into_iter()
            .next())
    }

    fn remove_from_queue(&self, table_name: &str, queue_id: &str) -> ReedResult<()> {
        validate_table_name(table_name)?;
        validate_queue_id(queue_id)?;
        self.remove_entries(table_name, &[queue_id.to_string()], "remove_from_queue")
    }

    fn count_pending(&self, table_name: &str) -> ReedResult<usize> {
        self.count(table_name)
    }

    fn capacity(&self) -> usize {
        self.shared.options.capacity
    }

    /// `true`: a batch is read by queries in sequence order, and one that
    /// returns fewer rows than asked for ends it.
    fn short_batch_holds_all(&self) -> bool {
        true
    }

    fn get_pending_batch(
        &self,
        table_name: &str,
        max: usize,
    ) -> ReedResult<Vec<(String, PendingWrite)>> {
        validate_table_name(table_name)?;
        self.pending_batch(table_name, max, "get_pending_batch")
    }

    /// Removes the entries in one transaction; when one of them is not
    /// pending, exactly the entries before it are removed (as the trait
    /// asks), also in one transaction.
    fn remove_batch_from_queue(&self, table_name: &str, queue_ids: &[String]) -> ReedResult<()> {
        validate_table_name(table_name)?;
        for id in queue_ids {
            validate_queue_id(id)?;
        }
        self.remove_entries(table_name, queue_ids, "remove_batch_from_queue")
    }

    fn is_pending(&self, table_name: &str, queue_id: &str) -> ReedResult<bool> {
        self.pending(table_name, queue_id)
    }

    fn move_aside(&self, table_name: &str, queue_id: &str, reason: &str) -> ReedResult<MovedAside> {
        self.move_entry_aside(table_name, queue_id, reason)
    }

    fn moved_aside(&self, table_name: &str) -> ReedResult<Vec<MovedAside>> {
        self.moved_entries(table_name)
    }

    fn record_failed_apply(&self, table_name: &str, queue_id: &str) -> ReedResult<u32> {
        self.count_failed_apply(table_name, queue_id)
    }

    fn tables_with_pending(&self) -> ReedResult<Vec<String>> {
        self.tables_pending()
    }
}
