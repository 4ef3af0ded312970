// SPDX-License-Identifier: Apache-2.0
//! Tests of writer.rs: both apply paths, replays, fencing, refusals and the
//! compaction bound, directly and through the coordinator.

use std::fs;

use reedbase_concurrent_core::{CsvRow, WriteOperation};

use super::*;

const TABLE: &str = "users";

fn insert(keys: &[&str]) -> PendingWrite {
    let rows = keys.iter().map(|key| CsvRow::new(*key, ["v"])).collect();
    PendingWrite::new(WriteOperation::Insert, rows)
}

fn queued(id: &str) -> ApplyKey<'_> {
    ApplyKey::queued(id, None)
}

fn table_error(error: ApplyError) -> TableError {
    *error.downcast::<TableError>().expect("a TableError")
}

fn writer(base: &Path) -> TableWriter {
    TableWriter::new(base, TABLE).unwrap()
}

#[test]
fn a_write_appends_its_rows_in_order_one_line_each() {
    let base = tempfile::tempdir().unwrap();
    let writer = writer(base.path());
    writer
        .apply(ApplyKey::direct(None), &insert(&["a", "b"]))
        .unwrap();
    writer.apply(queued("q1"), &insert(&["c"])).unwrap();
    let text = fs::read_to_string(writer.table_path()).unwrap();
    assert_eq!(text, "a|v\nb|v\nc|v\n");
    assert_eq!(writer.committed_lines().unwrap(), ["a|v", "b|v", "c|v"]);
    let stats = writer.stats();
    assert_eq!((stats.commits, stats.rows_appended), (2, 3));
    assert_eq!(
        writer.table_path(),
        base.path().join("tables/users/table.csv")
    );
}

#[test]
fn a_replayed_queued_write_is_skipped() {
    let base = tempfile::tempdir().unwrap();
    let writer = writer(base.path());
    let write = insert(&["a"]);
    writer.apply(queued("q1"), &write).unwrap();
    // A new writer (another process after a crash) replays it.
    let again = TableWriter::new(base.path(), TABLE).unwrap();
    again.apply(queued("q1"), &write).unwrap();
    assert_eq!(again.committed_lines().unwrap(), ["a|v"]);
    assert_eq!(again.stats().replays_skipped, 1);
    assert_eq!(again.stats().commits, 0);
    // Direct writes carry no id and are never skipped.
    again.apply(ApplyKey::direct(None), &write).unwrap();
    assert_eq!(again.committed_lines().unwrap(), ["a|v", "a|v"]);
}

#[test]
fn a_batch_is_one_step_and_skips_only_what_was_applied() {
    let base = tempfile::tempdir().unwrap();
    let writer = writer(base.path());
    let (one, two, three) = (insert(&["1"]), insert(&["2a", "2b"]), insert(&["3"]));
    writer.apply(queued("q1"), &one).unwrap();
    let direct = insert(&["own"]);
    let batch = [
        BatchItem {
            key: queued("q1"),
            write: &one,
        },
        BatchItem {
            key: queued("q2"),
            write: &two,
        },
        BatchItem {
            key: queued("q2"),
            write: &two,
        },
        BatchItem {
            key: queued("q3"),
            write: &three,
        },
        BatchItem {
            key: ApplyKey::direct(None),
            write: &direct,
        },
    ];
    writer.apply_batch(&batch).unwrap();
    assert_eq!(
        writer.committed_lines().unwrap(),
        ["1|v", "2a|v", "2b|v", "3|v", "own|v"]
    );
    let stats = writer.stats();
    assert_eq!(stats.commits, 2, "the whole batch is one commit");
    assert_eq!(stats.replays_skipped, 2, "q1 replayed, q2 given twice");
    let status = writer.status().unwrap();
    assert_eq!(status.remembered_ids, 3);
    assert_eq!(status.uncommitted_len(), 0);
}

#[test]
fn a_lower_fencing_token_is_refused_and_writes_nothing() {
    let base = tempfile::tempdir().unwrap();
    let writer = writer(base.path());
    writer
        .apply(ApplyKey::direct(Some(5)), &insert(&["a"]))
        .unwrap();
    writer
        .apply(ApplyKey::queued("q1", Some(5)), &insert(&["b"]))
        .unwrap();
    let error = table_error(
        writer
            .apply(ApplyKey::queued("q2", Some(4)), &insert(&["stale"]))
            .unwrap_err(),
    );
    assert!(
        matches!(
            error,
            TableError::Fenced {
                token: 4,
                highest: 5,
                ..
            }
        ),
        "{error}"
    );
    assert!(error.is_fenced());
    assert_eq!(error.path(), Some(writer.journal_path().as_path()));
    assert!(error.to_string().contains("taken over"), "{error}");
    // Keys without a token are not fenced; a higher token moves the fence.
    writer
        .apply(ApplyKey::direct(None), &insert(&["c"]))
        .unwrap();
    writer
        .apply(ApplyKey::direct(Some(7)), &insert(&["d"]))
        .unwrap();
    assert!(
        writer
            .apply(ApplyKey::direct(Some(6)), &insert(&["e"]))
            .is_err()
    );
    assert_eq!(
        writer.committed_lines().unwrap(),
        ["a|v", "b|v", "c|v", "d|v"]
    );
    assert_eq!(writer.status().unwrap().highest_token, Some(7));
}

#[test]
fn a_higher_token_is_recorded_even_when_everything_is_a_replay() {
    let base = tempfile::tempdir().unwrap();
    let writer = writer(base.path());
    let write = insert(&["a"]);
    writer
        .apply(ApplyKey::queued("q1", Some(1)), &write)
        .unwrap();
    // The next holder (token 2) replays q1: nothing to append, but the new
    // token must be durable so that holder 1 is fenced from now on.
    writer
        .apply(ApplyKey::queued("q1", Some(2)), &write)
        .unwrap();
    assert_eq!(writer.status().unwrap().highest_token, Some(2));
    let error = table_error(writer.apply(ApplyKey::direct(Some(1)), &write).unwrap_err());
    assert!(error.is_fenced(), "{error}");
    assert_eq!(writer.committed_lines().unwrap(), ["a|v"]);
}

#[test]
fn update_and_delete_are_refused_before_any_file_is_touched() {
    let base = tempfile::tempdir().unwrap();
    let writer = writer(base.path());
    for operation in [WriteOperation::Update, WriteOperation::Delete] {
        let write = PendingWrite::new(operation, vec![CsvRow::new("a", ["v"])]);
        assert!(writer.check_write(&write).is_err());
        let error = table_error(writer.apply(queued("q1"), &write).unwrap_err());
        assert!(matches!(error, TableError::Unsupported { .. }), "{error}");
        let message = error.to_string();
        assert!(
            message.contains(&format!("{operation:?} write 'q1'")),
            "{message}"
        );
        assert!(message.contains("table 'users'"), "{message}");
        assert!(message.contains("table.csv"), "{message}");
    }
    assert!(!base.path().join("tables").exists());
}

#[test]
fn a_row_that_would_corrupt_the_table_is_refused_with_the_whole_batch() {
    let base = tempfile::tempdir().unwrap();
    let writer = writer(base.path());
    let good = insert(&["a"]);
    let bad = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("b", ["x\ny"])]);
    let batch = [
        BatchItem {
            key: queued("q1"),
            write: &good,
        },
        BatchItem {
            key: queued("q2"),
            write: &bad,
        },
    ];
    let error = table_error(writer.apply_batch(&batch).unwrap_err());
    assert!(matches!(error, TableError::InvalidWrite { .. }), "{error}");
    assert!(error.to_string().contains("'q2'"), "{error}");
    assert!(error.to_string().contains("value 1 (column 2)"), "{error}");
    assert!(writer.check_write(&bad).is_err());
    let bad_id = table_error(writer.apply(queued("a b"), &good).unwrap_err());
    assert!(
        matches!(bad_id, TableError::InvalidWrite { .. }),
        "{bad_id}"
    );
    assert!(writer.committed_lines().unwrap().is_empty());
}

#[test]
fn an_invalid_table_name_is_refused_at_construction() {
    let error = TableWriter::new("/data", "../x").unwrap_err();
    assert!(matches!(error, TableError::InvalidTableName(_)), "{error}");
    assert_eq!(error.table(), "../x");
    assert!(
        error.to_string().contains("leave the base directory"),
        "{error}"
    );
}

#[test]
fn the_journal_stays_bounded_and_remembers_the_newest_ids() {
    let base = tempfile::tempdir().unwrap();
    let remember = 8;
    let options = WriterOptions::new().remember_ids(remember);
    let writer = TableWriter::with_options(base.path(), TABLE, options).unwrap();
    let ids: Vec<String> = (0..100).map(|n| format!("q{n:03}")).collect();
    for id in &ids {
        writer.apply(queued(id), &insert(&[id])).unwrap();
        let status = writer.status().unwrap();
        assert!(status.remembered_ids <= 2 * remember, "{status:?}");
    }
    assert!(writer.stats().compactions >= 5);
    let journal_len = fs::metadata(writer.journal_path()).unwrap().len();
    assert!(journal_len < 2_000, "journal of {journal_len} bytes");
    // The newest `remember` ids are always still skipped.
    for id in &ids[ids.len() - remember..] {
        writer.apply(queued(id), &insert(&["replay"])).unwrap();
    }
    assert_eq!(writer.committed_lines().unwrap().len(), 100);
    assert_eq!(writer.stats().replays_skipped, remember as u64);
}

#[test]
fn recover_repairs_what_a_crash_left_and_counts_it() {
    let base = tempfile::tempdir().unwrap();
    let writer = writer(base.path());
    writer.apply(queued("q1"), &insert(&["a"])).unwrap();
    let mut file = fs::OpenOptions::new()
        .append(true)
        .open(writer.table_path())
        .unwrap();
    std::io::Write::write_all(&mut file, b"torn|ro").unwrap();
    assert_eq!(writer.status().unwrap().uncommitted_len(), 7);
    assert!(writer.recover().unwrap());
    assert!(!writer.recover().unwrap());
    assert_eq!(fs::read_to_string(writer.table_path()).unwrap(), "a|v\n");
    assert!(
        fs::read_to_string(writer.discarded_path())
            .unwrap()
            .contains("torn|ro")
    );
    let stats = writer.stats();
    assert_eq!((stats.repairs, stats.discarded_bytes), (1, 7));
}

#[test]
fn a_link_below_the_tables_directory_stops_the_apply() {
    let base = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    fs::create_dir(base.path().join("tables")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), base.path().join("tables/users")).unwrap();
    let writer = writer(base.path());
    let error = table_error(writer.apply(queued("q1"), &insert(&["a"])).unwrap_err());
    assert!(matches!(error, TableError::SymbolicLink { .. }), "{error}");
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 0);
}

#[test]
fn a_writer_sees_what_other_writers_appended_since_its_last_step() {
    let base = tempfile::tempdir().unwrap();
    let (first, second) = (writer(base.path()), writer(base.path()));
    first.apply(queued("q1"), &insert(&["a"])).unwrap();
    second.apply(queued("q2"), &insert(&["b"])).unwrap();
    // `first` kept the journal of its own step; it must read q2's record.
    first.apply(queued("q2"), &insert(&["b"])).unwrap();
    first.apply(queued("q3"), &insert(&["c"])).unwrap();
    second.apply(queued("q3"), &insert(&["c"])).unwrap();
    assert_eq!(first.committed_lines().unwrap(), ["a|v", "b|v", "c|v"]);
    assert_eq!(
        first.stats().replays_skipped + second.stats().replays_skipped,
        2
    );
}

#[test]
fn a_writer_reads_a_journal_rewritten_by_another_writer_whole() {
    let base = tempfile::tempdir().unwrap();
    let options = WriterOptions::new().remember_ids(4);
    let first = TableWriter::with_options(base.path(), TABLE, options).unwrap();
    let second = TableWriter::with_options(base.path(), TABLE, options).unwrap();
    first.apply(queued("q00"), &insert(&["k00"])).unwrap();
    for n in 1..30 {
        let id = format!("q{n:02}");
        second
            .apply(queued(&id), &insert(&[&format!("k{n:02}")]))
            .unwrap();
    }
    assert!(second.stats().compactions > 0);
    // `first`'s journal was rewritten under it: a replay of the newest id
    // is still skipped, and a new write lands at the right place.
    first.apply(queued("q29"), &insert(&["k29"])).unwrap();
    first.apply(queued("q30"), &insert(&["k30"])).unwrap();
    assert_eq!(first.stats().replays_skipped, 1);
    let lines = second.committed_lines().unwrap();
    assert_eq!(lines.len(), 31);
    assert_eq!(lines.last().map(String::as_str), Some("k30|v"));
    assert!(!second.recover().unwrap(), "the files are consistent");
}

#[test]
fn a_journal_replaced_behind_a_writers_back_is_read_again() {
    let base = tempfile::tempdir().unwrap();
    let first = writer(base.path());
    first.apply(queued("q1"), &insert(&["a"])).unwrap();
    // An operator moves the journal away: the table is adopted as it is,
    // with a new journal (a new file, a new generation).
    fs::rename(first.journal_path(), base.path().join("old.journal")).unwrap();
    let second = writer(base.path());
    second.apply(queued("q2"), &insert(&["b"])).unwrap();
    first.apply(queued("q3"), &insert(&["c"])).unwrap();
    assert_eq!(first.committed_lines().unwrap(), ["a|v", "b|v", "c|v"]);
    assert!(!first.recover().unwrap());
}

#[test]
fn a_failed_compaction_does_not_fail_a_committed_step() {
    let base = tempfile::tempdir().unwrap();
    let options = WriterOptions::new().remember_ids(2);
    let writer = TableWriter::with_options(base.path(), TABLE, options).unwrap();
    writer
        .apply(ApplyKey::direct(None), &insert(&["a"]))
        .unwrap();
    // The journal's temporary name is taken by a directory: rewriting the
    // journal fails.
    let temp = writer.journal_path().with_extension("journal.tmp");
    fs::create_dir(&temp).unwrap();
    for key in ["b", "c", "d", "e", "f"] {
        // A direct write whose rows are committed must not be handed back.
        writer
            .apply(ApplyKey::direct(None), &insert(&[key]))
            .unwrap();
    }
    assert_eq!(writer.stats().compactions, 0);
    assert_eq!(writer.committed_lines().unwrap().len(), 6);
    fs::remove_dir(&temp).unwrap();
    writer
        .apply(ApplyKey::direct(None), &insert(&["g"]))
        .unwrap();
    assert_eq!(writer.stats().compactions, 1);
    assert_eq!(writer.committed_lines().unwrap().len(), 7);
    assert!(!writer.recover().unwrap());
}
