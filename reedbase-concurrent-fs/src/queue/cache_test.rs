// SPDX-License-Identifier: Apache-2.0
use std::fs;
use std::path::Path;

use reedbase_concurrent_core::QueueBackend;

use crate::FsBackend;
use crate::queue::test_support::{
    legacy_write, queue_dir, relaxed, sample_write, write_legacy_entry,
};

fn backend(dir: &Path) -> FsBackend {
    FsBackend::with_options(dir, relaxed().capacity(1000))
}

fn write(backend: &FsBackend, n: usize) -> String {
    backend
        .queue_write("t", &sample_write(&format!("w{n}"), 1))
        .unwrap()
}

fn head(backend: &FsBackend) -> Option<String> {
    backend.get_next_pending("t").unwrap().map(|(id, _)| id)
}

fn pop(backend: &FsBackend) -> Option<String> {
    let id = head(backend)?;
    backend.remove_from_queue("t", &id).unwrap();
    Some(id)
}

fn drain(backend: &FsBackend) -> Vec<String> {
    std::iter::from_fn(|| pop(backend)).take(10_000).collect()
}

fn entry_path(dir: &Path, id: &str) -> std::path::PathBuf {
    queue_dir(dir, "t").join(format!("{id}.pending"))
}

#[test]
fn an_old_module_entry_arriving_under_a_kept_listing_comes_next() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let ids: Vec<String> = (0..4).map(|n| write(&b, n)).collect();
    assert_eq!(
        pop(&b),
        Some(ids[0].clone()),
        "the listing is kept from here"
    );
    let legacy = "0b5c1e8f-9d0a-4c6e-8e7f-1a2b3c4d5e6f";
    write_legacy_entry(&queue_dir(dir.path(), "t"), legacy, &legacy_write("old"));
    let (id, got) = b.get_next_pending("t").unwrap().unwrap();
    assert_eq!(id, legacy);
    assert_eq!(got, legacy_write("old").to_core());
    b.remove_from_queue("t", &id).unwrap();
    assert_eq!(drain(&b), ids[1..].to_vec());
}

#[test]
fn an_entry_put_back_below_the_tail_is_delivered_in_its_place() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let ids: Vec<String> = (0..4).map(|n| write(&b, n)).collect();
    let aside = dir.path().join("aside.pending");
    fs::rename(entry_path(dir.path(), &ids[2]), &aside).unwrap();
    assert_eq!(pop(&b), Some(ids[0].clone()));
    fs::rename(&aside, entry_path(dir.path(), &ids[2])).unwrap();
    assert_eq!(drain(&b), ids[1..].to_vec());
}

#[test]
fn entries_removed_by_another_consumer_or_by_hand_are_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let ours = backend(dir.path());
    let other = backend(dir.path());
    let ids: Vec<String> = (0..6).map(|n| write(&ours, n)).collect();
    assert_eq!(head(&ours), Some(ids[0].clone()));
    assert_eq!(pop(&other), Some(ids[0].clone()));
    assert_eq!(pop(&other), Some(ids[1].clone()));
    fs::remove_file(entry_path(dir.path(), &ids[3])).unwrap();
    assert_eq!(head(&ours), Some(ids[2].clone()));
    assert_eq!(
        drain(&ours),
        vec![ids[2].clone(), ids[4].clone(), ids[5].clone()]
    );
    assert_eq!(head(&other), None);
}

#[test]
fn writes_while_draining_come_out_in_order_once_each() {
    let dir = tempfile::tempdir().unwrap();
    let consumer = backend(dir.path());
    let producer = backend(dir.path());
    let mut written: Vec<String> = (0..20).map(|n| write(&producer, n)).collect();
    let mut drained = Vec::new();
    for n in 20..60 {
        drained.extend(pop(&consumer));
        written.push(write(&producer, n));
        if n % 7 == 0 {
            // A batch read through the same listing.
            let batch = consumer.get_pending_batch("t", 3).unwrap();
            let batch: Vec<String> = batch.into_iter().map(|(id, _)| id).collect();
            consumer.remove_batch_from_queue("t", &batch).unwrap();
            drained.extend(batch);
        }
    }
    drained.extend(drain(&consumer));
    assert_eq!(drained, written);
}

#[test]
fn a_queue_directory_made_anew_is_listed_anew() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let first: Vec<String> = (0..3).map(|n| write(&b, n)).collect();
    assert_eq!(head(&b), Some(first[0].clone()));
    fs::remove_dir_all(queue_dir(dir.path(), "t")).unwrap();
    let second: Vec<String> = (0..2).map(|n| write(&b, n)).collect();
    assert_eq!(drain(&b), second);
}

#[test]
fn a_failed_batch_removal_drops_the_listing() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let ids: Vec<String> = (0..3).map(|n| write(&b, n)).collect();
    assert_eq!(head(&b), Some(ids[0].clone()));
    let missing = "00000000000000000099-0123456789abcdef0123456789abcdef".to_string();
    let batch = vec![ids[0].clone(), missing, ids[1].clone()];
    assert!(b.remove_batch_from_queue("t", &batch).is_err());
    assert_eq!(
        drain(&b),
        ids[1..].to_vec(),
        "the entry not removed is still delivered"
    );
}

fn listed() -> usize {
    crate::queue::listing::LISTED.with(std::cell::Cell::get)
}

fn batch(backend: &FsBackend) -> Vec<String> {
    backend
        .get_pending_batch("t", 100)
        .unwrap()
        .into_iter()
        .map(|(id, _)| id)
        .collect()
}

#[test]
fn an_empty_queue_is_not_listed_again_until_something_arrives() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let first = write(&b, 0);
    assert_eq!(drain(&b), [first]);
    assert!(batch(&b).is_empty());
    let before = listed();
    for _ in 0..5 {
        assert!(batch(&b).is_empty());
    }
    assert_eq!(listed(), before, "an empty kept listing is trusted");

    // A write through another backend of this process, one through a
    // producer of the old module's kind, and one put in by hand: each is an
    // arrival, found by the next call.
    let other = backend(dir.path());
    let second = write(&other, 1);
    assert_eq!(batch(&b), std::slice::from_ref(&second));
    assert!(listed() > before, "an arrival makes the next call list");
    b.remove_batch_from_queue("t", &[second]).unwrap();
    assert!(batch(&b).is_empty());

    let legacy = "0b5c1e8f-9d0a-4c6e-8e7f-1a2b3c4d5e6f";
    write_legacy_entry(&queue_dir(dir.path(), "t"), legacy, &legacy_write("old"));
    assert_eq!(batch(&b), [legacy.to_string()]);
    b.remove_from_queue("t", legacy).unwrap();
    assert!(batch(&b).is_empty());

    let third = write(&other, 2);
    let moved = dir.path().join("held-aside");
    fs::rename(entry_path(dir.path(), &third), &moved).unwrap();
    assert!(batch(&b).is_empty());
    fs::rename(&moved, entry_path(dir.path(), &third)).unwrap();
    assert_eq!(batch(&b), [third], "renamed back in by hand");
}

#[test]
fn a_listing_that_runs_out_finds_what_was_written_after_it() {
    let dir = tempfile::tempdir().unwrap();
    let b = backend(dir.path());
    let ids: Vec<String> = (0..3).map(|n| write(&b, n)).collect();
    assert_eq!(batch(&b), ids);
    let later = write(&b, 3);
    let mut all = ids.clone();
    all.push(later);
    assert_eq!(batch(&b), all, "the kept listing ran out: listed again");
}
