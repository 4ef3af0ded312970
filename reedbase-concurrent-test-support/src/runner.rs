// SPDX-License-Identifier: Apache-2.0
//! [`Runner`]: the `main` of a multi-process test binary (`harness = false`).

use std::panic::{self, UnwindSafe};
use std::process::ExitCode;

/// Runs named scenarios and prints libtest-like lines, so that `cargo test`
/// output reads the same as for other test binaries.
///
/// Command-line arguments that do not start with `-` are name filters (as
/// libtest's): a scenario runs when its name contains one of them.
pub struct Runner {
    filters: Vec<String>,
    passed: usize,
    failed: Vec<String>,
    filtered_out: usize,
}

impl Runner {
    /// A runner with the name filters from the command line.
    pub fn from_args() -> Runner {
        Runner {
            filters: std::env::args()
                .skip(1)
                .filter(|arg| !arg.starts_with('-'))
                .collect(),
            passed: 0,
            failed: Vec::new(),
            filtered_out: 0,
        }
    }

    /// Runs `scenario` unless filtered out; an `Err` or a panic fails it.
    pub fn run(&mut self, name: &str, scenario: impl FnOnce() -> Result<(), String> + UnwindSafe) {
        if !self.filters.is_empty() && !self.filters.iter().any(|f| name.contains(f.as_str())) {
            self.filtered_out += 1;
            return;
        }
        let outcome = panic::catch_unwind(scenario);
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(reason)) => Some(reason),
            Err(_) => Some("panicked (see above)".to_string()),
        };
        match failure {
            None => {
                println!("test {name} ... ok");
                self.passed += 1;
            }
            Some(reason) => {
                println!("test {name} ... FAILED");
                eprintln!("---- {name} ----\n{reason}");
                self.failed.push(name.to_string());
            }
        }
    }

    /// Prints the closing line and returns the process's exit code.
    pub fn finish(self) -> ExitCode {
        let verdict = if self.failed.is_empty() {
            "ok"
        } else {
            "FAILED"
        };
        if !self.failed.is_empty() {
            println!("\nfailures:\n    {}", self.failed.join("\n    "));
        }
        println!(
            "\ntest result: {verdict}. {} passed; {} failed; 0 ignored; 0 measured; {} filtered out",
            self.passed,
            self.failed.len(),
            self.filtered_out
        );
        if self.failed.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    }
}
