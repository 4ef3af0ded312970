// SPDX-License-Identifier: Apache-2.0
//! The registry: each table of a namespace gets a number, its row in
//! `<schema>.tables`, the first time it is locked or queued to.
//!
//! Contract: registering takes no row lock on an existing row (a plain
//! insert that does nothing on a conflict), so that it never waits for
//! another producer's open transaction, whose queue insert holds a
//! key-share lock on the table's registry row. A number never changes while
//! its row exists (rows go only with `drop_namespace`), so each backend
//! caches the numbers it looked up.

use std::collections::HashMap;
use std::sync::PoisonError;
use std::time::Instant;

use reedbase_concurrent_core::ReedResult;

use crate::backend::PgBackend;

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
                self.shared().server.failure(
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
        let shared = self.shared();
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

    pub(crate) fn cached_numbers(&self) -> std::sync::MutexGuard<'_, HashMap<String, i32>> {
        self.shared()
            .table_numbers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}
