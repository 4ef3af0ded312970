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

/// The sequence as the rule states it: twenty decimal digits, `-`, 32
/// lower-case hex digits; the value of the digits, in `u128`.
fn sequence_by_the_rule(id: &[u8]) -> Option<u128> {
    let (digits, rest) = (id.get(..20)?, id.get(20..)?);
    let hex = rest.strip_prefix(b"-")?;
    let hex_ok = hex.len() == 32 && hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let digits_ok = digits.iter().all(u8::is_ascii_digit);
    (hex_ok && digits_ok).then(|| {
        digits
            .iter()
            .fold(0u128, |value, digit| value * 10 + u128::from(digit - b'0'))
    })
}

proptest::proptest! {
    #[test]
    fn sequences_are_read_as_the_rule_says(
        digits in "[0-9]{20}|[0-9x ]{18,21}",
        hex in "[0-9a-f]{32}|[0-9a-fA-F]{31,33}",
        dash in "-|_",
    ) {
        let id = format!("{digits}{dash}{hex}");
        proptest::prop_assert_eq!(super::parse_sequence(&id), sequence_by_the_rule(id.as_bytes()));
        proptest::prop_assert_eq!(
            super::parse_sequence_bytes(id.as_bytes()),
            sequence_by_the_rule(id.as_bytes())
        );
    }

    #[test]
    fn pending_stem_agrees_with_path_extension_for_any_bytes(
        name in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::strategy::Just(b'.'),
                proptest::sample::select(b"pending".to_vec()),
                1u8..=255u8,
            ],
            0..24,
        ),
        suffix in proptest::option::of(proptest::sample::select(vec![".pending", "pending", ".tmp"])),
    ) {
        use std::os::unix::ffi::OsStrExt as _;
        use std::path::Path;
        let mut bytes: Vec<u8> = name.into_iter().filter(|b| *b != b'/').collect();
        bytes.extend(suffix.unwrap_or_default().as_bytes());
        let name = OsStr::from_bytes(&bytes);
        let path = Path::new(name);
        let expected = (path.extension() == Some(OsStr::new("pending")))
            .then(|| path.file_stem())
            .flatten();
        proptest::prop_assert_eq!(pending_stem(name), expected, "{:?}", name);
    }
}

#[test]
fn the_short_id_check_looks_up_exactly_letters_digits_dash_and_underscore() {
    for byte in 0..=255u8 {
        let expected = byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
        assert_eq!(super::PLAIN_ID_BYTE[usize::from(byte)], expected, "{byte}");
    }
}

#[test]
fn a_temporary_name_that_is_not_utf8_is_not_taken_for_one() {
    use std::os::unix::ffi::OsStrExt as _;
    let mut name = b".incoming-".to_vec();
    name.extend([0xff, 0xfe]);
    name.extend(b".tmp");
    assert!(!is_temporary(OsStr::from_bytes(&name)));
    assert!(is_temporary(OsStr::new(".incoming-x.tmp")));
}

proptest::proptest! {
    #[test]
    fn sequenced_ids_are_written_as_the_padded_format_writes_them(
        sequence in proptest::prop_oneof![0u128..1_000_000, 0u128..=MAX_WRITTEN_SEQUENCE, proptest::num::u128::ANY],
    ) {
        let unique = "0123456789abcdef0123456789abcdef";
        proptest::prop_assert_eq!(
            super::sequenced_id_with(sequence, unique),
            format!("{sequence:020}-{unique}")
        );
    }
}

#[test]
fn a_pending_name_on_the_stack_is_the_entry_name_and_ends_in_one_nul() {
    for id in [
        sequenced_id(7),
        "0b5c1e8f-9d0a-4c6e-8e7f-1a2b3c4d5e6f".to_string(),
        "x".repeat(reedbase_concurrent_core::MAX_NAME_BYTES),
    ] {
        let name = super::PendingName::new(&id).expect("a valid id has a name");
        assert_eq!(name.as_os_str(), OsStr::new(&pending_file_name(&id)));
        assert_eq!(
            name.as_c_str().to_bytes(),
            pending_file_name(&id).as_bytes()
        );
    }
}

#[test]
fn no_pending_name_for_an_id_no_entry_can_have() {
    let long = "x".repeat(reedbase_concurrent_core::MAX_NAME_BYTES + 1);
    assert!(super::PendingName::new(&long).is_none());
    let with_nul = super::PendingName::new("a\0b").expect("short enough");
    assert_eq!(with_nul.as_c_str(), c"", "a name that no file has");
}
