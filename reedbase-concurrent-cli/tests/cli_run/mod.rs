// SPDX-License-Identifier: Apache-2.0
//! The scenarios of `cli_end_to_end`: running the binary and checking what
//! it prints and how it exits.

mod missing;
mod pg;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use reedbase_concurrent_core::{CsvRow, MovedAside, PendingWrite, QueueBackend, WriteOperation};
use reedbase_concurrent_fs::FsBackend;
use serde_json::Value;

use crate::support::ChildProcess;

pub use missing::{
    a_bad_namespace_is_an_invalid_namespace, fs_missing_base_is_an_error,
    fs_missing_table_is_an_error, malformed_ids_exit_2, pg_unknown_namespace_or_table_is_an_error,
    short_command_lines_get_a_usage_message,
};
pub use pg::pg_commands;

/// What a scenario returns: `Err` says what failed.
pub type Outcome = Result<(), String>;

/// How long a child may take to say it holds the lock.
const PATIENCE: Duration = Duration::from_secs(20);

/// The binary's exit code, standard output and standard error.
pub struct Ran {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

/// Runs `reedbase-concurrent` with `args`.
pub fn cli(args: &[&str]) -> Ran {
    let output = Command::new(env!("CARGO_BIN_EXE_reedbase-concurrent"))
        .args(args)
        .output()
        .unwrap();
    Ran {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// Runs it and checks the exit code.
pub fn expect(args: &[&str], code: i32) -> Result<Ran, String> {
    let ran = cli(args);
    if ran.code == code {
        Ok(ran)
    } else {
        Err(format!(
            "{args:?} exited with {} instead of {code}\nstdout:\n{}\nstderr:\n{}",
            ran.code, ran.stdout, ran.stderr
        ))
    }
}

/// Runs it with `--json` and parses standard output.
pub fn json(args: &[&str], code: i32) -> Result<Value, String> {
    let mut with_json = vec!["--json"];
    with_json.extend_from_slice(args);
    let ran = expect(&with_json, code)?;
    serde_json::from_str(&ran.stdout)
        .map_err(|e| format!("{args:?}: not JSON ({e}):\n{}", ran.stdout))
}

pub fn check(condition: bool, what: &str) -> Outcome {
    if condition {
        Ok(())
    } else {
        Err(format!("not so: {what}"))
    }
}

pub fn contains(text: &str, part: &str) -> Outcome {
    check(text.contains(part), &format!("{part:?} in:\n{text}"))
}

pub fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v", "w"])])
}

pub const BAD_ID: &str = "00000000000000000002-0123456789abcdef0123456789abcdef";

/// Every path below `root` with its size and modification time.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (u64, SystemTime)> {
    let mut found = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = fs::symlink_metadata(&path).unwrap();
            if meta.is_dir() {
                stack.push(path.clone());
            }
            found.insert(path, (meta.len(), meta.modified().unwrap()));
        }
    }
    found
}

/// A base with `orders`: two good entries and an unreadable one between
/// them; `users`: a dead letter after 3 failed applies. Returns the ids of
/// the good `orders` entries and of the dead letter.
fn populate(base: &Path) -> (Vec<String>, String) {
    let backend = FsBackend::new(base);
    let first = backend.queue_write("orders", &write("order:1")).unwrap();
    let second = backend.queue_write("orders", &write("order:2")).unwrap();
    let queue = base.join("tables/orders/queue");
    fs::write(queue.join(format!("{BAD_ID}.pending")), b"{\"rows\":[").unwrap();
    let dead = backend.queue_write("users", &write("user:1")).unwrap();
    for _ in 0..3 {
        backend.record_failed_apply("users", &dead).unwrap();
    }
    let reason = MovedAside::dead_letter_reason(3, &"users.csv is read-only");
    backend.move_aside("users", &dead, &reason).unwrap();
    (vec![first, second], dead)
}

pub fn fs_read_only() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_str().unwrap();
    let (ids, dead) = populate(dir.path());
    let mut holder = ChildProcess::spawn("hold", dir.path(), "table=orders")?;
    holder.expect_line("held", PATIENCE)?;
    let pid = holder.pid();
    let before = snapshot(dir.path());

    let status = expect(&["status", base], 0)?;
    let orders = status
        .stdout
        .lines()
        .find(|l| l.starts_with("orders"))
        .ok_or("no orders line")?;
    contains(orders, &format!("held by pid {pid} on "))?;
    contains(orders, ", alive")?;
    contains(orders, "3 (1 unreadable)")?;
    let users = status
        .stdout
        .lines()
        .find(|l| l.starts_with("users"))
        .ok_or("no users line")?;
    contains(users, "free")?;
    contains(users, "1 (1 dead letter after 3 attempts)")?;
    expect(&["status", base, "--exit-code"], 4)?;

    let tables = json(&["status", base], 0)?;
    let orders = &tables[0];
    check(orders["table"] == "orders", "orders first")?;
    check(
        orders["lock"]["holder"]["pid"] == pid,
        "JSON names the holder's pid",
    )?;
    check(orders["lock"]["holder"]["alive"] == true, "JSON says alive")?;
    check(
        orders["pending"] == 3 && orders["unreadable"] == 1,
        "JSON depth",
    )?;
    check(
        orders["oldest_age_secs"]
            .as_f64()
            .is_some_and(|age| age >= 0.0),
        "JSON age",
    )?;
    let moved = &tables[1]["moved_aside"][0];
    check(
        moved["id"] == dead.as_str() && moved["dead_letter"] == true,
        "JSON dead letter",
    )?;
    check(moved["attempts"] == 3, "JSON attempts")?;

    let list = expect(&["queue", "list", base, "orders"], 0)?;
    let order: Vec<&str> = list
        .stdout
        .lines()
        .skip(1)
        .map(|l| l.split_whitespace().nth(1).unwrap_or(""))
        .collect();
    check(
        order == [ids[0].as_str(), ids[1].as_str(), BAD_ID],
        &format!("FIFO order: {order:?}"),
    )?;
    contains(&list.stdout, "unreadable: JSON entry does not parse")?;
    expect(&["queue", "list", base, "orders", "--exit-code"], 4)?;
    expect(&["queue", "list", base, "users", "--exit-code"], 0)?;
    let entries = json(&["queue", "list", base, "orders"], 0)?;
    check(
        entries[2]["position"] == 3 && entries[2]["error"].is_string(),
        "JSON third entry unreadable",
    )?;
    check(entries[0]["rows"][0] == "order:1|v|w", "JSON rows")?;

    let shown = expect(&["queue", "show", base, "orders", &ids[1]], 0)?;
    contains(&shown.stdout, "position:   2")?;
    contains(&shown.stdout, "  order:2|v|w")?;
    let shown = json(&["queue", "show", base, "orders", &ids[1]], 0)?;
    check(
        shown["operation"] == "Insert" && shown["rows"][0] == "order:2|v|w",
        "JSON show",
    )?;
    expect(
        &[
            "queue",
            "show",
            base,
            "orders",
            "00000000000000000009-0123456789abcdef0123456789abcdef",
        ],
        1,
    )?;

    let held = expect(&["lock", "holder", base, "orders"], 3)?;
    contains(&held.stdout, &format!("orders: held by pid {pid}"))?;
    check(
        json(&["lock", "holder", base, "orders"], 3)?["holder"]["pid"] == pid,
        "JSON holder",
    )?;
    contains(
        &expect(&["lock", "holder", base, "users"], 0)?.stdout,
        "users: free",
    )?;
    let waited = expect(&["lock", "wait", base, "orders", "--timeout", "150ms"], 3)?;
    contains(&waited.stdout, "still held after")?;

    let corrupt = expect(&["corrupt", "list", base], 0)?;
    contains(&corrupt.stdout, &format!("users  {dead}  dead letter  3"))?;
    contains(&corrupt.stdout, "users.csv is read-only")?;
    let corrupt = json(&["corrupt", "list", base, "users"], 0)?;
    check(
        corrupt.as_array().is_some_and(|all| all.len() == 1),
        "one moved entry",
    )?;

    check(
        snapshot(dir.path()) == before,
        "read-only commands changed the base",
    )?;

    holder.send_line("release")?;
    let freed = expect(&["lock", "wait", base, "orders", "--timeout", "20s"], 0)?;
    contains(&freed.stdout, "orders: free after")?;
    holder.wait_success(PATIENCE)
}

pub fn fs_restore() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_str().unwrap();
    let (ids, dead) = populate(dir.path());
    let backend = FsBackend::new(dir.path());
    // A reader moves the unreadable entry aside.
    check(
        backend.get_pending_batch("orders", 10).unwrap().len() == 2,
        "two readable",
    )?;

    let refused = expect(&["corrupt", "restore", base, "orders", BAD_ID], 1)?;
    contains(&refused.stderr, "not restored: it still does not decode")?;
    let moved = dir
        .path()
        .join(format!("tables/orders/queue/corrupt/{BAD_ID}.pending"));
    check(moved.is_file(), "a refused entry stays where it lies")?;
    fs::write(&moved, serde_json::to_vec(&write("order:3")).unwrap()).unwrap();
    let restored = expect(&["-v", "corrupt", "restore", base, "orders", BAD_ID], 0)?;
    contains(
        &restored.stdout,
        &format!("restored entry '{BAD_ID}' of table 'orders' (1 rows)"),
    )?;
    contains(&restored.stderr, "entry_restored")?;
    let entries = json(&["queue", "list", base, "orders"], 0)?;
    let order: Vec<&str> = (0..3)
        .map(|i| entries[i]["id"].as_str().unwrap_or(""))
        .collect();
    check(
        order == [ids[0].as_str(), ids[1].as_str(), BAD_ID],
        "restored in its FIFO place",
    )?;

    let restored = json(&["corrupt", "restore", base, "users", &dead], 0)?;
    check(restored["rows"] == 1, "JSON restore")?;
    check(
        backend.is_pending("users", &dead).unwrap(),
        "the dead letter is pending again",
    )?;
    let none = expect(&["corrupt", "list", base], 0)?;
    contains(&none.stdout, "no entries moved aside")?;
    expect(&["corrupt", "restore", base, "users", &dead], 1).map(drop)
}

pub fn bad_usage() -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().to_str().unwrap();
    expect(&["queue", "list", base], 2)?;
    expect(&["queue", "list"], 2)?;
    expect(&["frobnicate"], 2)?;
    expect(&["lock", "wait", base, "orders", "--timeout", "soon"], 2)?;
    let invalid = expect(
        &["queue", "show", base, "../etc", "00000000000000000000-ab"],
        2,
    )?;
    contains(&invalid.stderr, "invalid table name")?;
    let help = expect(&["--help"], 0)?;
    contains(&help.stdout, "3  lock held")?;
    contains(&help.stdout, "4  queue not empty")?;
    contains(&expect(&["status", base], 0)?.stdout, "no tables")?;
    check(
        fs::read_dir(dir.path()).unwrap().next().is_none(),
        "nothing created",
    )
}
