// SPDX-License-Identifier: Apache-2.0
//! Nothing that is not there reads as empty or free: a missing base
//! directory, table or namespace exits 1 and names it; a malformed id or
//! namespace and a short command line exit 2 with a usage message, as the
//! README's exit-code table says.

use std::fs;

use reedbase_concurrent_core::QueueBackend;
use reedbase_concurrent_fs::FsBackend;
use reedbase_concurrent_pg::PgOptions;
use reedbase_concurrent_pg::testing::TestServer;

use super::{Outcome, check, contains, expect, write};

/// A well-formed id that no queue holds.
const ABSENT_ID: &str = "00000000000000000007-89abcdef0123456789abcdef01234567";

/// Every command, with `base` first and the table `table`.
fn every_command(base: &str, table: &str) -> Vec<Vec<String>> {
    [
        vec!["status", base],
        vec!["status", base, "--exit-code"],
        vec!["queue", "list", base, table],
        vec!["queue", "list", base, table, "--exit-code"],
        vec!["queue", "show", base, table, ABSENT_ID],
        vec!["corrupt", "list", base],
        vec!["corrupt", "list", base, table],
        vec!["corrupt", "restore", base, table, ABSENT_ID],
        vec!["lock", "holder", base, table],
        vec!["lock", "wait", base, table, "--timeout", "10ms"],
    ]
    .into_iter()
    .map(|args| args.into_iter().map(String::from).collect())
    .collect()
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

pub fn fs_missing_base_is_an_error() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-base");
    let missing = missing.to_str().unwrap();
    for args in every_command(missing, "orders") {
        let ran = expect(&refs(&args), 1)?;
        contains(&ran.stderr, missing)?;
        check(ran.stdout.is_empty(), &format!("{args:?} printed nothing"))?;
    }
    let file = dir.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let file = file.to_str().unwrap();
    contains(&expect(&["status", file], 1)?.stderr, "not a directory")?;
    check(
        !dir.path().join("no-base").exists(),
        "a missing base is not created",
    )
}

pub fn fs_missing_table_is_an_error() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    // A base that exists without tables is empty; a table it lacks is not.
    let base = dir.path().join("base");
    fs::create_dir(&base).unwrap();
    let base = base.to_str().unwrap();
    contains(&expect(&["status", base], 0)?.stdout, "no tables")?;
    contains(&expect(&["corrupt", "list", base], 0)?.stdout, "no entries")?;
    FsBackend::new(base)
        .queue_write("orders", &write("order:1"))
        .unwrap();
    for args in every_command(base, "ordres") {
        if args[0] == "status" || args.len() == 3 {
            continue;
        }
        let ran = expect(&refs(&args), 1)?;
        contains(&ran.stderr, "table 'ordres' does not exist")?;
        contains(&ran.stderr, "its tables: orders")?;
    }
    Ok(())
}

pub fn malformed_ids_exit_2() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_str().unwrap();
    FsBackend::new(base)
        .queue_write("orders", &write("order:1"))
        .unwrap();
    for command in ["show", "restore"] {
        let group = if command == "show" {
            "queue"
        } else {
            "corrupt"
        };
        let ran = expect(&[group, command, base, "orders", "not-an-id"], 2)?;
        contains(&ran.stderr, "malformed queue id")?;
        let ran = expect(&[group, command, base, "orders", ABSENT_ID], 1)?;
        contains(&ran.stderr, "does not exist")?;
    }
    Ok(())
}

pub fn short_command_lines_get_a_usage_message() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_str().unwrap();
    let ran = expect(&["status"], 2)?;
    contains(
        &ran.stderr,
        "the following required arguments were not provided",
    )?;
    contains(&ran.stderr, "<BASE>")?;
    contains(&ran.stderr, "Usage: reedbase-concurrent status")?;
    check(!ran.stderr.contains("got []"), "no internal message")?;
    let ran = expect(&["queue", "show", base, "orders"], 2)?;
    contains(&ran.stderr, "  <ID>")?;

    // With --pg, the usage offers a form without BASE.
    let ran = expect(&["queue", "list", "orders", "--pg", "host=/x"], 2)?;
    contains(&ran.stderr, "--namespace <NS>")?;
    let pg_form = ran
        .stderr
        .lines()
        .find(|line| line.contains("queue list [OPTIONS] --pg <URL> --namespace <NS>"))
        .ok_or_else(|| format!("no usage line with --pg:\n{}", ran.stderr))?;
    check(
        !pg_form.contains("BASE"),
        &format!("the --pg usage needs no BASE: {pg_form}"),
    )
}

pub fn a_bad_namespace_is_an_invalid_namespace() -> Outcome {
    // A bad namespace is refused before any server is asked.
    let ran = expect(
        &[
            "status",
            "--pg",
            "host=/nonexistent-socket-dir dbname=test",
            "--namespace",
            "../prod",
        ],
        2,
    )?;
    contains(&ran.stderr, "invalid namespace \"../prod\"")?;
    check(
        !ran.stderr.contains("invalid table name"),
        &format!("a namespace is not a table: {}", ran.stderr),
    )
}

pub fn pg_unknown_namespace_or_table_is_an_error() -> Outcome {
    let Some(server) = TestServer::find("cli_end_to_end pg_unknown_namespace") else {
        return Ok(());
    };
    let run = server.run("cli_missing");
    let backend = run.backend(PgOptions::new()).map_err(|e| e.to_string())?;
    let namespace = backend.namespace().to_string();
    // The commands with BASE left out and the server named instead.
    let with = |args: &[String]| -> Vec<String> {
        let mut full: Vec<String> = args.iter().filter(|a| *a != "BASE").cloned().collect();
        full.extend([
            "--pg".to_string(),
            server.url().to_string(),
            "--namespace".to_string(),
            namespace.clone(),
        ]);
        full
    };
    // Not a single table yet: the namespace is unknown (a typo reads so).
    for args in every_command("BASE", "orders") {
        let ran = expect(&refs(&with(&args)), 1)?;
        contains(&ran.stderr, &format!("unknown namespace '{namespace}'"))?;
    }
    backend
        .queue_write("orders", &write("order:1"))
        .map_err(|e| e.to_string())?;
    let status = with(&["status".to_string(), "BASE".to_string()]);
    contains(&expect(&refs(&status), 0)?.stdout, "orders")?;
    for args in every_command("BASE", "ordres") {
        if args[0] == "status" || args.len() == 3 {
            continue;
        }
        let ran = expect(&refs(&with(&args)), 1)?;
        contains(&ran.stderr, "table 'ordres' does not exist")?;
    }
    let show: Vec<String> = ["queue", "show", "orders", "not-an-id"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    expect(&refs(&with(&show)), 2).map(drop)
}
