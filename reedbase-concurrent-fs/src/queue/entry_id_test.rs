// SPDX-License-Identifier: Apache-2.0
use std::ffi::OsStr;

use reedbase_concurrent_core::validate_queue_id;

use super::{
    MAX_WRITTEN_SEQUENCE, is_temporary, parse_sequence, pending_file_name, pending_stem,
    sequenced_id, temporary_file_name,
};

#[test]
fn sequenced_ids_carry_their_sequence_and_pass_validation() {
    for sequence in [0, 1, 42, 1_000_000, MAX_WRITTEN_SEQUENCE] {
        let id = sequenced_id(sequence);
        assert_eq!(id.len(), 53, "{id}");
        assert_eq!(parse_sequence(&id), Some(sequence), "{id}");
        validate_queue_id(&id).unwrap();
    }
    assert!(sequenced_id(42).starts_with("00000000000000000042-"));
}

#[test]
fn sequenced_ids_are_unique_and_sort_by_name_as_by_sequence() {
    let ids: Vec<String> = [9, 10, 99, 100, 5]
        .iter()
        .map(|s| sequenced_id(*s))
        .collect();
    let mut by_name = ids.clone();
    by_name.sort();
    let mut by_sequence = ids.clone();
    by_sequence.sort_by_key(|id| parse_sequence(id));
    assert_eq!(by_name, by_sequence);
    assert_ne!(sequenced_id(1), sequenced_id(1));
}

#[test]
fn other_ids_have_no_sequence() {
    for id in [
        "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11",
        "",
        "00000000000000000042",
        "00000000000000000042-0123456789ABCDEF0123456789abcdef",
        "0000000000000000004x-0123456789abcdef0123456789abcdef",
        "00000000000000000042_0123456789abcdef0123456789abcdef",
        "00000000000000000042-0123456789abcdef0123456789abcde",
    ] {
        assert_eq!(parse_sequence(id), None, "{id:?}");
    }
}

#[test]
fn entry_files_are_told_by_extension_as_the_old_module_does() {
    assert_eq!(
        pending_stem(OsStr::new("abc.pending")),
        Some(OsStr::new("abc"))
    );
    assert_eq!(
        pending_stem(OsStr::new("a.b.pending")),
        Some(OsStr::new("a.b"))
    );
    assert_eq!(pending_stem(OsStr::new(".pending")), None);
    assert_eq!(pending_stem(OsStr::new("abc.reason")), None);
    assert_eq!(pending_stem(OsStr::new(".queue.lock")), None);
    assert_eq!(pending_stem(OsStr::new("corrupt")), None);
    let id = sequenced_id(3);
    assert_eq!(
        pending_stem(OsStr::new(&pending_file_name(&id))),
        Some(OsStr::new(&id))
    );
    assert_eq!(pending_stem(OsStr::new(&temporary_file_name(&id))), None);
}

#[test]
fn temporaries_are_recognised_and_nothing_else() {
    let id = sequenced_id(7);
    assert!(is_temporary(OsStr::new(&temporary_file_name(&id))));
    assert!(!is_temporary(OsStr::new(&pending_file_name(&id))));
    assert!(!is_temporary(OsStr::new(".queue.lock")));
    assert!(!is_temporary(OsStr::new("x.tmp")));
}

#[test]
fn pending_stem_agrees_with_path_extension() {
    use std::path::Path;
    for name in [
        "a.pending",
        ".pending",
        "..pending",
        "...pending",
        "a..pending",
        ".a.pending",
        "pending",
        "a.pending.tmp",
        "a.PENDING",
        "a.pendingx",
        "..",
        ".",
        "a b.pending",
        "é.pending",
    ] {
        let path = Path::new(name);
        let expected = (path.extension() == Some(OsStr::new("pending")))
            .then(|| path.file_stem())
            .flatten();
        assert_eq!(pending_stem(OsStr::new(name)), expected, "{name:?}");
    }
}

proptest::proptest! {
    #[test]
    fn the_short_id_check_agrees_with_the_full_one(id in "[-_a-zA-Z0-9.:/ \\x00\\u{00AD}]{0,140}") {
        let short = super::check_queue_id(&id);
        let full = reedbase_concurrent_core::validate_queue_id(&id);
        proptest::prop_assert_eq!(short.is_ok(), full.is_ok());
    }
}

#[test]
fn the_short_id_check_takes_a_producers_id_and_refuses_a_path() {
    assert!(super::check_queue_id(&super::sequenced_id(42)).is_ok());
    assert!(
        super::check_queue_id("../../x")
            .unwrap_err()
            .is_invalid_input()
    );
    assert!(super::check_queue_id("").is_err());
    assert!(super::check_queue_id(&"a".repeat(129)).is_err());
    assert!(super::check_queue_id(&"a".repeat(128)).is_ok());
}
