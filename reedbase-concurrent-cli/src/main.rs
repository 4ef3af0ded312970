// SPDX-License-Identifier: Apache-2.0
//! `reedbase-concurrent`: the operators' tool for ReedBase's table locks and
//! write queues, on a base directory or a PostgreSQL namespace. See the
//! crate's README ("Operating it") and `reedbase-concurrent --help`.

mod args;
mod commands;
mod render;
mod report;
mod store;

use std::process::ExitCode;

use clap::Parser as _;
use reedbase_concurrent_core::ReedError;

use args::Cli;
use store::Place;

/// Why a command did not finish.
enum Failure {
    /// The command line does not fit (exit 2, with the usage).
    Usage(clap::Error),
    /// A malformed name or id (exit 2).
    Invalid(String),
    /// A base directory, namespace, table or entry that is not there (exit 1).
    Missing(String),
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
    match dispatch(&cli) {
        Ok(code) => code,
        Err(Failure::Usage(error)) => error.exit(),
        Err(Failure::Invalid(message)) => {
            eprintln!("reedbase-concurrent: {message}");
            ExitCode::from(2)
        }
        Err(Failure::Missing(message)) => {
            eprintln!("reedbase-concurrent: {message}");
            ExitCode::FAILURE
        }
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

/// Builds the backend the command line names and runs the command on it:
/// with `--pg`, the positional arguments hold no BASE.
fn dispatch(cli: &Cli) -> Result<ExitCode, Failure> {
    let place = Place::of(&cli.command);
    match (&cli.pg, &cli.namespace) {
        (Some(url), Some(namespace)) => {
            let rest = place.without_base()?;
            commands::run(cli, &store::pg(url, namespace)?, &rest)
        }
        _ => {
            let (base, rest) = place.with_base()?;
            commands::run(cli, &store::fs(base), &rest)
        }
    }
}
