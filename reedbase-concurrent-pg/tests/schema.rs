// SPDX-License-Identifier: Apache-2.0
//! The schema on a real server: created on first use by racing processes
//! exactly once, versioned, a newer one refused, bad names refused.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Barrier;
use std::thread;

mod pg_support;

use pg_support::FreshSchema;
use reedbase_concurrent_core::{QueueBackend, ReedError};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{PgBackend, PgOptions};

#[test]
fn racing_first_users_create_the_schema_once() {
    let Some(server) = TestServer::find("racing_first_users_create_the_schema_once") else {
        return;
    };
    let schema = FreshSchema::new(&server, "race");
    let start = Barrier::new(4);
    let backends: Vec<PgBackend> = thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|n| {
                let (start, server, schema) = (&start, &server, &schema);
                scope.spawn(move || {
                    start.wait();
                    let options = PgOptions::new().schema(schema.name.clone());
                    PgBackend::connect_with(server.url(), &format!("ns{n}"), options).unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert_eq!(schema.versions(), vec![1]);
    for backend in &backends {
        let write = reedbase_concurrent_core::PendingWrite::new(
            reedbase_concurrent_core::WriteOperation::Insert,
            vec![reedbase_concurrent_core::CsvRow::new("k", ["v"])],
        );
        backend.queue_write("t", &write).unwrap();
        assert_eq!(
            backend.count_pending("t").unwrap(),
            1,
            "each namespace its own queue"
        );
    }
    // Connecting again changes nothing.
    PgBackend::connect_with(
        server.url(),
        "ns0",
        PgOptions::new().schema(schema.name.clone()),
    )
    .unwrap();
    assert_eq!(schema.versions(), vec![1]);
}

#[test]
fn a_schema_newer_than_this_release_is_refused() {
    let Some(server) = TestServer::find("a_schema_newer_than_this_release_is_refused") else {
        return;
    };
    let schema = FreshSchema::new(&server, "newer");
    let options = PgOptions::new().schema(schema.name.clone());
    PgBackend::connect_with(server.url(), "ns", options.clone()).unwrap();
    let mut admin = server.client().unwrap();
    admin
        .batch_execute(&format!(
            "INSERT INTO {}.schema_version (version) VALUES (2)",
            schema.name
        ))
        .unwrap();
    let error = PgBackend::connect_with(server.url(), "ns", options).unwrap_err();
    let ReedError::ServerError {
        operation, reason, ..
    } = &error
    else {
        panic!("expected a ServerError, got {error:?}");
    };
    assert_eq!(*operation, "check_schema");
    assert!(
        reason.contains("version 2, newer than this release"),
        "{reason}"
    );
    assert_eq!(schema.versions(), vec![1, 2], "nothing was changed");
}

#[test]
fn bad_schema_names_and_namespaces_are_refused_before_anything_is_created() {
    let Some(server) =
        TestServer::find("bad_schema_names_and_namespaces_are_refused_before_anything_is_created")
    else {
        return;
    };
    for schema in ["Upper", "a;drop", "1x", ""] {
        let error = PgBackend::connect_with(server.url(), "ns", PgOptions::new().schema(schema))
            .unwrap_err();
        assert!(
            error.to_string().contains("lower-case ASCII"),
            "{schema:?}: {error}"
        );
    }
    for namespace in ["", "../x", "a/b", "a\0b", ".hidden"] {
        let error = PgBackend::connect(server.url(), namespace).unwrap_err();
        let ReedError::ServerError {
            operation, reason, ..
        } = &error
        else {
            panic!("expected a ServerError, got {error:?}");
        };
        assert_eq!(*operation, "connect");
        assert!(
            reason.contains("invalid namespace"),
            "{namespace:?}: {reason}"
        );
    }
}
