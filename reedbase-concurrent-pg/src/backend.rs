// SPDX-License-Identifier: Apache-2.0
//! [`PgBackend`]: the connection pool, the schema, the namespace, and the
//! registry that numbers the namespace's tables.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use reedbase_concurrent_core::{ReedError, ReedResult, validate_table_name};

use crate::connection::{self, Connection, Identity, NoSession, OpenError, Pool, Server, Session};
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
    table_numbers: Mutex<HashMap<String, i32>>,
}

/// Whether a registry look-up may register a table it does not find.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Register the table if it is new (locking, queueing).
    Register,
    /// Only look: a table nobody locked or queued to is not registered
    /// (queries must never create anything).
    Existing,
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

    /// The table's number in the registry, registering the table if it is
    /// new.
    pub(crate) fn register_table(
        &self,
        table: &str,
        operation: &'static str,
        deadline: Instant,
    ) -> ReedResult<i32> {
        self.table_number_by(table, Lookup::Register, operation, deadline)?
            .ok_or_else(|| {
                self.shared.server.failure(
                    operation,
                    format!("table '{table}' could not be registered"),
                )
            })
    }

    /// The table's number in the registry, within the call bound; `None`
    /// for a table that is not registered when `lookup` is
    /// [`Lookup::Existing`].
    pub(crate) fn table_number(
        &self,
        table: &str,
        lookup: Lookup,
        operation: &'static str,
    ) -> ReedResult<Option<i32>> {
        self.table_number_by(table, lookup, operation, self.call_deadline())
    }

    /// As [`table_number`](Self::table_number), by `deadline`.
    ///
    /// Registering takes no row lock on an existing row (a plain insert that
    /// does nothing on a conflict), so that it never waits for another
    /// producer's open transaction, whose queue insert holds a key-share
    /// lock on the table's registry row.
    pub(crate) fn table_number_by(
        &self,
        table: &str,
        lookup: Lookup,
        operation: &'static str,
        deadline: Instant,
    ) -> ReedResult<Option<i32>> {
        if let Some(number) = self.cached_numbers().get(table) {
            return Ok(Some(*number));
        }
        let shared = &self.shared;
        let select = format!(
            "SELECT table_no FROM {}.tables WHERE namespace = $1 AND table_name = $2",
            shared.schema
        );
        let insert = format!(
            "INSERT INTO {}.tables (namespace, table_name) VALUES ($1, $2) \
             ON CONFLICT (namespace, table_name) DO NOTHING RETURNING table_no",
            shared.schema
        );
        let mut conn = self.connection_by(operation, deadline)?;
        let failed = |error: tokio_postgres::Error| self.server_error(operation, &error);
        let mut row = conn
            .query_opt(&select, &[&shared.namespace, &table])
            .map_err(failed)?;
        if row.is_none() && lookup == Lookup::Register {
            row = conn
                .query_opt(&insert, &[&shared.namespace, &table])
                .map_err(failed)?;
            if row.is_none() {
                // Another process inserted it since the first look, and
                // committed (the insert waited for it otherwise).
                row = conn
                    .query_opt(&select, &[&shared.namespace, &table])
                    .map_err(failed)?;
            }
        }
        let Some(row) = row else {
            return Ok(None);
        };
        let number: i32 = row.try_get(0).map_err(failed)?;
        self.cached_numbers().insert(table.to_string(), number);
        Ok(Some(number))
    }

    fn cached_numbers(&self) -> std::sync::MutexGuard<'_, HashMap<String, i32>> {
        self.shared
            .table_numbers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
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
