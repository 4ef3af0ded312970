// SPDX-License-Identifier: Apache-2.0
//! Developer tasks for the ReedBase concurrency workspace, run as
//! `cargo xtask <command>` (the alias is in `.cargo/config.toml`). Every
//! command's flags are declared once, with clap, beside the command, in the
//! library target (`src/lib.rs`); this file only dispatches.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use xtask::{bench, crash, held_lock, parity, stress, test_cmd};

/// Developer tasks of the ReedBase concurrency workspace.
#[derive(Debug, Parser)]
#[command(name = "cargo xtask", bin_name = "cargo xtask")]
struct Cli {
    #[command(subcommand)]
    command: Task,
}

#[derive(Debug, Subcommand)]
enum Task {
    /// Every test of the workspace, then the loom models (the README's test command)
    Test,
    /// The same scenarios on reedbase-last, fs, mem and pg, compared against PARITY.md
    Parity(parity::Options),
    /// The old module, the new backends, SQLite and the floor side by side, with ratios (release build)
    Bench(bench::Options),
    /// Many processes write through the coordinator; checks that nothing is lost
    Stress(stress::Options),
    /// Power cuts at every durability boundary and I/O errors below the fs backend (root, FUSE)
    Crash(crash::Options),
    /// A child process of bench, parity or stress
    #[command(name = "__child", hide = true)]
    Child {
        #[command(subcommand)]
        role: Role,
    },
}

/// The roles a child process of this binary plays.
#[derive(Debug, Subcommand)]
enum Role {
    /// Hold a table lock until told to let go
    Hold(held_lock::LockArgs),
    /// Wait for a held lock; report when it was had
    Wait(held_lock::LockArgs),
    /// Wait on a lock that stays held; report the CPU used
    CpuWait(held_lock::LockArgs),
    /// Write for the throughput and group-commit groups
    Write(bench::load_child::WriteArgs),
    /// Run the criterion micro-benchmarks
    Micro(bench::MicroArgs),
    /// Make counted old-API calls for the calls group
    Calls(bench::calls_child::CallsArgs),
    /// A stress writer
    StressWriter(stress::child::WriterArgs),
    /// A crash-run writer
    CrashWriter(crash::child::WriterArgs),
    /// A crash-run restart: the start-up recipe, then what a reader finds
    CrashRestart(crash::child::CommonArgs),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Task::Test => test_cmd::run(),
        Task::Parity(options) => parity::run(&options),
        Task::Bench(options) => bench::run(&options),
        Task::Stress(options) => stress::run(&options),
        Task::Crash(options) => crash::run(&options),
        Task::Child { role } => match role {
            Role::Hold(args) => held_lock::hold(&args),
            Role::Wait(args) => held_lock::wait(&args),
            Role::CpuWait(args) => held_lock::cpu_wait(&args),
            Role::Write(args) => bench::load_child::write(&args),
            Role::Micro(args) => bench::micro_child(&args),
            Role::Calls(args) => bench::calls_child::calls(&args),
            Role::StressWriter(args) => stress::child::run(&args),
            Role::CrashWriter(args) => crash::child::write(&args),
            Role::CrashRestart(args) => crash::child::restart(&args),
        },
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
