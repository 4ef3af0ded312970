// SPDX-License-Identifier: Apache-2.0
//! Tests of `validation.rs`: every name rule with an example, the length
//! boundary, the queue-id character set, the row rules, and a property test
//! that an accepted table name cannot escape its base directory.

use std::path::{Component, Path};

use proptest::prelude::*;

use crate::{
    CsvRow, MAX_NAME_BYTES, NameRule, PendingWrite, ReedError, RowField, RowRule, WriteOperation,
    validate_queue_id, validate_row, validate_table_name, validate_write,
};

/// The rule `validate_table_name` reports for `name`, or `None` if accepted.
fn table_rule(name: &str) -> Option<NameRule> {
    match validate_table_name(name) {
        Ok(()) => None,
        Err(ReedError::InvalidTableName { name: named, rule }) => {
            assert_eq!(named, name, "the error should carry the name as given");
            Some(rule)
        }
        Err(other) => panic!("validate_table_name({name:?}) gave {other:?}"),
    }
}

/// The rule `validate_queue_id` reports for `id`, or `None` if accepted.
fn id_rule(id: &str) -> Option<NameRule> {
    match validate_queue_id(id) {
        Ok(()) => None,
        Err(ReedError::InvalidQueueId { id: named, rule }) => {
            assert_eq!(named, id, "the error should carry the id as given");
            Some(rule)
        }
        Err(other) => panic!("validate_queue_id({id:?}) gave {other:?}"),
    }
}

/// The field and rule `validate_row` reports for `row`, or `None`.
fn row_fault(row: &CsvRow) -> Option<(RowField, RowRule)> {
    match validate_row(row) {
        Ok(()) => None,
        Err(ReedError::InvalidRow { key, field, rule }) => {
            assert_eq!(key, row.key, "the error should carry the row's key");
            Some((field, rule))
        }
        Err(other) => panic!("validate_row({row:?}) gave {other:?}"),
    }
}

#[test]
fn every_name_rule_has_an_example() {
    let examples: [(&str, NameRule); 30] = [
        ("", NameRule::Empty),
        (".", NameRule::DotOrDotDot),
        ("..", NameRule::DotOrDotDot),
        (".hidden", NameRule::LeadingDot),
        ("../x", NameRule::PathSeparator),
        ("..\\x", NameRule::PathSeparator),
        ("a\0b", NameRule::Nul),
        ("\0", NameRule::Nul),
        ("a/b", NameRule::PathSeparator),
        ("/abs", NameRule::PathSeparator),
        ("a\\b", NameRule::PathSeparator),
        ("\\\\server\\share", NameRule::PathSeparator),
        ("C:x", NameRule::DriveOrStream),
        ("file:stream", NameRule::DriveOrStream),
        ("a\nb", NameRule::ControlCharacter),
        ("tab\there", NameRule::ControlCharacter),
        ("del\u{7f}", NameRule::ControlCharacter),
        ("c1\u{85}", NameRule::ControlCharacter),
        ("evil\u{202E}txt", NameRule::InvisibleCharacter),
        ("zero\u{200B}width", NameRule::InvisibleCharacter),
        ("\u{2066}isolate", NameRule::InvisibleCharacter),
        ("bom\u{FEFF}", NameRule::InvisibleCharacter),
        ("soft\u{AD}hyphen", NameRule::InvisibleCharacter),
        ("line\u{2028}sep", NameRule::InvisibleCharacter),
        ("tag\u{E0041}", NameRule::InvisibleCharacter),
        ("filler\u{3164}", NameRule::InvisibleCharacter),
        (" users", NameRule::SurroundingWhitespace),
        ("users ", NameRule::SurroundingWhitespace),
        ("users\u{A0}", NameRule::SurroundingWhitespace),
        ("\u{3000}users", NameRule::SurroundingWhitespace),
    ];
    for (name, rule) in examples {
        assert_eq!(table_rule(name), Some(rule), "table name {name:?}");
        assert_eq!(id_rule(name), Some(rule), "queue id {name:?}");
    }
    assert_eq!(table_rule(&"t".repeat(129)), Some(NameRule::TooLong));
    assert_eq!(id_rule("x.pending"), Some(NameRule::InvalidCharacter));
}

#[test]
fn length_limit_is_128_bytes() {
    assert_eq!(MAX_NAME_BYTES, 128);
    for validate in [table_rule, id_rule] {
        assert_eq!(validate(&"a".repeat(128)), None);
        assert_eq!(validate(&"a".repeat(129)), Some(NameRule::TooLong));
        assert_eq!(validate(&"a".repeat(10_000)), Some(NameRule::TooLong));
    }
    // Bytes, not characters: 64 two-byte characters fit, 43 three-byte do not.
    assert_eq!(table_rule(&"é".repeat(64)), None);
    assert_eq!(table_rule(&"€".repeat(43)), Some(NameRule::TooLong));
}

#[test]
fn ordinary_table_names_are_accepted() {
    for name in [
        "users",
        "a",
        "user-data_2",
        "a.b",
        "x..y",
        "trailing.",
        "with space",
        "名前",
        "ÄÖÜ",
        "a-",
    ] {
        assert_eq!(table_rule(name), None, "table name {name:?}");
    }
}

#[test]
fn queue_ids_allow_only_letters_digits_hyphen_and_underscore() {
    for id in [
        "abc",
        "ABC",
        "0123456789",
        "a-b_c",
        "-",
        "_",
        "mem-00000000000000000001",
    ] {
        assert_eq!(id_rule(id), None, "queue id {id:?}");
    }
    for id in ["a.b", "a b", "ü", "a+b", "a=b", "a~b", "a%2e", "a*"] {
        assert_eq!(
            id_rule(id),
            Some(NameRule::InvalidCharacter),
            "queue id {id:?}"
        );
    }
}

#[test]
fn uuid_queue_ids_are_accepted() {
    for id in [
        "6f1c3a52-5f43-4d4e-9a0e-0d6f1f0b7c11",
        "6F1C3A52-5F43-4D4E-9A0E-0D6F1F0B7C11",
        "00000000-0000-0000-0000-000000000000",
        "6f1c3a525f434d4e9a0e0d6f1f0b7c11",
    ] {
        assert_eq!(id_rule(id), None, "queue id {id:?}");
    }
}

#[test]
fn rule_messages_say_what_is_wrong() {
    assert_eq!(
        NameRule::TooLong.to_string(),
        "must be at most 128 bytes long"
    );
    assert_eq!(RowField::Key.to_string(), "key (column 1)");
    assert_eq!(RowField::Value(3).to_string(), "value 4 (column 5)");
    assert_eq!(RowField::Value(3).column(), 5);
    assert!(
        NameRule::PathSeparator
            .to_string()
            .contains("would leave the base directory")
    );
    assert!(NameRule::InvisibleCharacter.to_string().contains("U+202E"));
    assert_eq!(
        RowRule::ContainsDelimiter.to_string(),
        "must not contain '|'"
    );
}

#[test]
fn good_rows_are_accepted() {
    for row in [
        CsvRow::new("user:1", vec!["Alice", "alice@example.com"]),
        CsvRow::new("k", vec![]),
        CsvRow::new("k", vec!["", ""]),
        CsvRow::new("k k", vec!["tab\tis fine", "grüße", "comma,and\"quote"]),
        CsvRow::new("k", vec!["Â\u{a0}non-breaking", "\u{2028}", "€ and 日本"]),
    ] {
        assert_eq!(row_fault(&row), None, "{row:?}");
    }
}

#[test]
fn row_rules_name_the_field() {
    let cases = [
        (CsvRow::new("", vec!["v"]), RowField::Key, RowRule::EmptyKey),
        (
            CsvRow::new("a|b", vec!["v"]),
            RowField::Key,
            RowRule::ContainsDelimiter,
        ),
        (
            CsvRow::new("a\nb", vec!["v"]),
            RowField::Key,
            RowRule::ContainsLineBreak,
        ),
        (
            CsvRow::new("a\rb", vec!["v"]),
            RowField::Key,
            RowRule::ContainsLineBreak,
        ),
        (
            CsvRow::new("k", vec!["|"]),
            RowField::Value(0),
            RowRule::ContainsDelimiter,
        ),
        (
            CsvRow::new("k", vec!["ok", "ok", "x\n"]),
            RowField::Value(2),
            RowRule::ContainsLineBreak,
        ),
        (
            CsvRow::new("k", vec!["ok", "\r"]),
            RowField::Value(1),
            RowRule::ContainsLineBreak,
        ),
        // The first fault wins: the key before the values, then by index.
        (
            CsvRow::new("a|b", vec!["\n"]),
            RowField::Key,
            RowRule::ContainsDelimiter,
        ),
        (
            CsvRow::new("k", vec!["\n", "|"]),
            RowField::Value(0),
            RowRule::ContainsLineBreak,
        ),
        (
            CsvRow::new("k", vec!["nul\0"]),
            RowField::Value(0),
            RowRule::ContainsControlCharacter,
        ),
        (
            CsvRow::new("esc\u{1b}[31m", vec!["v"]),
            RowField::Key,
            RowRule::ContainsControlCharacter,
        ),
        (
            CsvRow::new("k", vec!["ok", "del\u{7f}"]),
            RowField::Value(1),
            RowRule::ContainsControlCharacter,
        ),
        (
            CsvRow::new("k", vec!["next line\u{85}"]),
            RowField::Value(0),
            RowRule::ContainsControlCharacter,
        ),
        // A line break is reported before another control character.
        (
            CsvRow::new("k", vec!["\0\n"]),
            RowField::Value(0),
            RowRule::ContainsLineBreak,
        ),
    ];
    for (row, field, rule) in cases {
        assert_eq!(row_fault(&row), Some((field, rule)), "{row:?}");
    }
}

#[test]
fn invalid_row_message_names_key_and_field() {
    let message = validate_row(&CsvRow::new("user:1", vec!["ok", "a|b"]))
        .unwrap_err()
        .to_string();
    assert!(message.contains("\"user:1\""), "{message}");
    assert!(message.contains("value 2 (column 3)"), "{message}");
}

#[test]
fn validate_write_reports_the_first_bad_row() {
    let write = PendingWrite::new(
        WriteOperation::Insert,
        vec![
            CsvRow::new("good", vec!["v"]),
            CsvRow::new("bad1", vec!["|"]),
            CsvRow::new("", vec![]),
        ],
    );
    match validate_write(&write) {
        Err(ReedError::InvalidRow { key, field, .. }) => {
            assert_eq!((key.as_str(), field), ("bad1", RowField::Value(0)));
        }
        other => panic!("expected InvalidRow for bad1, got {other:?}"),
    }
    assert!(validate_write(&PendingWrite::new(WriteOperation::Delete, Vec::new())).is_ok());
}

/// Names built from the characters that matter to paths, so that accepted
/// and rejected names both come up often.
fn path_like_name() -> impl Strategy<Value = String> {
    let pieces = prop::sample::select(vec![
        ".", "..", "/", "\\", ":", "\0", "\n", "a", "b", "-", "_", " ", "é", "€", "~", "*", "C:",
        "\u{85}",
    ]);
    prop::collection::vec(pieces, 0..12).prop_map(|pieces| pieces.concat())
}

/// Panics unless `name` joined to `base` is exactly one normal component
/// below `base`.
fn assert_one_component_below(base: &Path, name: &str) {
    let joined = base.join(name);
    assert_eq!(
        joined.parent(),
        Some(base),
        "{name:?} joined to {base:?} gives {joined:?}"
    );
    let below: Vec<Component<'_>> = joined.strip_prefix(base).unwrap().components().collect();
    assert_eq!(
        below,
        [Component::Normal(name.as_ref())],
        "{name:?} below {base:?}"
    );
}

proptest! {
    #[test]
    fn accepted_table_name_cannot_escape_base(name in prop_oneof![any::<String>(), path_like_name()]) {
        if validate_table_name(&name).is_ok() {
            assert_one_component_below(Path::new("/data/tables"), &name);
            assert_one_component_below(Path::new("relative/tables"), &name);
        }
    }

    #[test]
    fn accepted_queue_id_cannot_escape_queue_dir(id in prop_oneof![any::<String>(), path_like_name(), "[a-zA-Z0-9_-]{1,130}"]) {
        if validate_queue_id(&id).is_ok() {
            prop_assert!(validate_table_name(&id).is_ok(), "queue id {:?} accepted but not as a table name", id);
            assert_one_component_below(Path::new("/data/tables/t/queue"), &format!("{id}.pending"));
        }
    }
}

#[test]
fn a_delimiter_is_reported_before_a_line_break_wherever_it_stands() {
    for value in ["a|b\n", "a\nb|", "\r|", "|\r\n"] {
        let row = CsvRow::new("k", vec![value]);
        assert_eq!(
            row_fault(&row),
            Some((RowField::Value(0), RowRule::ContainsDelimiter)),
            "{value:?}"
        );
    }
    let row = CsvRow::new("k", vec!["ok", "multi\nbyte é\r"]);
    assert_eq!(
        row_fault(&row),
        Some((RowField::Value(1), RowRule::ContainsLineBreak))
    );
}

/// What [`super::has_byte_to_look_at`] must say, byte by byte.
fn naive_has_byte_to_look_at(bytes: &[u8]) -> bool {
    bytes.iter().any(|&b| b < 0x20 || b == b'|' || b >= 0x7F)
}

#[test]
fn the_word_at_a_time_scan_flags_every_byte_the_rules_look_at() {
    // Every byte value, at every position of fields of 1 to 24 bytes (all
    // three chunk positions and the remainder), in a field of plain text.
    for len in 1..=24 {
        for at in 0..len {
            for byte in 0..=255u8 {
                let mut field = vec![b'a'; len];
                field[at] = byte;
                assert_eq!(
                    super::has_byte_to_look_at(&field),
                    naive_has_byte_to_look_at(&field),
                    "byte {byte:#04x} at {at} of {len}"
                );
            }
        }
    }
}

proptest! {
    #[test]
    fn the_word_at_a_time_scan_agrees_with_the_byte_rules(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
        prop_assert_eq!(super::has_byte_to_look_at(&bytes), naive_has_byte_to_look_at(&bytes));
    }

    #[test]
    fn a_field_the_scan_passes_breaks_no_rule(field in "[ -~\t\u{80}-\u{a0}äöüß|\n]{0,40}") {
        if !super::has_byte_to_look_at(field.as_bytes()) {
            let row = CsvRow::new("k".to_string(), vec![field.clone()]);
            prop_assert!(validate_row(&row).is_ok());
        }
    }
}

proptest! {
    /// The short way of `check_path_component` never changes a verdict:
    /// every name it lets through passes every rule.
    #[test]
    fn names_the_short_way_passes_pass_every_rule(name in "[-_a-zA-Z0-9]{1,128}") {
        prop_assert_eq!(super::check_every_rule(&name), Ok(()));
        prop_assert_eq!(super::check_path_component(&name), Ok(()));
    }

    /// And a name it does not take is judged by the rules alone.
    #[test]
    fn other_names_get_the_verdict_of_the_rules(name in "[-_a-zA-Z0-9. :/\\\\\\x00\\x07\\u{00AD}\\u{200B}é]{0,140}") {
        prop_assert_eq!(super::check_path_component(&name), super::check_every_rule(&name));
    }
}

#[test]
fn the_short_way_takes_exactly_letters_digits_dash_and_underscore() {
    for byte in 0..=127u8 {
        let name = char::from(byte).to_string();
        let plain = byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_';
        assert_eq!(super::is_plain_byte(byte), plain, "{byte}");
        if plain {
            assert_eq!(super::check_every_rule(&name), Ok(()), "{byte}");
        }
    }
    assert_eq!(
        super::check_path_component(&"a".repeat(MAX_NAME_BYTES + 1)),
        Err(NameRule::TooLong)
    );
    assert_eq!(super::check_path_component(""), Err(NameRule::Empty));
}
