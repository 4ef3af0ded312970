// SPDX-License-Identifier: Apache-2.0
//! Tests of listing a queue directory: delivery order, counting, and the
//! tables with pending entries.

use std::fs::{self, File};
use std::os::fd::AsFd;
use std::os::unix::fs::symlink;
use std::thread::sleep;
use std::time::Duration;

use super::{count_entries, ordered_entries, tables_with_pending};
use crate::queue::queue_write_with;
use crate::queue::test_support::{
    legacy_write, queue_dir, relaxed, sample_write, write_legacy_entry,
};
use crate::tables_dir::BaseDir;

#[test]
fn legacy_entries_come_first_by_creation_then_sequenced_by_number() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let first = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    for name in [
        "ffffffff-0000-4000-8000-000000000000",
        "00000000-0000-4000-8000-000000000000",
    ] {
        write_legacy_entry(&queue, name, &legacy_write(name));
        sleep(Duration::from_millis(5));
    }
    let second = queue_write_with(dir.path(), "t", &sample_write("b", 1), &relaxed()).unwrap();
    fs::write(queue.join("notes.txt"), b"ignored").unwrap();
    let fd = File::open(&queue).unwrap();
    let ids: Vec<String> = ordered_entries(fd.as_fd(), &queue)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .collect();
    let expected = [
        "ffffffff-0000-4000-8000-000000000000".to_string(),
        "00000000-0000-4000-8000-000000000000".to_string(),
        first,
        second,
    ];
    assert_eq!(ids, expected);
    let fd = File::open(&queue).unwrap();
    assert_eq!(count_entries(fd.as_fd(), &queue).unwrap(), 4);
}

#[test]
fn tables_with_pending_leave_out_links_files_and_empty_queues() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    for table in ["b", "a", "empty", "elsewhere"] {
        queue_write_with(dir.path(), table, &sample_write(table, 1), &relaxed()).unwrap();
    }
    let empty = queue_dir(dir.path(), "empty");
    for entry in fs::read_dir(&empty).unwrap() {
        fs::remove_file(entry.unwrap().path()).unwrap();
    }
    // A table whose directory is a link to a queue elsewhere is not a table
    // of this base.
    fs::rename(
        dir.path().join("tables/elsewhere"),
        outside.path().join("elsewhere"),
    )
    .unwrap();
    symlink(
        outside.path().join("elsewhere"),
        dir.path().join("tables/linked"),
    )
    .unwrap();
    fs::write(dir.path().join("tables/plain-file"), b"x").unwrap();
    fs::create_dir_all(dir.path().join("tables/.hidden/queue")).unwrap();
    let base = BaseDir::new(dir.path().to_path_buf());
    assert_eq!(tables_with_pending(&base).unwrap(), ["a", "b"]);
    let nothing = BaseDir::new(dir.path().join("never-used"));
    assert!(tables_with_pending(&nothing).unwrap().is_empty());
}

#[test]
fn an_entry_missed_by_a_listing_is_still_delivered_first() {
    let dir = tempfile::tempdir().unwrap();
    let first = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    queue_write_with(dir.path(), "t", &sample_write("b", 1), &relaxed()).unwrap();
    // As `readdir` may miss an entry renamed in during it and see a later one.
    super::MISS_ONCE.with(|missed| *missed.borrow_mut() = Some(format!("{first}.pending").into()));
    let (head, _) = crate::queue::get_next_pending(dir.path(), "t")
        .unwrap()
        .unwrap();
    assert_eq!(head, first, "delivered a later entry before a missed one");
}

#[test]
fn a_listing_the_caller_knows_quiet_is_not_listed_again() {
    let dir = tempfile::tempdir().unwrap();
    let first = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    let second = queue_write_with(dir.path(), "t", &sample_write("b", 1), &relaxed()).unwrap();
    let queue = File::open(queue_dir(dir.path(), "t")).unwrap();
    let missed = format!("{first}.pending");
    super::MISS_ONCE.with(|m| *m.borrow_mut() = Some(missed.clone().into()));
    let quiet = super::ordered_entries_unless_quiet(queue.as_fd(), dir.path(), || true).unwrap();
    assert_eq!(quiet.len(), 1, "a quiet listing was checked again");
    assert_eq!(quiet[0].id, second);
}
