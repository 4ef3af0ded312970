// SPDX-License-Identifier: Apache-2.0
//! The queue table on a real server: entries copied in from the file queue,
//! unreadable entries moved aside with their reasons, batches, dead-letter
//! counts shared by every process, namespaces, and the order of ids.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pg_support;

use pg_support::{insert_raw_entry, lock_keys};
use reedbase_concurrent_core::{
    CsvRow, LockBackend, PendingWrite, QueueBackend, ReedError, WriteOperation,
};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{PgBackend, PgOptions};

const TABLE: &str = "orders";

fn write(tag: &str) -> PendingWrite {
    PendingWrite::new(
        WriteOperation::Insert,
        vec![CsvRow::new(format!("key-{tag}"), [tag])],
    )
}

fn tag(write: &PendingWrite) -> &str {
    &write.rows[0].values[0]
}

/// An entry exactly as the old module (and the fs backend's JSON codec)
/// writes it to `<id>.pending`.
const FILE_ENTRY: &[u8] = br#"{"rows":[{"key":"user:1","values":["Alice","alice@example.com"]},{"key":"user:2","values":[]}],"timestamp":1700000000123456789,"operation":"Update"}"#;
const FILE_ID: &str = "0b5c1e8f-9d0a-4c6e-8e7f-1a2b3c4d5e6f";

#[test]
fn an_entry_copied_from_the_file_queue_is_read_unchanged() {
    let Some(server) = TestServer::find("an_entry_copied_from_the_file_queue_is_read_unchanged")
    else {
        return;
    };
    let run = server.run("copied");
    let backend = run.backend(PgOptions::new()).unwrap();
    let own_write = write("own");
    let own = backend.queue_write(TABLE, &own_write).unwrap();
    let mut admin = server.client().unwrap();
    let keys = lock_keys(&mut admin, backend.namespace(), TABLE);
    insert_raw_entry(&mut admin, &keys, FILE_ID, FILE_ENTRY);
    let entries = backend.get_pending_batch(TABLE, 10).unwrap();
    let ids: Vec<&str> = entries.iter().map(|(id, _)| id.as_str()).collect();
    assert_eq!(
        ids,
        vec![own.as_str(), FILE_ID],
        "copied entries queue behind"
    );
    let copied = &entries[1].1;
    assert_eq!(copied.operation, WriteOperation::Update);
    assert_eq!(copied.timestamp, 1_700_000_000_123_456_789);
    assert_eq!(
        copied.rows,
        vec![
            CsvRow::new("user:1", ["Alice", "alice@example.com"]),
            CsvRow::new("user:2", vec![])
        ]
    );
    // And what this backend writes is the same JSON the file queue holds.
    let body: Vec<u8> = admin
        .query_one("SELECT body FROM reedbase.queue WHERE id = $1", &[&own])
        .unwrap()
        .get(0);
    assert_eq!(body, serde_json::to_vec(&own_write).unwrap());
    backend.remove_from_queue(TABLE, FILE_ID).unwrap();
    assert_eq!(backend.count_pending(TABLE).unwrap(), 1);
}

#[test]
fn unreadable_entries_are_moved_aside_with_their_reasons_and_kept() {
    let Some(server) =
        TestServer::find("unreadable_entries_are_moved_aside_with_their_reasons_and_kept")
    else {
        return;
    };
    let run = server.run("unreadable");
    let backend = run.backend(PgOptions::new()).unwrap();
    let first = backend.queue_write(TABLE, &write("first")).unwrap();
    let mut admin = server.client().unwrap();
    let keys = lock_keys(&mut admin, backend.namespace(), TABLE);
    let torn: &[u8] = br#"{"rows":[{"key":"user:1","val"#;
    let bad_row: &[u8] =
        br#"{"rows":[{"key":"a|b","values":[]}],"timestamp":1,"operation":"Insert"}"#;
    insert_raw_entry(&mut admin, &keys, "torn-entry", torn);
    insert_raw_entry(&mut admin, &keys, "bad-row-entry", bad_row);
    insert_raw_entry(&mut admin, &keys, "not/an/id", FILE_ENTRY);
    let last = backend.queue_write(TABLE, &write("last")).unwrap();

    let (head, _) = backend.get_next_pending(TABLE).unwrap().unwrap();
    assert_eq!(head, first);
    backend.remove_from_queue(TABLE, &first).unwrap();
    let (head, next) = backend.get_next_pending(TABLE).unwrap().unwrap();
    assert_eq!(
        (head.as_str(), tag(&next)),
        (last.as_str(), "last"),
        "the bad entries do not block"
    );
    assert_eq!(backend.count_pending(TABLE).unwrap(), 1);

    let moved = backend.moved_aside(TABLE).unwrap();
    let reasons: Vec<(&str, &str)> = moved
        .iter()
        .map(|m| (m.id.as_str(), m.reason.as_str()))
        .collect();
    assert_eq!(reasons.len(), 3, "{reasons:?}");
    assert_eq!(reasons[0].0, "bad-row-entry");
    assert!(
        reasons[0].1.contains("would corrupt the table"),
        "{reasons:?}"
    );
    assert_eq!(reasons[1].0, "not/an/id");
    assert!(reasons[1].1.contains("not a queue id"), "{reasons:?}");
    assert_eq!(reasons[2].0, "torn-entry");
    assert!(reasons[2].1.contains("does not parse"), "{reasons:?}");
    assert!(
        moved[2].location.contains("moved_aside")
            && moved[2].location.contains(backend.namespace())
    );

    // Nothing is deleted: the bodies are kept byte for byte.
    let kept: Vec<u8> = admin
        .query_one(
            "SELECT body FROM reedbase.moved_aside WHERE id = 'torn-entry'",
            &[],
        )
        .unwrap()
        .get(0);
    assert_eq!(kept, torn);
    let error = backend.remove_from_queue(TABLE, "torn-entry").unwrap_err();
    assert!(
        matches!(&error, ReedError::CorruptEntry { queue_id, .. } if queue_id == "torn-entry"),
        "{error:?}"
    );
    assert!(!backend.is_pending(TABLE, "torn-entry").unwrap());
    // Not pending: `QueueEntryNotFound`, as `QueueBackend::record_failed_apply`
    // says for a moved-aside entry (and as the fs and mem backends answer).
    assert!(
        backend
            .record_failed_apply(TABLE, "torn-entry")
            .unwrap_err()
            .is_not_found()
    );
}

#[test]
fn a_batch_skips_unreadable_entries_and_keeps_order() {
    let Some(server) = TestServer::find("a_batch_skips_unreadable_entries_and_keeps_order") else {
        return;
    };
    let run = server.run("batch");
    let backend = run.backend(PgOptions::new()).unwrap();
    let mut admin = server.client().unwrap();
    let mut expected = Vec::new();
    for n in 0..6 {
        expected.push(backend.queue_write(TABLE, &write(&n.to_string())).unwrap());
        if n % 2 == 0 {
            let keys = lock_keys(&mut admin, backend.namespace(), TABLE);
            insert_raw_entry(&mut admin, &keys, &format!("junk-{n}"), b"not json");
        }
    }
    let batch = backend.get_pending_batch(TABLE, 4).unwrap();
    let ids: Vec<String> = batch.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, expected[..4].to_vec());
    let tags: Vec<&str> = batch.iter().map(|(_, w)| tag(w)).collect();
    assert_eq!(tags, vec!["0", "1", "2", "3"]);
    assert_eq!(
        backend.moved_aside(TABLE).unwrap().len(),
        2,
        "junk-0 and junk-2 on the way"
    );
    assert_eq!(backend.get_pending_batch(TABLE, 0).unwrap(), vec![]);
    let all = backend.get_pending_batch(TABLE, 100).unwrap();
    assert_eq!(all.len(), 6);
    assert_eq!(backend.moved_aside(TABLE).unwrap().len(), 3);
}

#[test]
fn a_batch_removal_stops_exactly_at_the_first_missing_id() {
    let Some(server) = TestServer::find("a_batch_removal_stops_exactly_at_the_first_missing_id")
    else {
        return;
    };
    let run = server.run("batch_remove");
    let backend = run.backend(PgOptions::new()).unwrap();
    let ids: Vec<String> = (0..5)
        .map(|n| backend.queue_write(TABLE, &write(&n.to_string())).unwrap())
        .collect();
    let absent = "00000000-0000-4000-8000-000000000000".to_string();
    let request = vec![
        ids[0].clone(),
        ids[1].clone(),
        absent.clone(),
        ids[3].clone(),
    ];
    let error = backend
        .remove_batch_from_queue(TABLE, &request)
        .unwrap_err();
    assert!(
        matches!(&error, ReedError::QueueEntryNotFound { queue_id, .. } if *queue_id == absent),
        "{error:?}"
    );
    let left: Vec<String> = backend
        .get_pending_batch(TABLE, 10)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect();
    assert_eq!(
        left,
        ids[2..].to_vec(),
        "the two before the missing id went, the rest stayed"
    );
    let error = backend
        .remove_batch_from_queue(TABLE, &[ids[2].clone(), ids[2].clone()])
        .unwrap_err();
    assert!(
        error.is_not_found(),
        "an id twice: the second is not pending"
    );
    assert_eq!(backend.count_pending(TABLE).unwrap(), 2);
    backend.remove_batch_from_queue(TABLE, &ids[3..]).unwrap();
    assert_eq!(backend.count_pending(TABLE).unwrap(), 0);
    backend.remove_batch_from_queue(TABLE, &[]).unwrap();
}

#[test]
fn failed_apply_counts_are_shared_by_every_process_and_move_aside_with_the_entry() {
    let Some(server) = TestServer::find(
        "failed_apply_counts_are_shared_by_every_process_and_move_aside_with_the_entry",
    ) else {
        return;
    };
    let run = server.run("failures");
    let first = run.backend(PgOptions::new()).unwrap();
    let second = PgBackend::connect(server.tcp_url(), first.namespace()).unwrap();
    let id = first.queue_write(TABLE, &write("x")).unwrap();
    assert_eq!(first.record_failed_apply(TABLE, &id).unwrap(), 1);
    assert_eq!(second.record_failed_apply(TABLE, &id).unwrap(), 2);
    assert_eq!(first.record_failed_apply(TABLE, &id).unwrap(), 3);
    let moved = second.move_aside(TABLE, &id, "dead letter: test").unwrap();
    assert_eq!(
        (moved.id.as_str(), moved.reason.as_str()),
        (id.as_str(), "dead letter: test")
    );
    assert_eq!(first.moved_aside(TABLE).unwrap(), vec![moved]);
    let mut admin = server.client().unwrap();
    let count: i32 = admin
        .query_one(
            "SELECT failed_applies FROM reedbase.moved_aside WHERE id = $1",
            &[&id],
        )
        .unwrap()
        .get(0);
    assert_eq!(count, 3, "the count goes aside with the entry");
    assert!(matches!(
        first.move_aside(TABLE, &id, "again").unwrap_err(),
        ReedError::CorruptEntry { .. }
    ));
    let absent = "00000000-0000-4000-8000-000000000000";
    assert!(
        first
            .move_aside(TABLE, absent, "r")
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        first
            .record_failed_apply(TABLE, absent)
            .unwrap_err()
            .is_not_found()
    );
    assert!(
        first
            .record_failed_apply("never_used", absent)
            .unwrap_err()
            .is_not_found()
    );
    assert_eq!(first.moved_aside("never_used").unwrap(), vec![]);
}

#[test]
fn tables_with_pending_lists_this_namespace_sorted_by_bytes() {
    let Some(server) = TestServer::find("tables_with_pending_lists_this_namespace_sorted_by_bytes")
    else {
        return;
    };
    let run = server.run("with_pending");
    let backend = run.backend(PgOptions::new()).unwrap();
    let other = run.backend(PgOptions::new()).unwrap();
    for table in ["b", "B", "a", "\u{e9}t\u{e9}", "a b", "drained"] {
        backend.queue_write(table, &write(table)).unwrap();
    }
    let (id, _) = backend.get_next_pending("drained").unwrap().unwrap();
    backend.remove_from_queue("drained", &id).unwrap();
    drop(
        backend
            .acquire_lock("locked_only", std::time::Duration::from_secs(5))
            .unwrap(),
    );
    other.queue_write("elsewhere", &write("e")).unwrap();
    let mut expected = vec!["B", "a", "a b", "b", "\u{e9}t\u{e9}"];
    expected.sort();
    assert_eq!(backend.tables_with_pending().unwrap(), expected);
    assert_eq!(other.tables_with_pending().unwrap(), vec!["elsewhere"]);
}

#[test]
fn namespaces_keep_tables_of_the_same_name_apart() {
    let Some(server) = TestServer::find("namespaces_keep_tables_of_the_same_name_apart") else {
        return;
    };
    let run = server.run("namespaces");
    let first = run.backend(PgOptions::new()).unwrap();
    let second = run.backend(PgOptions::new().capacity(1)).unwrap();
    let guard = first
        .acquire_lock(TABLE, std::time::Duration::from_secs(5))
        .unwrap();
    assert!(!second.is_locked(TABLE).unwrap());
    let other_guard = second.try_acquire_lock(TABLE).unwrap();
    assert!(
        other_guard.is_some(),
        "the same name in another namespace is another table"
    );
    second.queue_write(TABLE, &write("s")).unwrap();
    assert!(
        second
            .queue_write(TABLE, &write("t"))
            .unwrap_err()
            .is_queue_full()
    );
    first.queue_write(TABLE, &write("f")).unwrap();
    assert_eq!(first.count_pending(TABLE).unwrap(), 1);
    drop((guard, other_guard));
    second.drop_namespace().unwrap();
    assert_eq!(
        second.count_pending(TABLE).unwrap(),
        0,
        "dropped with its entries"
    );
    assert_eq!(
        first.count_pending(TABLE).unwrap(),
        1,
        "the other namespace is untouched"
    );
}

#[test]
fn ids_carry_the_queue_order_and_are_never_reused() {
    let Some(server) = TestServer::find("ids_carry_the_queue_order_and_are_never_reused") else {
        return;
    };
    let run = server.run("ids");
    let backend = run.backend(PgOptions::new()).unwrap();
    let mut seen = Vec::new();
    for round in 0..3 {
        let ids: Vec<String> = (0..4)
            .map(|n| {
                backend
                    .queue_write(TABLE, &write(&format!("{round}-{n}")))
                    .unwrap()
            })
            .collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "ids sort in queue order: {pair:?}");
        }
        for id in &ids {
            assert_eq!(id.len(), 20 + 1 + 32, "{id}");
            assert!(!seen.contains(id), "{id} reused");
            backend.remove_from_queue(TABLE, id).unwrap();
        }
        seen.extend(ids);
    }
}
