// SPDX-License-Identifier: Apache-2.0
//! Tests of open_table.rs: what a crash leaves is repaired, what a crash
//! cannot leave is refused.

use std::fs::{self, OpenOptions};
use std::path::{Path, PathBuf};

use super::*;

const TABLE: &str = "users";

fn table_file(base: &Path) -> PathBuf {
    base.join("tables").join(TABLE).join(TABLE_FILE)
}

fn journal_file(base: &Path) -> PathBuf {
    base.join("tables").join(TABLE).join(JOURNAL_FILE)
}

fn discarded_file(base: &Path) -> PathBuf {
    base.join("tables").join(TABLE).join(DISCARDED_FILE)
}

fn append_raw(path: &Path, bytes: &str) {
    let mut file = OpenOptions::new().append(true).open(path).unwrap();
    file.write_all(bytes.as_bytes()).unwrap();
}

/// Opens the table and commits `rows` with the queue id `id`, as an apply
/// step does.
fn commit(base: &Path, rows: &str, id: &str) {
    let mut open = OpenTable::open(base, TABLE, None).unwrap();
    let start = open.journal.committed();
    open.append_rows(rows.as_bytes()).unwrap();
    open.commit(Record {
        start,
        end: start + rows.len() as u64,
        token: None,
        ids: vec![id.to_string()],
    })
    .unwrap();
}

#[test]
fn a_new_table_gets_an_empty_file_and_a_journal() {
    let base = tempfile::tempdir().unwrap();
    let open = OpenTable::open(base.path(), TABLE, None).unwrap();
    assert!(open.repair.is_empty());
    assert_eq!(open.journal.committed(), 0);
    assert_eq!(fs::read(table_file(base.path())).unwrap(), b"");
    let journal = Journal::parse(&fs::read(journal_file(base.path())).unwrap()).unwrap();
    assert_eq!(journal, open.journal);
}

#[test]
fn committed_steps_reopen_without_repair() {
    let base = tempfile::tempdir().unwrap();
    commit(base.path(), "a|1\n", "q1");
    commit(base.path(), "b|2\nc|3\n", "q2");
    let open = OpenTable::open(base.path(), TABLE, None).unwrap();
    assert!(open.repair.is_empty());
    assert_eq!(open.journal.committed(), 12);
    assert_eq!(open.journal.remembered_count(), 2);
    assert_eq!(
        fs::read_to_string(table_file(base.path())).unwrap(),
        "a|1\nb|2\nc|3\n"
    );
}

#[test]
fn a_half_written_last_line_is_rolled_back_and_kept_aside() {
    let base = tempfile::tempdir().unwrap();
    commit(base.path(), "a|1\n", "q1");
    // A crash in the middle of the next step's row write.
    append_raw(&table_file(base.path()), "b|2\nc|");
    let open = OpenTable::open(base.path(), TABLE, None).unwrap();
    assert_eq!(open.repair.discarded_bytes, 6);
    assert_eq!(
        fs::read_to_string(table_file(base.path())).unwrap(),
        "a|1\n"
    );
    let kept = fs::read_to_string(discarded_file(base.path())).unwrap();
    assert!(
        kept.starts_with("# 6 bytes rolled back from table.csv at byte 4"),
        "{kept}"
    );
    assert!(kept.ends_with("\nb|2\nc|\n"), "{kept}");
}

#[test]
fn complete_rows_without_their_record_are_rolled_back() {
    let base = tempfile::tempdir().unwrap();
    commit(base.path(), "a|1\n", "q1");
    // A crash after the rows were durable, before their record was written:
    // their queue entry is still queued and will be applied again.
    append_raw(&table_file(base.path()), "b|2\n");
    let open = OpenTable::open(base.path(), TABLE, None).unwrap();
    assert_eq!(open.repair.discarded_bytes, 4);
    assert!(!open.journal.remembers("q2"));
    assert_eq!(
        fs::read_to_string(table_file(base.path())).unwrap(),
        "a|1\n"
    );
    // Repaired once: the next open finds nothing to do.
    assert!(
        OpenTable::open(base.path(), TABLE, None)
            .unwrap()
            .repair
            .is_empty()
    );
}

#[test]
fn a_torn_journal_record_is_cut_and_its_rows_rolled_back() {
    let base = tempfile::tempdir().unwrap();
    commit(base.path(), "a|1\n", "q1");
    let valid = fs::metadata(journal_file(base.path())).unwrap().len();
    append_raw(&table_file(base.path()), "b|2\n");
    let record = Record {
        start: 4,
        end: 8,
        token: None,
        ids: vec!["q2".to_string()],
    }
    .render();
    append_raw(&journal_file(base.path()), &record[..record.len() - 5]);
    let open = OpenTable::open(base.path(), TABLE, None).unwrap();
    assert_eq!(open.repair.torn_journal_bytes, record.len() as u64 - 5);
    assert_eq!(open.repair.discarded_bytes, 4);
    assert_eq!(
        fs::metadata(journal_file(base.path())).unwrap().len(),
        valid
    );
    assert_eq!(
        fs::read_to_string(table_file(base.path())).unwrap(),
        "a|1\n"
    );
}

#[test]
fn a_table_shorter_than_its_journal_is_refused() {
    let base = tempfile::tempdir().unwrap();
    commit(base.path(), "a|1\nb|2\n", "q1");
    let file = OpenOptions::new()
        .write(true)
        .open(table_file(base.path()))
        .unwrap();
    file.set_len(3).unwrap();
    let error = OpenTable::open(base.path(), TABLE, None).unwrap_err();
    assert!(
        matches!(
            error,
            TableError::TableTruncated {
                len: 3,
                committed: 8,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(error.path(), Some(table_file(base.path()).as_path()));
    assert_eq!(fs::metadata(table_file(base.path())).unwrap().len(), 3);
}

#[test]
fn a_damaged_journal_line_before_the_last_is_refused() {
    let base = tempfile::tempdir().unwrap();
    commit(base.path(), "a|1\n", "q1");
    commit(base.path(), "b|2\n", "q2");
    let path = journal_file(base.path());
    let text = fs::read_to_string(&path).unwrap();
    fs::write(&path, text.replacen(" q1 ", " q9 ", 1)).unwrap();
    let error = OpenTable::open(base.path(), TABLE, None).unwrap_err();
    assert!(
        matches!(error, TableError::CorruptJournal { .. }),
        "{error}"
    );
    assert!(error.to_string().contains("line 2 is damaged"), "{error}");
}

#[test]
fn a_table_written_before_the_writer_is_adopted() {
    let base = tempfile::tempdir().unwrap();
    fs::create_dir_all(table_file(base.path()).parent().unwrap()).unwrap();
    fs::write(table_file(base.path()), "old|1\nold|2\n").unwrap();
    let open = OpenTable::open(base.path(), TABLE, None).unwrap();
    assert!(open.repair.is_empty());
    assert_eq!(open.journal.committed(), 12);
    assert_eq!(
        fs::read_to_string(table_file(base.path())).unwrap(),
        "old|1\nold|2\n"
    );
}

#[test]
fn a_torn_table_written_before_the_writer_is_refused_untouched() {
    let base = tempfile::tempdir().unwrap();
    fs::create_dir_all(table_file(base.path()).parent().unwrap()).unwrap();
    fs::write(table_file(base.path()), "old|1\nold|").unwrap();
    let error = OpenTable::open(base.path(), TABLE, None).unwrap_err();
    assert!(
        matches!(error, TableError::TornUnjournaled { len: 10, .. }),
        "{error}"
    );
    assert!(!journal_file(base.path()).exists());
    assert_eq!(
        fs::read_to_string(table_file(base.path())).unwrap(),
        "old|1\nold|"
    );
}

#[test]
fn compaction_rewrites_the_journal_in_place() {
    let base = tempfile::tempdir().unwrap();
    for n in 0..10 {
        commit(base.path(), "r|x\n", &format!("q{n}"));
    }
    let mut open = OpenTable::open(base.path(), TABLE, None).unwrap();
    open.compact(3).unwrap();
    let reread = Journal::parse(&fs::read(journal_file(base.path())).unwrap()).unwrap();
    assert_eq!(reread, open.journal);
    assert_eq!(reread.records.len(), 3);
    assert_eq!(reread.committed(), 40);
    drop(open);
    assert!(
        OpenTable::open(base.path(), TABLE, None)
            .unwrap()
            .repair
            .is_empty()
    );
}
