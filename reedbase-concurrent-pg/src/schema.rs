// SPDX-License-Identifier: Apache-2.0
//! The backend's tables, created on first use and versioned.
//!
//! ```text
//! <schema>.schema_version   version, applied_at: one row per applied step
//! <schema>.tables           the registry: (namespace, table_name) -> table_no,
//!                           the table's fencing token and its lock holder
//! <schema>.queue_seq        the sequence that orders queue entries
//! <schema>.queue            one row per pending entry: table_no, seq, id,
//!                           body (the entry's JSON bytes), failed_applies
//! <schema>.moved_aside      entries moved out of the queue, with the reason
//! ```
//!
//! [`ensure_schema`] reads the version; when the schema is missing or older
//! than this release, it applies the missing [`STEPS`] in one transaction,
//! under a transaction-level advisory lock that serialises processes doing
//! the same at the same moment. A schema newer than this release is refused
//! rather than used. A later release appends a step (an `ALTER TABLE`, say)
//! and every process migrates the schema on its next connect.

mod registry;

use crate::connection::Session as Client;

pub(crate) use registry::Lookup;

/// The version this release creates and understands.
pub(crate) const SCHEMA_VERSION: i32 = 1;

/// The steps from version `n` to `n + 1`, in order; `{s}` stands for the
/// quoted schema name.
const STEPS: [&str; SCHEMA_VERSION as usize] = [r#"
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.schema_version (
    version integer PRIMARY KEY,
    applied_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {s}.tables (
    table_no integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    namespace text NOT NULL,
    table_name text NOT NULL,
    fence bigint NOT NULL DEFAULT 0,
    holder_backend integer,
    holder_pid bigint,
    holder_host text,
    holder_since_micros bigint,
    UNIQUE (namespace, table_name)
);
CREATE SEQUENCE IF NOT EXISTS {s}.queue_seq;
CREATE TABLE IF NOT EXISTS {s}.queue (
    table_no integer NOT NULL REFERENCES {s}.tables ON DELETE CASCADE,
    seq bigint NOT NULL,
    id text NOT NULL,
    body bytea NOT NULL,
    failed_applies integer NOT NULL DEFAULT 0,
    queued_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_no, seq),
    UNIQUE (table_no, id)
);
CREATE TABLE IF NOT EXISTS {s}.moved_aside (
    table_no integer NOT NULL REFERENCES {s}.tables ON DELETE CASCADE,
    seq bigint NOT NULL,
    id text NOT NULL,
    body bytea NOT NULL,
    reason text NOT NULL,
    failed_applies integer NOT NULL DEFAULT 0,
    moved_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (table_no, seq)
);
"#];

/// What went wrong while checking or creating the schema.
#[derive(Debug)]
pub(crate) enum SchemaError {
    /// The server refused or failed.
    Server(&'static str, tokio_postgres::Error),
    /// The schema is newer than this release.
    TooNew(i32),
}

/// The oids that key the backend's advisory locks: the schema's (table
/// locks) and its queue table's (the producers' lock of each table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LockClasses {
    /// First key of a table's write lock.
    pub(crate) table_lock: u32,
    /// First key of a table's producers' lock.
    pub(crate) queue_lock: u32,
}

/// Checks a schema name: lower-case ASCII letters, digits and `_`, not
/// starting with a digit, 1 to 63 bytes. Such a name needs no quoting
/// beyond the double quotes it gets, and cannot inject SQL.
pub(crate) fn check_schema_name(name: &str) -> Result<(), String> {
    let valid = !name.is_empty()
        && name.len() <= 63
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(format!(
            "schema name {name:?} must be 1 to 63 lower-case ASCII letters, digits or '_', not starting with a digit"
        ))
    }
}

/// The schema name quoted for SQL text (already checked).
pub(crate) fn quoted(schema: &str) -> String {
    format!("\"{schema}\"")
}

/// Makes sure the schema exists at [`SCHEMA_VERSION`], creating or
/// migrating it if needed; returns the oids of its lock classes.
pub(crate) fn ensure_schema(client: &mut Client, schema: &str) -> Result<LockClasses, SchemaError> {
    let version = read_version(client, schema)?;
    if version > SCHEMA_VERSION {
        return Err(SchemaError::TooNew(version));
    }
    if version < SCHEMA_VERSION {
        migrate(client, schema)?;
    }
    lock_classes(client, schema)
}

/// The schema's version, 0 when it (or its version table) does not exist.
/// Looks before it reads, so that a missing table does not abort the
/// transaction it may run in.
fn read_version(client: &mut Client, schema: &str) -> Result<i32, SchemaError> {
    let fail = |error| SchemaError::Server("check_schema", error);
    let table = format!("{}.schema_version", quoted(schema));
    let exists: bool = client
        .query_one("SELECT to_regclass($1) IS NOT NULL", &[&table])
        .and_then(|row| row.try_get(0))
        .map_err(fail)?;
    if !exists {
        return Ok(0);
    }
    client
        .query_one(
            &format!("SELECT coalesce(max(version), 0) FROM {table}"),
            &[],
        )
        .and_then(|row| row.try_get(0))
        .map_err(fail)
}

/// Applies the missing steps in one transaction, under a session-level
/// lock that serialises the processes migrating the same schema. The lock is
/// taken before the transaction begins, so that the transaction starts with
/// the catalogs as the previous migrator committed them (a transaction
/// reads the catalog changes of others when it starts, not when a lock
/// that guards no table is granted).
fn migrate(client: &mut Client, schema: &str) -> Result<(), SchemaError> {
    let fail = |error| SchemaError::Server("create_schema", error);
    let key = format!("hashtext('reedbase-concurrent-pg schema {schema}')");
    client
        .batch_execute(&format!("SELECT pg_advisory_lock({key})"))
        .map_err(fail)?;
    let migrated = migrate_locked(client, schema);
    let unlocked = client
        .batch_execute(&format!("SELECT pg_advisory_unlock({key})"))
        .map_err(fail);
    migrated.and(unlocked)
}

fn migrate_locked(client: &mut Client, schema: &str) -> Result<(), SchemaError> {
    let fail = |error| SchemaError::Server("create_schema", error);
    let mut transaction = crate::connection::OpenTransaction::begin(client, "").map_err(fail)?;
    // Read again under the lock: another process may have migrated.
    let version = read_version(transaction.client(), schema)?;
    if version > SCHEMA_VERSION {
        return Err(SchemaError::TooNew(version));
    }
    let quoted = quoted(schema);
    for (step, sql) in STEPS.iter().enumerate().skip(version.max(0) as usize) {
        let applied = i32::try_from(step + 1).unwrap_or(SCHEMA_VERSION);
        let sql = format!(
            "{}\nINSERT INTO {quoted}.schema_version (version) VALUES ({applied});",
            sql.replace("{s}", &quoted)
        );
        transaction.client().batch_execute(&sql).map_err(fail)?;
    }
    transaction.commit().map_err(fail)
}

/// The server's version as a number (`150004` for 15.4).
pub(crate) fn server_version(client: &mut Client) -> Result<i32, tokio_postgres::Error> {
    let row = client.query_one("SELECT current_setting('server_version_num')::int", &[])?;
    row.try_get(0)
}

fn lock_classes(client: &mut Client, schema: &str) -> Result<LockClasses, SchemaError> {
    let row = client
        .query_one(
            "SELECT n.oid, c.oid FROM pg_namespace n JOIN pg_class c ON c.relnamespace = n.oid \
             WHERE n.nspname = $1 AND c.relname = 'queue'",
            &[&schema],
        )
        .map_err(|error| SchemaError::Server("check_schema", error))?;
    let table_lock: u32 = row
        .try_get(0)
        .map_err(|error| SchemaError::Server("check_schema", error))?;
    let queue_lock: u32 = row
        .try_get(1)
        .map_err(|error| SchemaError::Server("check_schema", error))?;
    Ok(LockClasses {
        table_lock,
        queue_lock,
    })
}

#[cfg(test)]
#[path = "schema_test.rs"]
mod tests;
