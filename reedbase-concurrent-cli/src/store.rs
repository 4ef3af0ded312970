// SPDX-License-Identifier: Apache-2.0
//! Where the commands work: the positional arguments split into BASE and
//! the rest, and the backend built from them: a base directory (fs) or a
//! PostgreSQL namespace (pg). The only place that names a backend; every
//! command is generic over core's `RestoreBackend`.

use clap::CommandFactory as _;
use clap::error::ErrorKind;
use reedbase_concurrent_core::{ReedError, validate_table_name};
use reedbase_concurrent_fs::FsBackend;
use reedbase_concurrent_pg::PgBackend;

use crate::Failure;
use crate::args::{Cli, Command, CorruptCommand, LockCommand, QueueCommand};

/// A command's positional arguments and what they must be.
pub struct Place {
    /// The subcommand's path, for its usage (`["queue", "list"]`).
    path: [&'static str; 2],
    /// The arguments after BASE, by name (`TABLE`, `ID`).
    names: &'static [&'static str],
    /// How many of the last `names` may be left out.
    optional: usize,
    /// The arguments as given.
    args: Vec<String>,
}

impl Place {
    /// The positional arguments of `command`.
    pub fn of(command: &Command) -> Place {
        let (path, names, optional, args): (
            [&'static str; 2],
            &'static [&'static str],
            usize,
            &[String],
        ) = match command {
            Command::Status { base, .. } => (["status", ""], &[], 0, base.as_slice()),
            Command::Queue(QueueCommand::List { place, .. }) => {
                (["queue", "list"], &["TABLE"], 0, &place.args)
            }
            Command::Queue(QueueCommand::Show { place }) => {
                (["queue", "show"], &["TABLE", "ID"], 0, &place.args)
            }
            Command::Corrupt(CorruptCommand::List { args }) => {
                (["corrupt", "list"], &["TABLE"], 1, args)
            }
            Command::Corrupt(CorruptCommand::Restore { place }) => {
                (["corrupt", "restore"], &["TABLE", "ID"], 0, &place.args)
            }
            Command::Lock(LockCommand::Holder { place }) => {
                (["lock", "holder"], &["TABLE"], 0, &place.args)
            }
            Command::Lock(LockCommand::Wait { place, .. }) => {
                (["lock", "wait"], &["TABLE"], 0, &place.args)
            }
        };
        Place {
            path,
            names,
            optional,
            args: args.to_vec(),
        }
    }

    /// With `--pg`: the arguments, which hold no BASE.
    pub fn without_base(&self) -> Result<Vec<String>, Failure> {
        self.check(&self.args, self.names, "with --pg, leave BASE out")?;
        Ok(self.args.clone())
    }

    /// Without `--pg`: BASE and the arguments after it.
    pub fn with_base(&self) -> Result<(String, Vec<String>), Failure> {
        let mut names = vec!["BASE"];
        names.extend_from_slice(self.names);
        self.check(&self.args, &names, "")?;
        let mut rest = self.args.clone();
        let base = rest.remove(0);
        Ok((base, rest))
    }

    /// Refuses too few or too many arguments for `names`, as clap would.
    fn check(&self, args: &[String], names: &[&str], hint: &str) -> Result<(), Failure> {
        let least = names.len() - self.optional;
        if args.len() < least {
            let missing: Vec<String> = names[args.len()..least]
                .iter()
                .map(|name| format!("  <{name}>"))
                .collect();
            return Err(self.usage(
                ErrorKind::MissingRequiredArgument,
                format!(
                    "the following required arguments were not provided:\n{}",
                    missing.join("\n")
                ),
            ));
        }
        if let Some(extra) = args.get(names.len()) {
            let hint = if hint.is_empty() {
                String::new()
            } else {
                format!(" ({hint})")
            };
            return Err(self.usage(
                ErrorKind::UnknownArgument,
                format!("unexpected argument '{extra}' found{hint}"),
            ));
        }
        Ok(())
    }

    /// A usage error with the subcommand's usage.
    fn usage(&self, kind: ErrorKind, message: String) -> Failure {
        let mut command = Cli::command();
        command.build();
        for name in self.path.iter().filter(|name| !name.is_empty()) {
            command = command.find_subcommand(name).cloned().unwrap_or(command);
        }
        Failure::Usage(command.error(kind, message))
    }
}

/// The file-system backend on `base` (nothing is opened yet).
pub fn fs(base: String) -> FsBackend {
    FsBackend::new(base)
}

/// Connects to PostgreSQL (which creates the backend's schema if the
/// server has none yet, as every process of the backend does), after
/// checking the namespace's spelling without contacting the server.
pub fn pg(url: &str, namespace: &str) -> Result<PgBackend, Failure> {
    validate_table_name(namespace).map_err(|error| match error {
        ReedError::InvalidTableName { name, rule } => {
            Failure::Invalid(format!("invalid namespace {name:?}: {rule}"))
        }
        other => Failure::Backend(other),
    })?;
    Ok(PgBackend::connect(url, namespace)?)
}
