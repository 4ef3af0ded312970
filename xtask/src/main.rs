// SPDX-License-Identifier: Apache-2.0
//! Developer tasks for the ReedBase concurrency workspace, run as
//! `cargo xtask <command>` (the alias is in `.cargo/config.toml`).
//!
//! - `test`: every test of the workspace, then the loom models.
//! - `parity`: the same scenarios on reedbase-last, fs and mem, compared.
//! - `bench`: the old module and the new backends side by side.
//! - `stress`: many processes writing through the coordinator, optionally
//!   killed at random; checks that nothing was lost.

mod bench;
mod parity;
mod stress;
mod test_cmd;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <command> [options]

commands:
  test      every test of the workspace, then the loom models (the README's test command)
  parity    the same scenarios on reedbase-last, fs and mem, compared (the main job)
              [--cases N] [--seed S] [--listing FILE] [--repeat-last N]
  bench     the old module and the new backends side by side, with ratios (release build)
              [--quick] [--only lock,handoff,queue,drain,throughput] [--json PATH]
  stress    many processes write through the coordinator; checks that nothing is lost
              --processes N --seconds S [--kill] [--capacity C] [--dir DIR]
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match command.as_str() {
        "test" => test_cmd::run(rest),
        "parity" => parity::run(rest),
        "bench" => bench::run(rest),
        "stress" => stress::run(rest),
        // Child processes that the tasks above spawn from this same binary.
        "__bench-child" => bench::child(rest),
        "__parity-child" => parity::child(rest),
        "__stress-child" => stress::child(rest),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command {other:?}\n\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("xtask: {message}");
            ExitCode::FAILURE
        }
    }
}
