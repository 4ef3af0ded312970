// SPDX-License-Identifier: Apache-2.0
//! The same commands over PostgreSQL (`--pg URL --namespace NS`), against
//! the test server of the pg crate's `testing` module: a SKIPPED line when
//! there is none, a failure when `REEDBASE_PG_REQUIRED=1`.

use reedbase_concurrent_core::{InspectBackend, MovedAside, QueueBackend};
use reedbase_concurrent_pg::PgOptions;
use reedbase_concurrent_pg::testing::TestServer;

use super::{Outcome, PATIENCE, check, contains, expect, json, write};
use crate::support::ChildProcess;

pub fn pg_commands() -> Outcome {
    let Some(server) = TestServer::find("cli_end_to_end pg_commands") else {
        return Ok(());
    };
    let run = server.run("cli_e2e");
    let backend = run.backend(PgOptions::new()).map_err(|e| e.to_string())?;
    let namespace = backend.namespace().to_string();
    let first = backend.queue_write("orders", &write("order:1")).unwrap();
    let bad = backend.queue_write("orders", &write("order:2")).unwrap();
    let mut client = server.client().unwrap();
    client
        .execute(
            "UPDATE reedbase.queue SET body = 'x' WHERE id = $1",
            &[&bad],
        )
        .unwrap();
    let dead = backend.queue_write("users", &write("user:1")).unwrap();
    for _ in 0..3 {
        backend.record_failed_apply("users", &dead).unwrap();
    }
    let reason = MovedAside::dead_letter_reason(3, &"users.csv is read-only");
    backend.move_aside("users", &dead, &reason).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut holder = ChildProcess::spawn(
        "hold_pg",
        dir.path(),
        &format!("table=orders,namespace={namespace}"),
    )?;
    holder.expect_line("held", PATIENCE)?;
    let pid = holder.pid();
    let at = |args: &[&str]| -> Vec<String> {
        let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        full.extend([
            "--pg".into(),
            server.url().into(),
            "--namespace".into(),
            namespace.clone(),
        ]);
        full
    };
    let before = (
        backend.queued_entries("orders").unwrap(),
        backend.moved_aside("users").unwrap(),
    );

    let status = expect(&refs(&at(&["status"])), 0)?;
    let orders = status
        .stdout
        .lines()
        .find(|l| l.starts_with("orders"))
        .ok_or("no orders line")?;
    contains(orders, &format!("held by pid {pid} on "))?;
    contains(orders, ", alive")?;
    contains(orders, "2 (1 unreadable)")?;
    let users = status
        .stdout
        .lines()
        .find(|l| l.starts_with("users"))
        .ok_or("no users line")?;
    contains(users, "1 (1 dead letter after 3 attempts)")?;
    let tables = json(&refs(&at(&["status"])), 0)?;
    check(
        tables[0]["lock"]["holder"]["pid"] == pid,
        "JSON names the holder",
    )?;
    check(
        tables[1]["moved_aside"][0]["attempts"] == 3,
        "JSON attempts",
    )?;

    let entries = json(&refs(&at(&["queue", "list", "orders"])), 0)?;
    check(
        entries[0]["id"] == first.as_str() && entries[1]["id"] == bad.as_str(),
        "FIFO",
    )?;
    check(
        entries[1]["error"].is_string(),
        "the unreadable entry is reported",
    )?;
    expect(&refs(&at(&["queue", "list", "orders", "--exit-code"])), 4)?;
    let shown = expect(&refs(&at(&["queue", "show", "orders", &first])), 0)?;
    contains(&shown.stdout, "  order:1|v|w")?;
    let held = expect(&refs(&at(&["lock", "holder", "orders"])), 3)?;
    contains(&held.stdout, &format!("orders: held by pid {pid}"))?;
    expect(
        &refs(&at(&["lock", "wait", "orders", "--timeout", "150ms"])),
        3,
    )?;
    let corrupt = expect(&refs(&at(&["corrupt", "list"])), 0)?;
    contains(&corrupt.stdout, &format!("users  {dead}  dead letter  3"))?;
    let after = (
        backend.queued_entries("orders").unwrap(),
        backend.moved_aside("users").unwrap(),
    );
    check(before == after, "read-only commands changed rows")?;
    expect(&refs(&at(&["queue", "list", "/some/base", "orders"])), 2)?;

    holder.send_line("release")?;
    expect(
        &refs(&at(&["lock", "wait", "orders", "--timeout", "20s"])),
        0,
    )?;
    holder.wait_success(PATIENCE)?;
    let restored = expect(&refs(&at(&["-v", "corrupt", "restore", "users", &dead])), 0)?;
    contains(&restored.stderr, "entry_restored")?;
    check(
        backend.is_pending("users", &dead).unwrap(),
        "the dead letter is pending again",
    )
}

fn refs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}
