// SPDX-License-Identifier: Apache-2.0
//! `reedbase-concurrent`: the operators' tool for ReedBase's table locks and
//! write queues, on a base directory or a PostgreSQL namespace. See the
//! crate's README ("Operating it") and `reedbase-concurrent --help`.

mod args;
mod render;
mod report;
mod store;

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};
use reedbase_concurrent_core::ReedError;
use serde::Serialize;

use args::{Cli, Command, CorruptCommand, LockCommand, QueueCommand};
use store::Store;

/// Exit code: the lock is held (`lock holder`, `lock wait` at its timeout).
const LOCK_HELD: u8 = 3;
/// Exit code: a queue is not empty (`--exit-code`).
const QUEUE_NOT_EMPTY: u8 = 4;

/// Why a command did not finish.
enum Failure {
    /// The command line does not fit (exit 2).
    Usage(String),
    /// The backend failed (exit 1; 2 for an invalid name or id).
    Backend(ReedError),
}

impl From<ReedError> for Failure {
    fn from(error: ReedError) -> Self {
        Failure::Backend(error)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if cli.verbose > 0 {
        let level = if cli.verbose > 1 {
            tracing_subscriber::filter::LevelFilter::DEBUG
        } else {
            tracing_subscriber::filter::LevelFilter::INFO
        };
        tracing_subscriber::fmt()
            .with_max_level(level)
            .with_writer(std::io::stderr)
            .init();
    }
    match run(&cli) {
        Ok(code) => code,
        Err(Failure::Usage(message)) => Cli::command()
            .error(clap::error::ErrorKind::WrongNumberOfValues, message)
            .exit(),
        Err(Failure::Backend(error)) => {
            eprintln!("reedbase-concurrent: {error}");
            if error.is_invalid_input() {
                ExitCode::from(2)
            } else {
                ExitCode::FAILURE
            }
        }
    }
}

fn run(cli: &Cli) -> Result<ExitCode, Failure> {
    match &cli.command {
        Command::Status { base, exit_code } => {
            let (store, _) = open(cli, base.iter().cloned().collect(), 0)?;
            let tables = report::status(&store)?;
            show(cli, &tables, || render::status(&store.describe(), &tables))?;
            let pending = tables.iter().any(|table| table.pending > 0);
            Ok(code(*exit_code && pending, QUEUE_NOT_EMPTY))
        }
        Command::Queue(QueueCommand::List { place, exit_code }) => {
            let (store, rest) = open(cli, place.args.clone(), 1)?;
            let entries = report::entries(&store, &rest[0])?;
            show(cli, &entries, || render::entries(&rest[0], &entries))?;
            Ok(code(*exit_code && !entries.is_empty(), QUEUE_NOT_EMPTY))
        }
        Command::Queue(QueueCommand::Show { place }) => {
            let (store, rest) = open(cli, place.args.clone(), 2)?;
            let entry = report::entry(&store, &rest[0], &rest[1])?;
            show(cli, &entry, || render::entry(&rest[0], &entry))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Corrupt(CorruptCommand::List { args }) => {
            let mut args = args.clone();
            let wants_table = args.len() == if cli.pg.is_some() { 1 } else { 2 };
            let table = if wants_table { args.pop() } else { None };
            let (store, _) = open(cli, args, 0)?;
            let tables = match table {
                Some(table) => vec![table],
                None => store.tables()?,
            };
            let mut moved = Vec::new();
            for table in &tables {
                moved.extend(report::moved(&store, table)?);
            }
            show(cli, &moved, || render::moved(&moved))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Corrupt(CorruptCommand::Restore { place }) => {
            let (store, rest) = open(cli, place.args.clone(), 2)?;
            let write = store.restore(&rest[0], &rest[1])?;
            let restored = Restored {
                table: &rest[0],
                id: &rest[1],
                rows: write.rows.len(),
            };
            show(cli, &restored, || {
                format!(
                    "restored entry '{}' of table '{}' ({} rows) into its place in the queue\n",
                    restored.id, restored.table, restored.rows
                )
            })?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lock(LockCommand::Holder { place }) => {
            let (store, rest) = open(cli, place.args.clone(), 1)?;
            let lock = report::lock(&store, &rest[0])?;
            show(cli, &lock, || {
                format!("{}: {}\n", lock.table, render::lock_text(&lock))
            })?;
            Ok(code(lock.held, LOCK_HELD))
        }
        Command::Lock(LockCommand::Wait { place, timeout }) => {
            let (store, rest) = open(cli, place.args.clone(), 1)?;
            let table = &rest[0];
            let start = std::time::Instant::now();
            let lock = match store.wait_for_unlock(table, *timeout) {
                Ok(()) => report::LockReport {
                    table: table.clone(),
                    held: false,
                    holder: None,
                },
                Err(error) if error.is_lock_timeout() => {
                    let mut lock = report::lock(&store, table)?;
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

/// The store the command line names, and the positional arguments after
/// BASE: with `--pg`, all of `args` (exactly `after_base` of them); without,
/// BASE and then `after_base` more.
fn open(
    cli: &Cli,
    mut args: Vec<String>,
    after_base: usize,
) -> Result<(Store, Vec<String>), Failure> {
    match (&cli.pg, &cli.namespace) {
        (Some(url), Some(namespace)) => {
            if args.len() != after_base {
                return Err(Failure::Usage(format!(
                    "with --pg, give {after_base} argument(s) after the command and no BASE, got {args:?}"
                )));
            }
            Ok((Store::pg(url, namespace)?, args))
        }
        _ => {
            if args.len() != after_base + 1 {
                return Err(Failure::Usage(format!(
                    "give BASE (the base directory) and {after_base} more argument(s), got {args:?}"
                )));
            }
            let base = PathBuf::from(args.remove(0));
            Ok((Store::fs(base), args))
        }
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
