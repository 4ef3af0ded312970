// SPDX-License-Identifier: Apache-2.0
use std::ffi::OsString;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime};

use super::{SETTLING, sweep, sweep_as_of};
use crate::lock::flock::{self, TryLock};
use crate::options::Durability;
use crate::queue::entry_id::{is_temporary, temporary_file_name};
use crate::queue::staged::Staged;
use crate::tables_dir::TablePaths;

use crate::queue::test_support::queue_table as table;

/// Creates the temporary `name` as a producer does, before its `flock`.
fn create_temporary(paths: &TablePaths, name: &str) -> File {
    File::create_new(paths.queue_dir.join(name)).unwrap()
}

/// The names of the temporaries in `queue_dir`, as a listing finds them.
fn temporaries_in(queue_dir: &Path) -> Vec<OsString> {
    fs::read_dir(queue_dir)
        .unwrap()
        .filter_map(|entry| entry.ok().map(|entry| entry.file_name()))
        .filter(|name| is_temporary(name))
        .collect()
}

/// Past the time an empty temporary is left to settle, seen from now.
fn after_settling() -> SystemTime {
    SystemTime::now() + SETTLING + Duration::from_secs(1)
}

#[test]
fn a_temporary_swept_between_its_creation_and_its_lock_is_left_to_its_producer() {
    let (_dir, paths, queue) = table();
    let name = temporary_file_name("between");
    let file = create_temporary(&paths, &name);
    sweep(&queue, &paths, &temporaries_in(&paths.queue_dir));
    assert!(
        paths.queue_dir.join(&name).exists(),
        "a live producer's temporary was swept before it could lock it"
    );
    assert_eq!(flock::try_lock_exclusive(&file).unwrap(), TryLock::Acquired);
}

#[test]
fn an_empty_temporary_nobody_holds_is_swept_once_it_has_settled() {
    let (_dir, paths, queue) = table();
    let name = temporary_file_name("settled");
    drop(create_temporary(&paths, &name));
    sweep_as_of(
        &queue,
        &paths,
        &temporaries_in(&paths.queue_dir),
        after_settling(),
    );
    assert!(!paths.queue_dir.join(&name).exists());
}

#[test]
fn a_written_temporary_nobody_holds_is_swept_at_once() {
    let (_dir, paths, queue) = table();
    let name = temporary_file_name("written");
    create_temporary(&paths, &name)
        .write_all(b"{\"rows\":[")
        .unwrap();
    sweep(&queue, &paths, &temporaries_in(&paths.queue_dir));
    assert!(!paths.queue_dir.join(&name).exists());
}

#[test]
fn a_held_temporary_is_left_however_old_or_full() {
    let (_dir, paths, queue) = table();
    let empty = temporary_file_name("heldempty");
    let written = temporary_file_name("heldwritten");
    let holders: Vec<File> = [&empty, &written]
        .into_iter()
        .map(|name| {
            let file = create_temporary(&paths, name);
            assert_eq!(flock::try_lock_exclusive(&file).unwrap(), TryLock::Acquired);
            file
        })
        .collect();
    (&holders[1]).write_all(b"half").unwrap();
    sweep_as_of(
        &queue,
        &paths,
        &temporaries_in(&paths.queue_dir),
        after_settling(),
    );
    assert!(paths.queue_dir.join(&empty).exists());
    assert!(paths.queue_dir.join(&written).exists());
}

#[test]
fn an_empty_temporary_changed_after_the_sweeps_clock_is_left() {
    let (_dir, paths, queue) = table();
    let name = temporary_file_name("future");
    drop(create_temporary(&paths, &name));
    let clock_stepped_back = SystemTime::now() - Duration::from_secs(3600);
    sweep_as_of(
        &queue,
        &paths,
        &temporaries_in(&paths.queue_dir),
        clock_stepped_back,
    );
    assert!(paths.queue_dir.join(&name).exists());
}

#[test]
fn producers_beside_a_sweep_that_never_stops_lose_no_write() {
    let (_dir, paths, queue) = table();
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                sweep(&queue, &paths, &temporaries_in(&paths.queue_dir));
            }
        });
        let mut refused = Vec::new();
        for n in 0..500 {
            // Named temporaries: the ones a sweep can see.
            let published = Staged::write_named(&queue, &paths, b"entry", Durability::Relaxed)
                .map_err(|e| e.to_string())
                .and_then(|staged| {
                    staged
                        .publish(&format!("{n}.pending"))
                        .map_err(|e| format!("{e:?}"))
                });
            if let Err(error) = published {
                refused.push(format!("write {n}: {error}"));
            }
        }
        stop.store(true, Ordering::Relaxed);
        assert_eq!(refused, Vec::<String>::new());
    });
    assert!(temporaries_in(&paths.queue_dir).is_empty());
}
