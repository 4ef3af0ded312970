// SPDX-License-Identifier: Apache-2.0
use std::ffi::OsStr;

use super::*;
use crate::{Fault, FaultErrno, Op};

fn name(text: &str) -> &OsStr {
    OsStr::new(text)
}

#[test]
fn a_cut_keeps_synced_data_under_synced_names_only() {
    let mut state = State::new();
    let kept = state.add(ROOT, name("kept"), false, 0o644);
    state.write(kept, 0, b"durable", false);
    state.sync(kept);
    state.sync(ROOT);
    state.write(kept, 0, b" and more", true);
    let lost = state.add(ROOT, name("lost"), false, 0o644);
    state.write(lost, 0, b"x", false);
    state.sync(lost);
    state.restore();
    assert_eq!(state.lookup(ROOT, name("lost")), None, "name never synced");
    assert_eq!(
        state.node(kept).map(|node| node.data.clone()),
        Some(b"durable".to_vec())
    );
}

#[test]
fn a_synced_name_survives_without_its_unsynced_data() {
    let mut state = State::new();
    let file = state.add(ROOT, name("entry"), false, 0o644);
    state.write(file, 0, b"unsynced", false);
    state.sync(ROOT);
    state.restore();
    let file = state.lookup(ROOT, name("entry")).unwrap();
    assert!(state.node(file).unwrap().data.is_empty());
}

#[test]
fn an_unsynced_unlink_and_rename_come_back() {
    let mut state = State::new();
    let a = state.add(ROOT, name("a"), false, 0o644);
    state.add(ROOT, name("b"), false, 0o644);
    state.sync(ROOT);
    state.unlink(ROOT, name("b"));
    state.rename(ROOT, name("a"), ROOT, name("c"));
    state.restore();
    assert_eq!(state.lookup(ROOT, name("a")), Some(a));
    assert!(state.lookup(ROOT, name("b")).is_some());
    assert_eq!(state.lookup(ROOT, name("c")), None);
}

#[test]
fn a_failed_fsync_drops_its_dirty_bytes_for_good() {
    let mut state = State::new();
    let file = state.add(ROOT, name("f"), false, 0o644);
    state.sync(ROOT);
    state.write(file, 0, b"abc", false);
    state.fail_sync(file);
    state.write(file, 3, b"def", false);
    state.sync(file);
    state.restore();
    assert_eq!(
        state.node(file).unwrap().data,
        b"\0\0\0def",
        "the dropped bytes never reached the disk"
    );
}

#[test]
fn the_nth_matching_call_fails_once() {
    let mut state = State::new();
    state.arm(Fault::new(Op::Fsync, 2, FaultErrno::Enospc).on("j"));
    assert_eq!(state.enter(Op::Fsync, name("other")), Ok(()));
    assert_eq!(state.enter(Op::Fsync, name("j")), Ok(()));
    assert_eq!(state.enter(Op::Fsync, name("j")), Err(FaultErrno::Enospc));
    assert_eq!(state.enter(Op::Fsync, name("j")), Ok(()));
    assert_eq!(state.counts().failed, 1);
}

#[test]
fn a_cut_armed_at_a_boundary_captures_what_was_durable_before_it() {
    let mut state = State::new();
    state.arm_cut_at_boundary(2);
    let file = state.add(ROOT, name("f"), false, 0o644);
    assert_eq!(state.enter(Op::Fsync, name("/")), Ok(()));
    state.sync(ROOT);
    assert_eq!(state.enter(Op::Fsync, name("f")), Err(FaultErrno::Eio));
    assert!(state.is_off());
    state.write(file, 0, b"after the cut", false);
    state.restore();
    assert!(state.node(file).unwrap().data.is_empty());
    assert!(!state.is_off());
}
