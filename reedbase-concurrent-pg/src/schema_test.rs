// SPDX-License-Identifier: Apache-2.0
use super::*;

#[test]
fn schema_names_that_need_no_quoting_pass() {
    for name in ["reedbase", "_x", "a1", &"s".repeat(63)] {
        assert!(check_schema_name(name).is_ok(), "{name}");
    }
}

#[test]
fn schema_names_that_could_inject_or_need_quoting_fail() {
    for name in [
        "",
        "1abc",
        "Upper",
        "a-b",
        "a\"b",
        "a; DROP SCHEMA x",
        "a.b",
        &"s".repeat(64),
    ] {
        let error = check_schema_name(name).unwrap_err();
        assert!(error.contains("lower-case ASCII"), "{name}: {error}");
    }
}

#[test]
fn quoted_wraps_in_double_quotes() {
    assert_eq!(quoted("reedbase"), "\"reedbase\"");
}

#[test]
fn there_is_one_step_per_version() {
    assert_eq!(STEPS.len(), SCHEMA_VERSION as usize);
    assert!(STEPS[0].contains("CREATE TABLE IF NOT EXISTS {s}.queue"));
}
