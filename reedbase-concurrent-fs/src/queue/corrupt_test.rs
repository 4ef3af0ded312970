// SPDX-License-Identifier: Apache-2.0
use std::fs::{self, File};
use std::time::{Duration, SystemTime};

use reedbase_concurrent_core::{
    CsvRow, PendingWrite, QueueBackend as _, ReedError, WriteOperation,
};

use crate::backend::FsBackend;
use crate::queue::test_support::{
    drain, file_names, legacy_write, queue_dir, relaxed, sample_write, write_legacy_entry,
};
use crate::queue::{
    count_pending, get_next_pending, moved_aside, queue_write_with, remove_from_queue,
};

/// Makes a file look as if it was last written `age` ago.
fn age_file(path: &std::path::Path, age: Duration) {
    let file = File::options().write(true).open(path).unwrap();
    file.set_modified(SystemTime::now() - age).unwrap();
}

#[test]
fn a_torn_entry_between_two_good_ones_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let older = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    let torn = queue_write_with(dir.path(), "t", &sample_write("b", 10), &relaxed()).unwrap();
    let newer = queue_write_with(dir.path(), "t", &sample_write("c", 1), &relaxed()).unwrap();
    let torn_path = queue.join(format!("{torn}.pending"));
    let bytes = fs::read(&torn_path).unwrap();
    fs::write(&torn_path, &bytes[..bytes.len() / 2]).unwrap();

    assert_eq!(get_next_pending(dir.path(), "t").unwrap().unwrap().0, older);
    remove_from_queue(dir.path(), "t", &older).unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap().unwrap().0, newer);
    assert_eq!(count_pending(dir.path(), "t").unwrap(), 1);

    let moved = moved_aside(dir.path(), "t").unwrap();
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0].id, torn);
    assert_eq!(
        std::path::PathBuf::from(&moved[0].location),
        queue.join("corrupt").join(format!("{torn}.pending"))
    );
    assert!(
        moved[0].reason.contains("JSON entry does not parse"),
        "{}",
        moved[0].reason
    );
    assert_eq!(
        fs::read(&moved[0].location).unwrap(),
        &bytes[..bytes.len() / 2],
        "kept as found"
    );
    let reason_file =
        fs::read_to_string(queue.join("corrupt").join(format!("{torn}.reason"))).unwrap();
    assert_eq!(reason_file.trim_end(), moved[0].reason);
    assert_eq!(FsBackend::new(dir.path()).moved_aside("t").unwrap(), moved);
}

#[test]
fn removing_a_moved_id_reports_where_it_lies_and_why() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let id = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    fs::write(queue.join(format!("{id}.pending")), b"").unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap(), None);
    match remove_from_queue(dir.path(), "t", &id).unwrap_err() {
        ReedError::CorruptEntry {
            table,
            queue_id,
            moved_to,
            reason,
        } => {
            assert_eq!((table.as_str(), queue_id.as_str()), ("t", id.as_str()));
            assert_eq!(
                moved_to,
                queue.join("corrupt").join(format!("{id}.pending"))
            );
            assert!(reason.contains("empty"), "{reason}");
            assert!(std::path::Path::new(&moved_to).exists(), "never deleted");
        }
        other => panic!("expected CorruptEntry, got {other:?}"),
    }
}

#[test]
fn an_entry_with_a_row_that_would_corrupt_the_table_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let bad = PendingWrite::new(WriteOperation::Insert, vec![CsvRow::new("k", vec!["a\nb"])]);
    let bad_id = "00000000000000000000-0123456789abcdef0123456789abcdef";
    fs::create_dir_all(&queue).unwrap();
    fs::write(
        queue.join(format!("{bad_id}.pending")),
        serde_json::to_vec(&bad).unwrap(),
    )
    .unwrap();
    let good = queue_write_with(dir.path(), "t", &sample_write("g", 1), &relaxed()).unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap().unwrap().0, good);
    let moved = moved_aside(dir.path(), "t").unwrap();
    assert_eq!(moved[0].id, bad_id);
    assert!(
        moved[0].reason.contains("line break"),
        "{}",
        moved[0].reason
    );
}

#[test]
fn a_file_whose_name_is_not_a_queue_id_is_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let good = queue_write_with(dir.path(), "t", &sample_write("g", 1), &relaxed()).unwrap();
    write_legacy_entry(&queue, "not an id", &legacy_write("x"));
    assert_eq!(get_next_pending(dir.path(), "t").unwrap().unwrap().0, good);
    let moved = moved_aside(dir.path(), "t").unwrap();
    assert_eq!(moved[0].id, "not an id");
    assert!(
        moved[0].reason.contains("not a queue id"),
        "{}",
        moved[0].reason
    );
}

#[test]
fn an_old_format_entry_still_being_written_is_skipped_then_moved_aside() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let partial = queue.join("6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11.pending");
    fs::create_dir_all(&queue).unwrap();
    fs::write(&partial, b"{\"rows\":[{\"key\":\"k\",\"val").unwrap();
    let good = queue_write_with(dir.path(), "t", &sample_write("g", 1), &relaxed()).unwrap();

    assert_eq!(get_next_pending(dir.path(), "t").unwrap().unwrap().0, good);
    assert!(partial.exists(), "a write in progress is not quarantined");
    assert!(moved_aside(dir.path(), "t").unwrap().is_empty());

    age_file(&partial, Duration::from_secs(60));
    assert_eq!(get_next_pending(dir.path(), "t").unwrap().unwrap().0, good);
    assert!(!partial.exists());
    assert_eq!(
        moved_aside(dir.path(), "t").unwrap()[0].id,
        "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11"
    );
}

#[test]
fn a_torn_entry_written_here_is_moved_aside_however_recent() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let torn = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    fs::write(queue.join(format!("{torn}.pending")), b"{").unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap(), None);
    assert_eq!(moved_aside(dir.path(), "t").unwrap()[0].id, torn);
}

#[test]
fn a_missing_reason_file_is_reported_as_not_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let id = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    fs::write(queue.join(format!("{id}.pending")), b"\xFF").unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap(), None);
    fs::remove_file(queue.join("corrupt").join(format!("{id}.reason"))).unwrap();
    assert_eq!(
        moved_aside(dir.path(), "t").unwrap()[0].reason,
        "reason not recorded"
    );
}

#[test]
fn many_corrupt_entries_never_block_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let mut good = Vec::new();
    for n in 0..20 {
        let write = sample_write(&format!("k{n}"), 1);
        let id = queue_write_with(dir.path(), "t", &write, &relaxed()).unwrap();
        if n % 3 == 0 {
            fs::write(queue.join(format!("{id}.pending")), b"garbage").unwrap();
        } else {
            good.push((id, write));
        }
    }
    assert_eq!(drain(dir.path(), "t"), good);
    assert_eq!(moved_aside(dir.path(), "t").unwrap().len(), 7);
    assert_eq!(file_names(&queue), vec!["corrupt".to_string()]);
}

#[test]
fn a_directory_named_like_an_entry_is_moved_aside_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let odd = "00000000000000000000-0123456789abcdef0123456789abcdef";
    fs::create_dir_all(queue.join(format!("{odd}.pending"))).unwrap();
    let good = queue_write_with(dir.path(), "t", &sample_write("g", 1), &relaxed()).unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap().unwrap().0, good);
    let moved = moved_aside(dir.path(), "t").unwrap();
    assert_eq!(
        (moved[0].id.as_str(), moved[0].reason.as_str()),
        (odd, "it is a directory, not a regular file")
    );
}

#[test]
fn the_next_move_aside_deletes_reasons_left_by_an_interrupted_move() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let first = queue_write_with(dir.path(), "t", &sample_write("a", 1), &relaxed()).unwrap();
    fs::write(queue.join(format!("{first}.pending")), b"\xFF").unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap(), None);
    // Two moves that died after writing their reason, before the rename:
    // one whose mover is gone, one whose live mover holds the reason's lock.
    let corrupt = queue.join("corrupt");
    fs::write(corrupt.join("gone.reason"), b"torn\n").unwrap();
    fs::write(corrupt.join("live.reason"), b"torn\n").unwrap();
    let live = File::open(corrupt.join("live.reason")).unwrap();
    rustix::fs::flock(&live, rustix::fs::FlockOperation::NonBlockingLockExclusive).unwrap();
    let second = queue_write_with(dir.path(), "t", &sample_write("b", 1), &relaxed()).unwrap();
    fs::write(queue.join(format!("{second}.pending")), b"\xFF").unwrap();
    assert_eq!(get_next_pending(dir.path(), "t").unwrap(), None);
    let mut names = file_names(&corrupt);
    names.sort();
    let mut expected = vec![
        format!("{first}.pending"),
        format!("{first}.reason"),
        format!("{second}.pending"),
        format!("{second}.reason"),
        "live.reason".to_string(),
    ];
    expected.sort();
    assert_eq!(
        names, expected,
        "the orphan reason stayed, or a kept one went"
    );
}
