// SPDX-License-Identifier: Apache-2.0
//! The libraries' tracing events, caught by a test subscriber: each event
//! named in core's `events` module appears where it should, with the field
//! names that module lists, from the fs and pg backends alike and from the
//! coordinator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt;
use std::fs;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reedbase_concurrent_core::{
    CoordinatorOptions, CsvRow, DeadLetterPolicy, LockBackend, PendingWrite, QueueBackend,
    WriteCoordinator, WriteOperation, events,
};
use reedbase_concurrent_fs::{FsBackend, FsOptions};
use reedbase_concurrent_mem::MemBackend;
use reedbase_concurrent_pg::PgOptions;
use reedbase_concurrent_pg::testing::TestServer;
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context, SubscriberExt as _};

/// One caught event: its level and its fields as text.
#[derive(Debug, Clone)]
struct Caught {
    level: tracing::Level,
    fields: BTreeMap<String, String>,
}

impl Caught {
    fn field(&self, name: &str) -> &str {
        self.fields.get(name).map_or("", String::as_str)
    }
}

/// A layer that keeps every event.
#[derive(Clone, Default)]
struct Catcher(Arc<Mutex<Vec<Caught>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_string(), value.to_string());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.0
            .insert(field.name().to_string(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Catcher {
    fn on_event(&self, event: &tracing::Event<'_>, _: Context<'_, S>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push(Caught {
            level: *event.metadata().level(),
            fields,
        });
    }
}

/// Runs `body` under a subscriber and returns the events named `name`.
fn caught(name: &str, body: impl FnOnce()) -> Vec<Caught> {
    let catcher = Catcher::default();
    let subscriber = tracing_subscriber::registry().with(catcher.clone());
    tracing::subscriber::with_default(subscriber, body);
    let all = catcher.0.lock().unwrap().clone();
    all.into_iter()
        .filter(|caught| caught.field("event") == name)
        .collect()
}

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

const BAD_ID: &str = "00000000000000000000-0123456789abcdef0123456789abcdef";

#[test]
fn fs_moving_a_corrupt_entry_aside_is_a_warning_with_id_reason_and_destination() {
    let dir = tempfile::tempdir().unwrap();
    let queue = dir.path().join("tables/orders/queue");
    fs::create_dir_all(&queue).unwrap();
    fs::write(queue.join(format!("{BAD_ID}.pending")), b"{\"rows\":[").unwrap();
    let backend = FsBackend::new(dir.path());
    let events = caught(events::ENTRY_MOVED_ASIDE, || {
        assert_eq!(backend.get_next_pending("orders").unwrap(), None);
    });
    assert_eq!(events.len(), 1, "{events:?}");
    let event = &events[0];
    assert_eq!(event.level, tracing::Level::WARN);
    assert_eq!(event.field("table"), "orders");
    assert_eq!(event.field("id"), BAD_ID);
    assert!(event.field("reason").contains("JSON"), "{event:?}");
    assert!(
        event.field("destination").contains("queue/corrupt/"),
        "{event:?}"
    );
}

#[test]
fn fs_full_queue_swept_temporary_and_timed_out_wait_are_reported() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::with_options(dir.path(), FsOptions::new().capacity(1));
    let full = caught(events::QUEUE_FULL, || {
        backend.queue_write("orders", &write("a")).unwrap();
        assert!(
            backend
                .queue_write("orders", &write("b"))
                .unwrap_err()
                .is_queue_full()
        );
    });
    assert_eq!(full.len(), 1, "{full:?}");
    assert_eq!(
        (full[0].field("pending"), full[0].field("capacity")),
        ("1", "1")
    );
    assert_eq!(full[0].level, tracing::Level::WARN);

    let temporary = dir.path().join("tables/users/queue/.incoming-x.tmp");
    fs::create_dir_all(temporary.parent().unwrap()).unwrap();
    fs::write(&temporary, b"half").unwrap();
    let swept = caught(events::TEMPORARY_SWEPT, || {
        backend.queue_write("users", &write("a")).unwrap();
    });
    assert_eq!(swept.len(), 1, "{swept:?}");
    assert_eq!(swept[0].level, tracing::Level::INFO);
    assert_eq!(swept[0].field("table"), "users");
    assert_eq!(swept[0].field("path"), temporary.display().to_string());

    let odd = dir.path().join("tables/items/queue/.incoming-dir.tmp");
    fs::create_dir_all(&odd).unwrap();
    let not_swept = caught(events::TEMPORARY_NOT_SWEPT, || {
        backend.queue_write("items", &write("a")).unwrap();
    });
    assert_eq!(not_swept.len(), 1, "{not_swept:?}");
    assert_eq!(not_swept[0].level, tracing::Level::WARN);
    assert_eq!(not_swept[0].field("table"), "items");
    assert_eq!(not_swept[0].field("path"), odd.display().to_string());
    assert!(odd.is_dir(), "a directory is left where it is");

    let _held = backend
        .acquire_lock("orders", Duration::from_secs(1))
        .unwrap();
    let other = FsBackend::new(dir.path());
    let timed_out = caught(events::LOCK_WAIT_TIMED_OUT, || {
        let error = other
            .acquire_lock("orders", Duration::from_millis(20))
            .unwrap_err();
        assert!(error.is_lock_timeout());
    });
    assert_eq!(timed_out.len(), 1, "{timed_out:?}");
    assert_eq!(timed_out[0].level, tracing::Level::INFO);
    assert!(timed_out[0].field("waited_ms").parse::<u64>().unwrap() >= 20);
    let pid = format!("pid {}", std::process::id());
    assert!(
        timed_out[0].field("holder").starts_with(&pid),
        "{timed_out:?}"
    );
}

#[test]
fn coordinator_reports_handed_back_writes_failed_applies_and_dead_letters() {
    let backend = MemBackend::with_capacity(1);
    let options = CoordinatorOptions::new().dead_letters(DeadLetterPolicy::MoveAsideAfter(2));
    let coordinator = WriteCoordinator::with_options(backend.clone(), options);
    let id = backend.queue_write("orders", &write("poison")).unwrap();
    let handed_back = caught(events::WRITE_HANDED_BACK, || {
        let _held = backend
            .acquire_lock("orders", Duration::from_secs(1))
            .unwrap();
        let error = coordinator
            .submit("orders", write("b"), Duration::ZERO, |_, _| Ok(()))
            .unwrap_err();
        assert!(error.is_queue_full());
    });
    assert_eq!(handed_back.len(), 1, "{handed_back:?}");
    assert!(
        handed_back[0].field("error").contains("full"),
        "{handed_back:?}"
    );

    let refuse = |_: reedbase_concurrent_core::ApplyKey<'_>, _: &PendingWrite| {
        Err::<(), _>("table file is read-only".into())
    };
    let failed = caught(events::APPLY_FAILED, || {
        assert!(
            coordinator
                .drain("orders", Duration::from_secs(1), refuse)
                .is_err()
        );
    });
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(
        (failed[0].field("id"), failed[0].field("attempts")),
        (id.as_str(), "1")
    );
    let dead = caught(events::DEAD_LETTER, || {
        coordinator
            .drain("orders", Duration::from_secs(1), refuse)
            .unwrap();
    });
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert_eq!(dead[0].field("attempts"), "2");
    assert!(dead[0].field("reason").contains("read-only"), "{dead:?}");
    assert_eq!(backend.moved_aside("orders").unwrap()[0].attempts, Some(2));
}

#[test]
fn pg_events_carry_the_same_field_names() {
    let Some(server) = TestServer::find("pg events test") else {
        return;
    };
    let run = server.run("cli_events");
    let backend = run.backend(PgOptions::new().capacity(1)).unwrap();
    let full = caught(events::QUEUE_FULL, || {
        backend.queue_write("orders", &write("a")).unwrap();
        assert!(
            backend
                .queue_write("orders", &write("b"))
                .unwrap_err()
                .is_queue_full()
        );
    });
    assert_eq!(full.len(), 1, "{full:?}");
    assert_eq!(
        (
            full[0].field("table"),
            full[0].field("pending"),
            full[0].field("capacity")
        ),
        ("orders", "1", "1")
    );

    let id = backend.get_next_pending("orders").unwrap().unwrap().0;
    let mut client = server.client().unwrap();
    client
        .execute("UPDATE reedbase.queue SET body = 'x' WHERE id = $1", &[&id])
        .unwrap();
    let moved = caught(events::ENTRY_MOVED_ASIDE, || {
        assert_eq!(backend.get_next_pending("orders").unwrap(), None);
    });
    assert_eq!(moved.len(), 1, "{moved:?}");
    assert_eq!(
        (moved[0].field("table"), moved[0].field("id")),
        ("orders", id.as_str())
    );
    assert!(
        moved[0].field("reason").contains("does not parse"),
        "{moved:?}"
    );
    assert!(
        moved[0].field("destination").contains("moved_aside"),
        "{moved:?}"
    );

    let _held = backend
        .acquire_lock("orders", Duration::from_secs(1))
        .unwrap();
    let same_namespace =
        reedbase_concurrent_pg::PgBackend::connect(server.url(), backend.namespace()).unwrap();
    let timed_out = caught(events::LOCK_WAIT_TIMED_OUT, || {
        let error = same_namespace
            .acquire_lock("orders", Duration::from_millis(50))
            .unwrap_err();
        assert!(error.is_lock_timeout());
    });
    assert_eq!(timed_out.len(), 1, "{timed_out:?}");
    assert!(timed_out[0].field("waited_ms").parse::<u64>().unwrap() >= 40);
    let pid = format!("pid {}", std::process::id());
    assert!(
        timed_out[0].field("holder").starts_with(&pid),
        "{timed_out:?}"
    );
}

#[test]
fn coordinator_reports_a_lock_lost_while_draining() {
    let dir = tempfile::tempdir().unwrap();
    let backend = FsBackend::new(dir.path());
    for key in ["a", "b"] {
        backend.queue_write("orders", &write(key)).unwrap();
    }
    let coordinator = WriteCoordinator::new(backend);
    let lock_file = dir.path().join("tables/orders/write.lock");
    let lost = caught(events::LOCK_LOST, || {
        let error = coordinator
            .drain("orders", Duration::from_secs(1), |_, _| {
                // An operator replaces the lock file under the holder.
                fs::rename(&lock_file, lock_file.with_extension("old"))?;
                fs::write(&lock_file, b"")?;
                Ok(())
            })
            .unwrap_err();
        assert!(error.is_lock_lost(), "{error}");
    });
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0].level, tracing::Level::WARN);
    assert_eq!(lost[0].field("table"), "orders");
}
