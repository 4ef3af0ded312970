// SPDX-License-Identifier: Apache-2.0
//! Tests of step.rs: what a step writes, skips and refuses.

use std::path::PathBuf;

use reedbase_concurrent_core::{ApplyKey, CsvRow};

use super::*;
use crate::journal::Header;

fn insert(key: &str) -> PendingWrite {
    PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new(key, ["v"])])
}

/// A journal that remembers `ids`, under `token`.
fn journal(ids: &[&str], token: Option<u64>) -> Journal {
    let mut journal = Journal::new(Header {
        committed: 0,
        token: None,
        generation: 0,
    });
    journal.push(Record {
        start: 0,
        end: 0,
        token,
        ids: ids.iter().map(|id| id.to_string()).collect(),
    });
    journal
}

fn plan(items: &[BatchItem<'_>], journal: &Journal) -> Result<Step, TableError> {
    Step::plan("t", &PathBuf::from("/j"), items, journal)
}

#[test]
fn recorded_and_repeated_ids_are_skipped_and_direct_writes_kept() {
    let (a, b, c) = (insert("a"), insert("b"), insert("c"));
    let items = [
        BatchItem {
            key: ApplyKey::queued("q1", None),
            write: &a,
        },
        BatchItem {
            key: ApplyKey::queued("q2", None),
            write: &b,
        },
        BatchItem {
            key: ApplyKey::queued("q2", None),
            write: &b,
        },
        BatchItem {
            key: ApplyKey::direct(None),
            write: &c,
        },
    ];
    let step = plan(&items, &journal(&["q1"], None)).unwrap();
    assert_eq!(step.rows, "b|v\nc|v\n");
    assert_eq!((step.row_count, step.skipped), (2, 2));
    assert_eq!(step.new_ids, ["q2"]);
    assert!(!step.writes_nothing());
    let record = step.record(10);
    assert_eq!((record.start, record.end, record.ids.len()), (10, 18, 1));
}

#[test]
fn a_step_of_replays_only_writes_nothing_unless_its_token_is_higher() {
    let a = insert("a");
    let replay = |token| {
        [BatchItem {
            key: ApplyKey::queued("q1", token),
            write: &a,
        }]
    };
    let recorded = journal(&["q1"], Some(3));
    assert!(plan(&replay(Some(3)), &recorded).unwrap().writes_nothing());
    assert!(plan(&replay(None), &recorded).unwrap().writes_nothing());
    let higher = plan(&replay(Some(4)), &recorded).unwrap();
    assert!(!higher.writes_nothing());
    assert_eq!(higher.token, Some(4));
    assert_eq!(plan(&replay(None), &recorded).unwrap().token, Some(3));
}

#[test]
fn a_token_below_the_recorded_one_is_fenced() {
    let a = insert("a");
    let items = [BatchItem {
        key: ApplyKey::direct(Some(2)),
        write: &a,
    }];
    let error = plan(&items, &journal(&[], Some(3))).unwrap_err();
    assert!(
        matches!(
            error,
            TableError::Fenced {
                token: 2,
                highest: 3,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.path(), Some(std::path::Path::new("/j")));
}

#[test]
fn check_write_refuses_what_would_corrupt_the_table_or_journal() {
    let path = PathBuf::from("/t.csv");
    assert!(check_write("t", &path, Some("q-1_A"), &insert("a")).is_ok());
    let bad_id = check_write("t", &path, Some("q 1"), &insert("a")).unwrap_err();
    assert!(
        matches!(bad_id, TableError::InvalidWrite { .. }),
        "{bad_id}"
    );
    let bad_row = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("", ["v"])]);
    assert!(check_write("t", &path, None, &bad_row).is_err());
    let update = PendingWrite::new(WriteOperation::Update, vec![CsvRow::new("a", ["v"])]);
    let error = check_write("t", &path, None, &update).unwrap_err();
    assert!(matches!(error, TableError::Unsupported { .. }), "{error}");
}
