// SPDX-License-Identifier: Apache-2.0

use std::time::Duration;

use clap::{CommandFactory as _, Parser as _};

use super::*;

#[test]
fn durations_take_units_and_plain_seconds() {
    assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
    assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
    assert_eq!(parse_duration("2"), Ok(Duration::from_secs(2)));
    assert_eq!(parse_duration("1.5m"), Ok(Duration::from_secs(90)));
    assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
    assert!(parse_duration("5 weeks").is_err());
    assert!(parse_duration("soon").is_err());
}

#[test]
fn the_command_line_is_consistent_and_parses() {
    Cli::command().debug_assert();
    let cli = Cli::try_parse_from([
        "reedbase-concurrent",
        "--json",
        "queue",
        "list",
        "/data",
        "orders",
    ])
    .unwrap();
    assert!(cli.json);
    assert!(
        matches!(cli.command, Command::Queue(QueueCommand::List { ref place, exit_code: false }) if place.args == ["/data", "orders"])
    );
    let cli = Cli::try_parse_from([
        "reedbase-concurrent",
        "lock",
        "wait",
        "orders",
        "--timeout",
        "2s",
        "--pg",
        "host=/x",
        "--namespace",
        "ns",
    ])
    .unwrap();
    assert!(
        matches!(cli.command, Command::Lock(LockCommand::Wait { timeout, .. }) if timeout == Duration::from_secs(2))
    );
    assert_eq!(cli.pg.as_deref(), Some("host=/x"));
    let no_namespace =
        Cli::try_parse_from(["reedbase-concurrent", "--pg", "u", "status"]).unwrap_err();
    assert_eq!(no_namespace.exit_code(), 2);
    let too_many =
        Cli::try_parse_from(["reedbase-concurrent", "queue", "list", "a", "b", "c"]).unwrap_err();
    assert_eq!(too_many.exit_code(), 2);
}

#[test]
fn help_states_the_exit_codes() {
    let help = Cli::command().render_long_help().to_string();
    for line in ["3  lock held", "4  queue not empty", "2  bad usage"] {
        assert!(help.contains(line), "{line:?} missing from --help:\n{help}");
    }
}
