// SPDX-License-Identifier: Apache-2.0
//! The commands, written once for every backend: generic over core's
//! [`RestoreBackend`] (and so [`InspectBackend`], `LockBackend` and
//! `QueueBackend`). A table, base directory or namespace that is not there
//! is an error (exit 1), never an empty queue or a free lock; a malformed
//! name or id is bad usage (exit 2).

use std::io::Write as _;
use std::process::ExitCode;

use reedbase_concurrent_core::{
    InspectBackend, ReedError, RestoreBackend, validate_queue_id, validate_table_name,
};
use serde::Serialize;

use crate::args::{Cli, Command, CorruptCommand, LockCommand, QueueCommand};
use crate::{Failure, render, report};

/// Exit code: the lock is held (`lock holder`, `lock wait` at its timeout).
const LOCK_HELD: u8 = 3;
/// Exit code: a queue is not empty (`--exit-code`).
const QUEUE_NOT_EMPTY: u8 = 4;
/// How many table names a "does not exist" message lists.
const TABLES_NAMED: usize = 10;

/// Runs the command of `cli` on `store`; `rest` holds the positional
/// arguments after BASE, as many as the command takes.
pub fn run<B: RestoreBackend>(cli: &Cli, store: &B, rest: &[String]) -> Result<ExitCode, Failure> {
    let arg = |index: usize| rest.get(index).map_or("", String::as_str);
    match &cli.command {
        Command::Status { exit_code, .. } => {
            let tables = report::status(store)?;
            show(cli, &tables, || render::status(&store.location(), &tables))?;
            let pending = tables.iter().any(|table| table.pending > 0);
            Ok(code(*exit_code && pending, QUEUE_NOT_EMPTY))
        }
        Command::Queue(QueueCommand::List { exit_code, .. }) => {
            let table = arg(0);
            existing_table(store, table)?;
            let entries = report::entries(store, table)?;
            show(cli, &entries, || render::entries(table, &entries))?;
            Ok(code(*exit_code && !entries.is_empty(), QUEUE_NOT_EMPTY))
        }
        Command::Queue(QueueCommand::Show { .. }) => {
            let (table, id) = (arg(0), arg(1));
            let entry = by_id(store, table, id, || {
                existing_table(store, table)?;
                Ok(report::entry(store, table, id)?)
            })?;
            show(cli, &entry, || render::entry(table, &entry))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Corrupt(CorruptCommand::List { .. }) => {
            let tables = match rest.first() {
                Some(table) => {
                    existing_table(store, table)?;
                    vec![table.clone()]
                }
                None => store.tables()?,
            };
            let mut moved = Vec::new();
            for table in &tables {
                moved.extend(report::moved(store, table)?);
            }
            show(cli, &moved, || render::moved(&moved))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Corrupt(CorruptCommand::Restore { .. }) => {
            let (table, id) = (arg(0), arg(1));
            let write = by_id(store, table, id, || {
                existing_table(store, table)?;
                Ok(store.restore_moved_aside(table, id)?)
            })?;
            let restored = Restored {
                table,
                id,
                rows: write.rows.len(),
            };
            show(cli, &restored, || {
                format!(
                    "restored entry '{id}' of table '{table}' ({} rows) into its place in the queue\n",
                    restored.rows
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lock(LockCommand::Holder { .. }) => {
            existing_table(store, arg(0))?;
            let lock = report::lock(store, arg(0))?;
            show(cli, &lock, || {
                format!("{}: {}\n", lock.table, render::lock_text(&lock))
            })?;
            Ok(code(lock.held, LOCK_HELD))
        }
        Command::Lock(LockCommand::Wait { timeout, .. }) => {
            let table = arg(0);
            existing_table(store, table)?;
            let start = std::time::Instant::now();
            let lock = match store.wait_for_unlock(table, *timeout) {
                Ok(()) => report::LockReport {
                    table: table.to_string(),
                    held: false,
                    holder: None,
                },
                Err(error) if error.is_lock_timeout() => {
                    let mut lock = report::lock(store, table)?;
                    lock.held = true;
                    lock
                }
                Err(error) => return Err(error.into()),
            };
            let waited = start.elapsed();
            show(cli, &lock, || match &lock.holder {
                _ if !lock.held => format!("{table}: free after {:.1?}\n", waited),
                Some(holder) => format!(
                    "{table}: still held after {waited:.1?} by {}\n",
                    holder.text
                ),
                None => format!("{table}: still held after {waited:.1?}\n"),
            })?;
            Ok(code(lock.held, LOCK_HELD))
        }
    }
}

/// Refuses a malformed table name (exit 2) and a table the store does not
/// have (exit 1, naming the store and the tables it has).
fn existing_table(store: &impl InspectBackend, table: &str) -> Result<(), Failure> {
    validate_table_name(table)?;
    let tables = store.tables()?;
    if tables.iter().any(|known| known == table) {
        return Ok(());
    }
    let known = match tables.len() {
        0 => " (it has no tables)".to_string(),
        n if n <= TABLES_NAMED => format!(" (its tables: {})", tables.join(", ")),
        n => format!(
            " (its tables: {}, and {} more)",
            tables[..TABLES_NAMED].join(", "),
            n - TABLES_NAMED
        ),
    };
    Err(Failure::Missing(format!(
        "table '{table}' does not exist in {}{known}",
        store.location()
    )))
}

/// Runs `lookup` of entry `id` of `table`: a malformed table name or id,
/// or an id of no form the store gives its entries that names nothing, is
/// bad usage (exit 2); a well-formed id that is not there is an error
/// (exit 1).
fn by_id<T>(
    store: &impl InspectBackend,
    table: &str,
    id: &str,
    lookup: impl FnOnce() -> Result<T, Failure>,
) -> Result<T, Failure> {
    validate_table_name(table)?;
    validate_queue_id(id)?;
    match lookup() {
        Err(_) if !store.is_queue_id_form(id) => Err(Failure::Invalid(format!(
            "malformed queue id {id:?}: no entry has an id of this form (copy ids from `queue list` or `corrupt list`)"
        ))),
        found => found,
    }
}

/// What `corrupt restore` reports.
#[derive(Serialize)]
struct Restored<'a> {
    table: &'a str,
    id: &'a str,
    rows: usize,
}

/// `code` when `condition` holds, else success.
fn code(condition: bool, code: u8) -> ExitCode {
    if condition {
        ExitCode::from(code)
    } else {
        ExitCode::SUCCESS
    }
}

/// Prints `value` as JSON with `--json`, else `text()`.
fn show<T: Serialize>(cli: &Cli, value: &T, text: impl FnOnce() -> String) -> Result<(), Failure> {
    let out = if cli.json {
        let mut json = serde_json::to_string_pretty(value).map_err(|error| {
            Failure::Backend(ReedError::SerializationError {
                reason: error.to_string(),
            })
        })?;
        json.push('\n');
        json
    } else {
        text()
    };
    // A closed pipe (`| head`) is not an error worth a message.
    let _ = std::io::stdout().lock().write_all(out.as_bytes());
    Ok(())
}
