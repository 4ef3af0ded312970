// SPDX-License-Identifier: Apache-2.0
//! The reports need nothing of a backend but the inspection trait: the
//! in-memory backend, which the tool cannot open, reports like the others.

use std::time::Duration;

use reedbase_concurrent_core::{CsvRow, LockBackend, PendingWrite, QueueBackend, WriteOperation};
use reedbase_concurrent_mem::MemBackend;

use super::*;

fn write(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

#[test]
fn any_inspection_backend_reports_status_entries_and_moved_entries() {
    let backend = MemBackend::new();
    let first = backend.queue_write("orders", &write("order:1")).unwrap();
    let second = backend.queue_write("orders", &write("order:2")).unwrap();
    backend.record_failed_apply("orders", &first).unwrap();
    let dead = backend.queue_write("users", &write("user:1")).unwrap();
    let reason = MovedAside::dead_letter_reason(2, &"disk full");
    backend.move_aside("users", &dead, &reason).unwrap();
    let _guard = backend
        .acquire_lock("orders", Duration::from_secs(1))
        .unwrap();

    let tables = status(&backend).unwrap();
    let names: Vec<&str> = tables.iter().map(|t| t.table.as_str()).collect();
    assert_eq!(names, ["orders", "users"]);
    let orders = &tables[0];
    assert_eq!(
        (orders.pending, orders.failing, orders.unreadable),
        (2, 1, 0)
    );
    let holder = orders.lock.holder.as_ref().unwrap();
    assert_eq!(
        (holder.pid, holder.alive),
        (Some(std::process::id()), Some(true))
    );
    assert!(tables[1].moved_aside[0].dead_letter);
    assert_eq!(tables[1].moved_aside[0].attempts, Some(2));

    let listed = entries(&backend, "orders").unwrap();
    assert_eq!(
        listed.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [first.as_str(), second.as_str()]
    );
    let shown = entry(&backend, "orders", &second).unwrap();
    assert_eq!(
        (shown.position, shown.rows.as_slice()),
        (2, &["order:2|v".to_string()][..])
    );
    assert!(lock(&backend, "users").unwrap().holder.is_none());
}
