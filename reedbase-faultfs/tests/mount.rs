// SPDX-License-Identifier: Apache-2.0
//! The mounted file system forgets what was not made durable, as seen by
//! ordinary system calls.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::{self, File};
use std::io::Write as _;

use reedbase_faultfs::{Fault, FaultErrno, Op, mount_or_skip};

#[test]
fn a_power_cut_forgets_unsynced_names_and_data_through_the_mount() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount_or_skip(dir.path(), "a_power_cut_forgets_unsynced_names_and_data") else {
        return;
    };
    let root = fs.path();
    fs::create_dir(root.join("d")).unwrap();
    File::open(root).unwrap().sync_all().unwrap();
    let mut synced = File::create(root.join("d/synced")).unwrap();
    synced.write_all(b"kept\n").unwrap();
    synced.sync_all().unwrap();
    File::open(root.join("d")).unwrap().sync_all().unwrap();
    synced.write_all(b"lost\n").unwrap();
    fs::write(root.join("d/unsynced"), b"lost").unwrap();
    fs::rename(root.join("d/synced"), root.join("d/renamed")).unwrap();
    drop(synced);
    let before = fs.control().counts();
    assert!(before.fsyncs >= 3 && before.renames == 1, "{before:?}");

    fs.control().power_cut();
    assert_eq!(fs::read(root.join("d/synced")).unwrap(), b"kept\n");
    assert!(!root.join("d/unsynced").exists());
    assert!(!root.join("d/renamed").exists());
}

#[test]
fn the_nth_fsync_fails_with_the_chosen_error() {
    let dir = tempfile::tempdir().unwrap();
    let Some(fs) = mount_or_skip(dir.path(), "the_nth_fsync_fails_with_the_chosen_error") else {
        return;
    };
    let mut file = File::create(fs.path().join("f")).unwrap();
    file.write_all(b"x").unwrap();
    fs.control()
        .fail(Fault::new(Op::Fsync, 2, FaultErrno::Enospc));
    file.sync_all().unwrap();
    let error = file.sync_all().unwrap_err();
    assert_eq!(error.raw_os_error(), Some(28), "{error}");
    fs.control()
        .fail(Fault::new(Op::Write, 1, FaultErrno::Eio).on("f"));
    assert_eq!(file.write_all(b"y").unwrap_err().raw_os_error(), Some(5));
    assert_eq!(fs.control().counts().failed, 2);
}
