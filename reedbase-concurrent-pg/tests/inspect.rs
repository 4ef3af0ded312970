// SPDX-License-Identifier: Apache-2.0
//! Inspection for operators on a real server: reading the queue changes no
//! row (an unreadable entry is reported, not moved), and a moved-aside entry
//! goes back into its own place in the queue, or is refused unchanged.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_support;

use pg_support::{insert_raw_entry, lock_keys};
use reedbase_concurrent_core::{
    CsvRow, InspectBackend, MovedAside, PendingWrite, QueueBackend, ReedError, RestoreBackend,
    WriteOperation,
};
use reedbase_concurrent_pg::PgOptions;
use reedbase_concurrent_pg::testing::TestServer;

const TABLE: &str = "orders";

fn write(tag: &str) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(format!("key-{tag}"), [tag])],
    )
}

/// Every row of the namespace's queue and moved-aside tables, as text.
fn rows(client: &mut postgres::Client, namespace: &str) -> Vec<String> {
    client
        .query(
            "SELECT 'q ' || q.seq || ' ' || q.id || ' ' || q.failed_applies FROM reedbase.queue q \
             JOIN reedbase.tables t USING (table_no) WHERE t.namespace = $1 \
             UNION ALL SELECT 'm ' || m.seq || ' ' || m.id || ' ' || m.reason FROM reedbase.moved_aside m \
             JOIN reedbase.tables t USING (table_no) WHERE t.namespace = $1 ORDER BY 1",
            &[&namespace],
        )
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[test]
fn reading_the_queue_reports_an_unreadable_entry_without_moving_it() {
    let Some(server) = TestServer::find("pg inspect test") else {
        return;
    };
    let run = server.run("inspect_read");
    let backend = run.backend(PgOptions::new()).unwrap();
    let unknown = backend.tables().unwrap_err().to_string();
    assert!(unknown.contains("unknown namespace"), "{unknown}");
    assert!(backend.location().contains(backend.namespace()));
    let first = backend.queue_write(TABLE, &write("a")).unwrap();
    let mut client = server.client().unwrap();
    let keys = lock_keys(&mut client, backend.namespace(), TABLE);
    let bad = "00000000000000000000-0123456789abcdef0123456789abcdef";
    insert_raw_entry(&mut client, &keys, bad, b"{\"rows\":[");
    let third = backend.queue_write(TABLE, &write("c")).unwrap();
    backend.record_failed_apply(TABLE, &first).unwrap();
    assert!(backend.is_queue_id_form(&first));
    let before = rows(&mut client, backend.namespace());

    let entries = backend.queued_entries(TABLE).unwrap();

    let ids: Vec<&str> = entries.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, [first.as_str(), bad, third.as_str()]);
    assert_eq!(entries[0].attempts, 1);
    assert!(
        entries[1]
            .write
            .as_ref()
            .unwrap_err()
            .contains("does not parse")
    );
    assert!(entries.iter().all(|e| e.queued_at.is_some()));
    assert_eq!(backend.queued_entry(TABLE, bad).unwrap().id, bad);
    assert!(
        backend
            .queued_entry(TABLE, "00000000000000000099-ab")
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(backend.tables().unwrap(), [TABLE]);
    assert!(backend.queued_entries("never_used").unwrap().is_empty());
    assert_eq!(
        rows(&mut client, backend.namespace()),
        before,
        "reading changed rows"
    );
    assert_eq!(
        backend.tables().unwrap(),
        [TABLE],
        "reading registered a table"
    );
}

#[test]
fn a_repaired_entry_goes_back_to_its_place_and_a_broken_one_is_refused() {
    let Some(server) = TestServer::find("pg restore test") else {
        return;
    };
    let run = server.run("inspect_restore");
    let backend = run.backend(PgOptions::new().capacity(3)).unwrap();
    let first = backend.queue_write(TABLE, &write("a")).unwrap();
    let mut client = server.client().unwrap();
    let keys = lock_keys(&mut client, backend.namespace(), TABLE);
    let bad = "00000000000000000000-0123456789abcdef0123456789abcdef";
    insert_raw_entry(&mut client, &keys, bad, b"{\"rows\":[");
    let third = backend.queue_write(TABLE, &write("c")).unwrap();
    let batch = backend.get_pending_batch(TABLE, 10).unwrap();
    assert_eq!(batch.len(), 2, "the unreadable entry was moved aside");
    let before = rows(&mut client, backend.namespace());

    let refused = backend.restore_moved_aside(TABLE, bad).unwrap_err();
    assert!(
        matches!(&refused, ReedError::CorruptEntry { reason, .. } if reason.starts_with("not restored")),
        "{refused:?}"
    );
    assert_eq!(rows(&mut client, backend.namespace()), before);

    let body = serde_json::to_vec(&write("b")).unwrap();
    client
        .execute(
            "UPDATE reedbase.moved_aside SET body = $1 WHERE id = $2",
            &[&body, &bad],
        )
        .unwrap();
    assert_eq!(
        backend.restore_moved_aside(TABLE, bad).unwrap().rows[0].key,
        "key-b"
    );
    let order: Vec<String> = backend
        .get_pending_batch(TABLE, 10)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(order, [first.clone(), bad.to_string(), third]);
    assert!(backend.moved_aside(TABLE).unwrap().is_empty());
    assert!(
        backend
            .restore_moved_aside(TABLE, bad)
            .unwrap_err()
            .is_not_found()
    );

    // A dead letter, with the queue full: refused; with room: restored.
    let reason = MovedAside::dead_letter_reason(2, &"disk full");
    assert_eq!(
        backend.move_aside(TABLE, &first, &reason).unwrap().attempts,
        Some(2)
    );
    backend.queue_write(TABLE, &write("d")).unwrap();
    assert!(
        backend
            .restore_moved_aside(TABLE, &first)
            .unwrap_err()
            .is_queue_full()
    );
    assert_eq!(backend.moved_aside(TABLE).unwrap()[0].attempts, Some(2));
}
