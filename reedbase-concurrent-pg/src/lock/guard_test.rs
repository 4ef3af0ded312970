// SPDX-License-Identifier: Apache-2.0
use super::*;

#[test]
fn arguments_pass_the_class_oid_as_the_int4_with_the_same_bits() {
    let key = LockKey {
        class: 16_384,
        table_no: 7,
    };
    assert_eq!(key.arguments(), "16384, 7");
    // An oid above i32::MAX: the server shows -1 as classid 4294967295.
    let key = LockKey {
        class: u32::MAX,
        table_no: 1,
    };
    assert_eq!(key.arguments(), "-1, 1");
}

#[test]
fn the_lock_condition_asks_for_a_granted_exclusive_two_key_lock_in_this_database() {
    for part in [
        "locktype = 'advisory'",
        "current_database()",
        "objsubid = 2",
        "'ExclusiveLock'",
        "l.granted",
    ] {
        assert!(GRANTED_LOCK.contains(part), "{part}");
    }
}
