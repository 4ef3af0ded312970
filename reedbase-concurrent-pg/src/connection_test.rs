// SPDX-License-Identifier: Apache-2.0
use super::*;

fn config(url: &str) -> Config {
    url.parse().unwrap()
}

#[test]
fn server_names_host_port_and_database_but_never_the_password() {
    let server = Server::of(&config("postgresql://app:s3cret@db.example.org:6543/reed"));
    assert_eq!(server.to_string(), "db.example.org:6543/reed");
    let server = Server::of(&config(
        "host=/var/run/postgresql dbname=test password=s3cret",
    ));
    assert_eq!(server.to_string(), "/var/run/postgresql:5432/test");
}

#[test]
fn server_names_every_host_of_a_list() {
    let server = Server::of(&config("host=a,b port=1,2 dbname=d"));
    assert_eq!(server.to_string(), "a:1,b:2/d");
}

#[test]
fn server_error_keeps_operation_and_server() {
    let server = Server::of(&config("host=h dbname=d"));
    let error = server.failure("queue_write", "no connection");
    assert_eq!(
        error,
        ReedError::ServerError {
            operation: "queue_write",
            server: "h:5432/d".to_string(),
            code: None,
            reason: "no connection".to_string(),
        }
    );
}

#[test]
fn parse_config_names_the_connections_after_the_process() {
    let identity = Identity {
        pid: 42,
        host: Some("db-1".to_string()),
    };
    let config = parse_config("host=h dbname=d", &PgOptions::new(), &identity).unwrap();
    assert_eq!(
        config.get_application_name(),
        Some("reedbase pid 42 on db-1")
    );
    assert_eq!(
        config.get_connect_timeout(),
        Some(&PgOptions::new().connect_timeout)
    );
}

#[test]
fn parse_config_keeps_an_application_name_given_in_the_url() {
    let identity = Identity { pid: 1, host: None };
    let config =
        parse_config("host=h application_name=mine", &PgOptions::new(), &identity).unwrap();
    assert_eq!(config.get_application_name(), Some("mine"));
}

#[test]
fn parse_config_error_does_not_quote_the_password() {
    let identity = Identity { pid: 1, host: None };
    let error = parse_config(
        "postgresql://app:s3cret@host:notaport/db",
        &PgOptions::new(),
        &identity,
    )
    .unwrap_err();
    assert!(!error.contains("s3cret"), "{error}");
    assert!(error.contains("does not parse"), "{error}");
}

#[test]
fn application_name_fits_the_servers_limit() {
    let identity = Identity {
        pid: 4_294_967_295,
        host: Some("h".repeat(200)),
    };
    let name = identity.application_name();
    assert_eq!(name.len(), 63);
    assert!(name.starts_with("reedbase pid 4294967295 on hhh"));
}

#[test]
fn sanitise_host_keeps_only_host_name_characters() {
    assert_eq!(sanitise_host("db-1.example_org"), "db-1.example_org");
    assert_eq!(sanitise_host("x'; DROP TABLE t; --"), "xDROPTABLEt--");
    assert_eq!(sanitise_host(&"a".repeat(300)).len(), 255);
}

#[test]
fn commit_setting_relaxes_only_when_asked() {
    assert_eq!(commit_setting(true), "");
    assert!(commit_setting(false).contains("synchronous_commit = off"));
}

#[test]
fn parse_config_asks_for_keepalives_and_the_call_bound_on_both_ends() {
    let identity = Identity { pid: 1, host: None };
    let options = PgOptions::new()
        .lease(Duration::from_secs(9))
        .call_timeout(Duration::from_millis(1500));
    let config = parse_config("host=h options='-c search_path=x'", &options, &identity).unwrap();
    assert!(config.get_keepalives());
    assert_eq!(config.get_keepalives_idle(), Duration::from_secs(3));
    assert_eq!(config.get_tcp_user_timeout(), Some(&Duration::from_secs(9)));
    let given = config.get_options().unwrap();
    assert!(given.starts_with("-c search_path=x "), "{given}");
    for setting in [
        "statement_timeout=1500",
        "lock_timeout=1500",
        "tcp_keepalives_idle=3",
        "tcp_user_timeout=9000",
    ] {
        assert!(given.contains(setting), "{setting} in {given}");
    }
}

#[test]
fn keepalives_start_within_a_third_of_the_lease_and_after_a_second() {
    assert_eq!(
        keepalive_idle(Duration::from_secs(1)),
        Duration::from_secs(1)
    );
    assert_eq!(
        keepalive_idle(Duration::from_secs(6)),
        Duration::from_secs(2)
    );
}
