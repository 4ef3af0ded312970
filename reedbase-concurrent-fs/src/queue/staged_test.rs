// SPDX-License-Identifier: Apache-2.0
use std::fs;

use super::{LINK, LINK_EMPTY_PATH, LINK_PROC, Staged, Unpublished};
use crate::options::Durability;
use crate::tables_dir::TablePaths;

use crate::queue::test_support::queue_table as table;

fn names(paths: &TablePaths) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(&paths.queue_dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn an_anonymous_entry_has_no_name_until_published_and_none_if_dropped() {
    for durability in [Durability::Relaxed, Durability::Durable] {
        let (_dir, paths, queue) = table();
        let staged = Staged::write(&queue, &paths, b"first", durability).unwrap();
        assert!(
            staged.name.is_none(),
            "staged anonymously on this file system"
        );
        assert_eq!(names(&paths), Vec::<String>::new(), "nothing visible");
        drop(staged);
        assert_eq!(names(&paths), Vec::<String>::new(), "nothing left");

        let staged = Staged::write(&queue, &paths, b"second", durability).unwrap();
        staged.publish("a.pending").unwrap();
        assert_eq!(names(&paths), ["a.pending"]);
        assert_eq!(
            fs::read(paths.queue_dir.join("a.pending")).unwrap(),
            b"second"
        );
        assert!(
            [LINK_EMPTY_PATH, LINK_PROC].contains(&LINK.load(std::sync::atomic::Ordering::Relaxed)),
            "the process learned how it links"
        );
    }
}

#[test]
fn publishing_never_replaces_an_entry() {
    let (_dir, paths, queue) = table();
    fs::write(paths.queue_dir.join("a.pending"), b"kept").unwrap();
    let staged = Staged::write(&queue, &paths, b"new", Durability::Relaxed).unwrap();
    match staged.publish("a.pending") {
        Err(Unpublished::Failed(rustix::io::Errno::EXIST)) => {}
        other => panic!("expected EEXIST, got {other:?}"),
    }
    assert_eq!(
        fs::read(paths.queue_dir.join("a.pending")).unwrap(),
        b"kept"
    );
    assert_eq!(names(&paths), ["a.pending"]);
}

#[test]
fn an_anonymous_entry_into_a_removed_queue_directory_fails_and_leaves_nothing() {
    let (_dir, paths, queue) = table();
    let staged = Staged::write(&queue, &paths, b"lost", Durability::Relaxed).unwrap();
    fs::remove_dir(&paths.queue_dir).unwrap();
    match staged.publish("a.pending") {
        Err(Unpublished::Failed(rustix::io::Errno::NOENT)) => {}
        other => panic!("expected ENOENT, got {other:?}"),
    }
    assert!(!paths.queue_dir.exists());
}
