// SPDX-License-Identifier: Apache-2.0
use super::{hold, holds, holds_in, release};

const LOCKS: &str = "1: FLOCK  ADVISORY  WRITE 4242 fe:00:6464113 0 EOF
2: FLOCK  ADVISORY  READ 17 fe:00:99 0 EOF
3: POSIX  ADVISORY  WRITE 18 fe:00:100 0 EOF
4: -> FLOCK  ADVISORY  WRITE 19 fe:00:6464113 0 EOF
";

#[test]
fn an_exclusive_flock_of_the_pid_on_the_inode_is_a_hold() {
    assert!(holds_in(LOCKS, 4242, 6_464_113));
    assert!(!holds_in(LOCKS, 4243, 6_464_113), "another pid");
    assert!(!holds_in(LOCKS, 4242, 6_464_114), "another file");
    assert!(!holds_in(LOCKS, 17, 99), "a shared probe holds nothing");
    assert!(!holds_in(LOCKS, 18, 100), "a POSIX lock is not a flock");
    assert!(
        !holds_in(LOCKS, 19, 6_464_113),
        "a waiting request holds nothing"
    );
}

#[test]
fn this_process_holds_what_its_guards_hold() {
    let key = (u64::MAX, 7);
    assert_eq!(holds(std::process::id(), key), Some(false));
    hold(key);
    assert_eq!(holds(std::process::id(), key), Some(true));
    release(key);
    assert_eq!(holds(std::process::id(), key), Some(false));
}
