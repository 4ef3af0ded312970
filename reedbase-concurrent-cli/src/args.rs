// SPDX-License-Identifier: Apache-2.0
//! The command line, declared once with clap's derive: `--help` is
//! generated from it and never drifts.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};

/// The exit codes, as `--help` states them.
const EXIT_CODES: &str = "\
Exit codes:
  0  done (lock free, queue empty where asked)
  1  error (the message says what failed, also a base directory, namespace,
     table or queue entry that does not exist)
  2  bad usage (unknown command, missing argument, invalid table name,
     namespace or queue id)
  3  lock held (lock holder: the lock is held; lock wait: still held at the timeout)
  4  queue not empty (status and queue list with --exit-code)

Read-only commands (all but `corrupt restore`) never take a table's write
lock and never change a file or a row.";

/// Inspect and repair the locks and write queues of ReedBase tables.
///
/// Works on a base directory (the file-system backend) or, with `--pg URL
/// --namespace NS`, on a PostgreSQL server; then leave BASE out.
#[derive(Debug, Parser)]
#[command(name = "reedbase-concurrent", version, after_help = EXIT_CODES)]
pub struct Cli {
    /// Print JSON instead of text (one document on standard output).
    #[arg(long, global = true)]
    pub json: bool,

    /// Show the libraries' events on standard error (-v: info, -vv: debug).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// Use the PostgreSQL backend at this URL
    /// (`postgresql://user@host/db` or `host=/var/run/postgresql dbname=db`).
    #[arg(long, global = true, value_name = "URL", requires = "namespace")]
    pub pg: Option<String>,

    /// The PostgreSQL namespace (one per base directory).
    #[arg(long, global = true, value_name = "NS", requires = "pg")]
    pub namespace: Option<String>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// One line per table: lock, queue depth, oldest pending write, entries
    /// moved aside.
    #[command(
        override_usage = "reedbase-concurrent status [OPTIONS] <BASE>\n       reedbase-concurrent status [OPTIONS] --pg <URL> --namespace <NS>"
    )]
    Status {
        /// The base directory (left out with --pg).
        base: Option<String>,
        /// Exit with 4 when some table has pending writes.
        #[arg(long)]
        exit_code: bool,
    },
    /// A table's queue of pending writes.
    #[command(subcommand)]
    Queue(QueueCommand),
    /// Entries moved aside: unreadable ones and dead letters.
    #[command(subcommand)]
    Corrupt(CorruptCommand),
    /// A table's write lock.
    #[command(subcommand)]
    Lock(LockCommand),
}

/// `queue ...`
#[derive(Debug, Subcommand)]
pub enum QueueCommand {
    /// The pending entries in FIFO order.
    #[command(
        override_usage = "reedbase-concurrent queue list [OPTIONS] <BASE> <TABLE>\n       reedbase-concurrent queue list [OPTIONS] --pg <URL> --namespace <NS> <TABLE>"
    )]
    List {
        #[command(flatten)]
        place: BaseTable,
        /// Exit with 4 when the queue is not empty.
        #[arg(long)]
        exit_code: bool,
    },
    /// One pending entry with its rows.
    #[command(
        override_usage = "reedbase-concurrent queue show [OPTIONS] <BASE> <TABLE> <ID>\n       reedbase-concurrent queue show [OPTIONS] --pg <URL> --namespace <NS> <TABLE> <ID>"
    )]
    Show {
        #[command(flatten)]
        place: BaseTableId,
    },
}

/// `corrupt ...`
#[derive(Debug, Subcommand)]
pub enum CorruptCommand {
    /// Entries moved aside, with each reason (every table, or one).
    #[command(
        override_usage = "reedbase-concurrent corrupt list [OPTIONS] <BASE> [TABLE]\n       reedbase-concurrent corrupt list [OPTIONS] --pg <URL> --namespace <NS> [TABLE]"
    )]
    List {
        /// The base directory (left out with --pg), then optionally a table.
        #[arg(value_name = "BASE|TABLE", num_args = 0..=2)]
        args: Vec<String>,
    },
    /// Put a repaired entry (or a dead letter whose cause is fixed) back
    /// into its queue under its own id, so in its FIFO place. Refuses one
    /// that still does not parse. Repair it first where it lies:
    /// `<base>/tables/<table>/queue/corrupt/<id>.pending`, or the `body`
    /// of its row in `<schema>.moved_aside`.
    #[command(
        override_usage = "reedbase-concurrent corrupt restore [OPTIONS] <BASE> <TABLE> <ID>\n       reedbase-concurrent corrupt restore [OPTIONS] --pg <URL> --namespace <NS> <TABLE> <ID>"
    )]
    Restore {
        #[command(flatten)]
        place: BaseTableId,
    },
}

/// `lock ...`
#[derive(Debug, Subcommand)]
pub enum LockCommand {
    /// Who holds the table's lock (exit 3 when held, 0 when free).
    #[command(
        override_usage = "reedbase-concurrent lock holder [OPTIONS] <BASE> <TABLE>\n       reedbase-concurrent lock holder [OPTIONS] --pg <URL> --namespace <NS> <TABLE>"
    )]
    Holder {
        #[command(flatten)]
        place: BaseTable,
    },
    /// Wait until the table's lock is free, without taking it (exit 3 when
    /// still held at the timeout).
    #[command(
        override_usage = "reedbase-concurrent lock wait [OPTIONS] <BASE> <TABLE> --timeout <DURATION>\n       reedbase-concurrent lock wait [OPTIONS] --pg <URL> --namespace <NS> <TABLE> --timeout <DURATION>"
    )]
    Wait {
        #[command(flatten)]
        place: BaseTable,
        /// How long to wait: `500ms`, `5s`, `2m` (a plain number is seconds).
        #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
        timeout: Duration,
    },
}

/// `[BASE] TABLE`: how many are needed depends on `--pg`, so the count is
/// checked after parsing, with the subcommand's usage.
#[derive(Debug, Args)]
pub struct BaseTable {
    /// The base directory (left out with --pg), then the table.
    #[arg(value_name = "BASE|TABLE", num_args = 0..=2)]
    pub args: Vec<String>,
}

/// `[BASE] TABLE ID`
#[derive(Debug, Args)]
pub struct BaseTableId {
    /// The base directory (left out with --pg), the table, then the
    /// entry's queue id.
    #[arg(value_name = "BASE|TABLE|ID", num_args = 0..=3)]
    pub args: Vec<String>,
}

/// Parses `500ms`, `5s`, `2m`, `1h` or a plain number of seconds
/// (fractions allowed).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration such as 500ms, 5s or 2m"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit {other:?} (use ms, s, m or h)")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| format!("{text:?}: {e}"))
}

#[cfg(test)]
#[path = "args_test.rs"]
mod tests;
