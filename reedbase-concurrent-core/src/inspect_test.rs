// SPDX-License-Identifier: Apache-2.0

use std::time::{Duration, UNIX_EPOCH};

use super::*;
use crate::{CsvRow, WriteOperation};

#[test]
fn the_id_forms_of_the_backends_and_the_old_module_are_told_from_typos() {
    assert!(is_sequenced_id(
        "00000000000000000042-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f"
    ));
    assert!(is_hyphenated_uuid("6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11"));
    for typo in [
        "not-an-id",
        "",
        "0000000000000000042-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6f",
        "00000000000000000042-0B5C1E8F9D0A4C6E8E7F1A2B3C4D5E6F",
        "00000000000000000042-0b5c1e8f9d0a4c6e8e7f1a2b3c4d5e6",
        "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c1",
        "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c1x",
    ] {
        assert!(
            !is_sequenced_id(typo) && !is_hyphenated_uuid(typo),
            "{typo:?}"
        );
    }
}

#[test]
fn a_summary_counts_unreadable_and_failing_entries_and_finds_the_oldest() {
    let write = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", ["v"])]);
    let at = |secs| Some(UNIX_EPOCH + Duration::from_secs(secs));
    let entries = [
        QueuedEntry::new("b", Ok(write.clone()), at(20), 10, 0),
        QueuedEntry::new("a", Err("does not parse".into()), at(10), 3, 0),
        QueuedEntry::new("c", Ok(write), None, 10, 4),
    ];
    let moved = vec![MovedAside::new("d", "reason", "here")];
    let holder = Some(LockHolder::new(Some(7), None, None));
    let summary = TableSummary::new("t", holder.clone(), &entries, moved.clone());
    assert_eq!(
        summary,
        TableSummary {
            table: "t".into(),
            holder,
            pending: 3,
            unreadable: 1,
            failing: 1,
            oldest_queued_at: at(10),
            moved_aside: moved,
        }
    );
    let empty = TableSummary::new("t", None, &[], Vec::new());
    assert_eq!((empty.pending, empty.oldest_queued_at), (0, None));
}
