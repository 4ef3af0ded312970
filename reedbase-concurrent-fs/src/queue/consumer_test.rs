// SPDX-License-Identifier: Apache-2.0
use std::fs;
use std::thread::sleep;
use std::time::Duration;

use reedbase_concurrent_core::ReedError;
use uuid::Uuid;

use crate::options::Codec;
use crate::queue::test_support::{
    LegacyPendingWrite, drain, file_names, legacy_write, queue_dir, relaxed, sample_write,
    write_legacy_entry,
};
use crate::queue::{
    count_pending, get_next_pending, queue_write, queue_write_with, remove_from_queue,
};

#[test]
fn old_format_entries_come_first_by_creation_time() {
    let dir = tempfile::tempdir().unwrap();
    let queue = queue_dir(dir.path(), "t");
    let new_first =
        queue_write_with(dir.path(), "t", &sample_write("new0", 1), &relaxed()).unwrap();
    // Names in the opposite order to creation, so that name order would fail.
    let names = [
        "ffffffff-0000-4000-8000-000000000000",
        "88888888-0000-4000-8000-000000000000",
        "00000000-0000-4000-8000-000000000000",
    ];
    let mut legacy = Vec::new();
    for (n, name) in names.iter().enumerate() {
        let write = legacy_write(&format!("old{n}"));
        write_legacy_entry(&queue, name, &write);
        legacy.push((name.to_string(), write.to_core()));
        sleep(Duration::from_millis(5));
    }
    let new_second =
        queue_write_with(dir.path(), "t", &sample_write("new1", 1), &relaxed()).unwrap();
    assert_eq!(count_pending(dir.path(), "t").unwrap(), 5);
    let drained = drain(dir.path(), "t");
    let mut expected = legacy;
    expected.push((new_first, sample_write("new0", 1)));
    expected.push((new_second, sample_write("new1", 1)));
    assert_eq!(drained, expected);
}

#[test]
fn an_entry_written_here_parses_as_the_old_type() {
    let dir = tempfile::tempdir().unwrap();
    let write = sample_write("k", 3);
    let id = queue_write(dir.path(), "t", write.clone()).unwrap();
    assert!(Uuid::parse_str(&id[21..]).is_ok());
    let bytes = fs::read(queue_dir(dir.path(), "t").join(format!("{id}.pending"))).unwrap();
    let legacy: LegacyPendingWrite = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(legacy.to_core(), write);
}

#[test]
fn both_codecs_are_read_in_one_queue_whatever_the_options() {
    let dir = tempfile::tempdir().unwrap();
    let mut queued = Vec::new();
    for n in 0..6 {
        let codec = if n % 2 == 0 {
            Codec::Postcard
        } else {
            Codec::Json
        };
        let write = sample_write(&format!("m{n}"), n + 1);
        let id = queue_write_with(dir.path(), "t", &write, &relaxed().codec(codec)).unwrap();
        queued.push((id, write));
    }
    assert_eq!(drain(dir.path(), "t"), queued);
}

#[test]
fn get_does_not_remove_and_remove_twice_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let write = sample_write("k", 1);
    let id = queue_write_with(dir.path(), "t", &write, &relaxed()).unwrap();
    assert_eq!(
        get_next_pending(dir.path(), "t").unwrap(),
        Some((id.clone(), write.clone()))
    );
    assert_eq!(
        get_next_pending(dir.path(), "t").unwrap(),
        Some((id.clone(), write))
    );
    remove_from_queue(dir.path(), "t", &id).unwrap();
    let err = remove_from_queue(dir.path(), "t", &id).unwrap_err();
    assert_eq!(
        err,
        ReedError::QueueEntryNotFound {
            table: "t".to_string(),
            queue_id: id
        }
    );
    let never = remove_from_queue(
        dir.path(),
        "never_used",
        "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11",
    );
    assert!(matches!(never, Err(ReedError::QueueEntryNotFound { .. })));
}

#[test]
fn malformed_ids_are_rejected_and_touch_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().join("base");
    let id = queue_write_with(&base, "t", &sample_write("k", 1), &relaxed()).unwrap();
    // Where `../../x` would resolve from the queue directory.
    let decoy = base.join("tables").join("x.pending");
    fs::write(&decoy, b"decoy").unwrap();
    let outside = dir.path().join("y.pending");
    fs::write(&outside, b"decoy").unwrap();
    let before = file_names(&queue_dir(&base, "t"));
    for bad in [
        "../../x",
        "a/b",
        "",
        "..",
        "/abs",
        "../../../y",
        "x.pending",
        "a b",
        "a\0b",
    ] {
        let err = remove_from_queue(&base, "t", bad).unwrap_err();
        assert!(
            matches!(err, ReedError::InvalidQueueId { .. }),
            "{bad:?}: {err:?}"
        );
    }
    assert!(decoy.exists() && outside.exists());
    assert_eq!(file_names(&queue_dir(&base, "t")), before);
    remove_from_queue(&base, "t", &id).unwrap();
}

#[test]
fn tables_have_separate_queues() {
    let dir = tempfile::tempdir().unwrap();
    let a = queue_write_with(dir.path(), "a", &sample_write("a", 1), &relaxed()).unwrap();
    let b = queue_write_with(dir.path(), "b", &sample_write("b", 1), &relaxed()).unwrap();
    assert_eq!(get_next_pending(dir.path(), "a").unwrap().unwrap().0, a);
    assert_eq!(get_next_pending(dir.path(), "b").unwrap().unwrap().0, b);
    assert!(matches!(
        remove_from_queue(dir.path(), "a", &b),
        Err(ReedError::QueueEntryNotFound { .. })
    ));
}

/// `read_whole` with `size` as `fstat` said it and a `limit`: what a file
/// holding `content` gives.
fn read_back(content: &[u8], size: u64, limit: u64) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("entry");
    fs::write(&path, content).unwrap();
    super::read_whole(&fs::File::open(&path).unwrap(), size, limit).unwrap()
}

#[test]
fn an_entry_is_read_whole_when_it_holds_what_fstat_said() {
    assert_eq!(read_back(b"{\"rows\":[]}", 11, 1024), b"{\"rows\":[]}");
    assert_eq!(read_back(b"", 0, 1024), b"");
}

#[test]
fn an_entry_that_grew_or_shrank_since_fstat_is_read_to_its_end_or_one_past_the_limit() {
    let content = b"0123456789abcdef";
    // Grew after `fstat` said 4 bytes: read on to the end.
    assert_eq!(read_back(content, 4, 1024), content);
    // Grew past the limit: one byte past it, and no more.
    assert_eq!(read_back(content, 4, 8), &content[..9]);
    // Shrank after `fstat` said 64 bytes: what is there.
    assert_eq!(read_back(content, 64, 1024), content);
}
