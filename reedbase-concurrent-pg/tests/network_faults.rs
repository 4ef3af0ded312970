// SPDX-License-Identifier: Apache-2.0
//! The backend behind a misbehaving network, on the real server: a TCP
//! proxy in this test (`net_proxy`, loopback only) stalls, delays or cuts
//! the link of a backend, while other processes and backends reach the
//! server directly. Every call returns while the fault lasts (each is run
//! with a patience far beyond its bound, and the fault lasts longer than
//! that patience unless the call returns); the time each took is printed
//! as a `MEASURED` line.
//!
//! - a stalled link: `acquire_lock`, `queue_write`, `is_locked`,
//!   `count_pending`, `submit`, `connect`, `is_held` and the guard's drop
//!   return, and the backend works again once the link does;
//! - a link cut: the holder learns it at once, calls fail within their
//!   bound, and the backend recovers;
//! - a slow link (200 ms each way): calls whose bound is shorter than a
//!   round trip time out, longer ones succeed, a held lock stays held;
//! - a partitioned holder in another process learns that it lost the lock,
//!   the server releases it to another host within the lease, and the new
//!   holder's fencing token is higher.
//!
//! This binary re-runs itself as child processes (see the test-support crate), so it has its own `main`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod net_proxy;
mod pg_support;

use std::process::ExitCode;
use std::time::{Duration, Instant};

use net_proxy::{Mode, Proxy, Upstream};
use pg_support::{TABLE, bounded, sequenced_write as write};
use reedbase_concurrent_core::{
    LockBackend, LockGuard, QueueBackend, ReedError, SubmitOutcome, WriteCoordinator,
};
use reedbase_concurrent_pg::testing::TestServer;
use reedbase_concurrent_pg::{PgBackend, PgOptions};
use reedbase_concurrent_test_support as support;
use support::{ChildProcess, Runner, child_role, line_from_parent, param, tell_parent};

/// Far beyond every bound in this file; a call still running then hangs.
const PATIENCE: Duration = Duration::from_secs(15);

fn main() -> ExitCode {
    if let Some(role) = child_role() {
        assert_eq!(role, "partitioned_holder");
        child_partitioned_holder(&param("url", ""), &param("ns", ""));
        return ExitCode::SUCCESS;
    }
    let mut runner = Runner::from_args();
    let Some(server) = TestServer::find("network_faults") else {
        return runner.finish();
    };
    let run = server.run("network_faults");
    type Scenario = fn(&TestServer, &str) -> Result<(), String>;
    let scenarios: [(&str, Scenario); 4] = [
        ("a_stalled_link_bounds_every_call", stalled_link),
        (
            "a_cut_link_fails_calls_within_their_bound_and_the_backend_recovers",
            cut_link,
        ),
        ("a_slow_link_times_out_short_calls_only", slow_link),
        (
            "a_partitioned_holder_loses_the_lock_within_the_lease",
            partition,
        ),
    ];
    for (name, scenario) in scenarios {
        let namespace = run.namespace();
        let server = &server;
        runner.run(name, move || scenario(server, &namespace));
    }
    runner.finish()
}

fn proxy_for(server: &TestServer) -> Proxy {
    Proxy::start(Upstream::of(server.tcp_url()))
}

fn options() -> PgOptions {
    PgOptions::new()
        .connect_timeout(Duration::from_millis(500))
        .call_timeout(Duration::from_millis(300))
        .queue_timeout(Duration::from_millis(200))
        .lease(Duration::from_secs(1))
}

fn stalled_link(server: &TestServer, namespace: &str) -> Result<(), String> {
    let proxy = proxy_for(server);
    let url = proxy.url(server.tcp_url());
    let backend = PgBackend::connect_with(&url, namespace, options()).unwrap();
    backend.queue_write(TABLE, &write(0, 0)).unwrap();
    let guard = backend
        .acquire_lock("held", Duration::from_secs(1))
        .unwrap();
    let unnoticed = backend
        .acquire_lock("other", Duration::from_secs(1))
        .unwrap();
    proxy.set(Mode::Stall);
    bounded(
        "stalled guard drop, stall not yet noticed",
        PATIENCE,
        move || drop(unnoticed),
    );

    let b = backend.clone();
    let (held, _) = bounded("stalled is_held (lease 1 s)", PATIENCE, move || {
        guard.is_held().map(|held| (held, guard))
    });
    let (held, guard) = held.unwrap();
    assert!(!held, "a guard whose session does not answer is not held");
    let (_, _) = bounded("stalled guard drop", PATIENCE, move || drop(guard));
    let (error, _) = bounded("stalled acquire_lock(100 ms)", PATIENCE, move || {
        b.acquire_lock(TABLE, Duration::from_millis(100))
            .unwrap_err()
    });
    assert!(error.is_lock_timeout(), "{error:?}");
    let b = backend.clone();
    let (error, _) = bounded(
        "stalled queue_write (queue_timeout 200 ms)",
        PATIENCE,
        move || b.queue_write(TABLE, &write(0, 1)).unwrap_err(),
    );
    assert!(matches!(error, ReedError::QueueBusy { .. }), "{error:?}");
    let b = backend.clone();
    let (result, _) = bounded(
        "stalled is_locked (call_timeout 300 ms)",
        PATIENCE,
        move || b.is_locked(TABLE),
    );
    assert!(result.is_err(), "{result:?}");
    let b = backend.clone();
    let (result, _) = bounded(
        "stalled count_pending (call_timeout 300 ms)",
        PATIENCE,
        move || b.count_pending(TABLE),
    );
    assert!(result.is_err(), "{result:?}");
    let coordinator = WriteCoordinator::new(backend.clone());
    let (result, _) = bounded("stalled submit(100 ms)", PATIENCE, move || {
        coordinator.submit(
            TABLE,
            write(0, 2),
            Duration::from_millis(100),
            |_, _| Ok(()),
        )
    });
    let error = result.unwrap_err();
    assert!(error.handed_back().is_some(), "{error:?}");
    let (url2, ns2) = (url.clone(), namespace.to_string());
    let (result, _) = bounded(
        "stalled connect (connect_timeout 500 ms)",
        PATIENCE,
        move || PgBackend::connect_with(&url2, &ns2, options()).map(drop),
    );
    assert!(result.is_err(), "{result:?}");

    proxy.set(Mode::Pass);
    assert_eq!(
        backend.count_pending(TABLE).unwrap(),
        1,
        "nothing was queued while stalled"
    );
    drop(
        backend
            .acquire_lock("held", Duration::from_secs(5))
            .unwrap(),
    );
    drop(
        backend
            .acquire_lock("other", Duration::from_secs(5))
            .unwrap(),
    );
    Ok(())
}

fn cut_link(server: &TestServer, namespace: &str) -> Result<(), String> {
    let proxy = proxy_for(server);
    let url = proxy.url(server.tcp_url());
    let backend = PgBackend::connect_with(&url, namespace, options()).unwrap();
    backend.queue_write(TABLE, &write(0, 0)).unwrap();
    let guard = backend
        .acquire_lock("held", Duration::from_secs(1))
        .unwrap();
    proxy.set(Mode::Cut);
    let (held, _) = bounded("cut is_held", PATIENCE, move || guard.is_held().unwrap());
    assert!(!held);
    let b = backend.clone();
    let (result, _) = bounded("cut count_pending", PATIENCE, move || {
        b.count_pending(TABLE)
    });
    assert!(result.is_err(), "{result:?}");
    proxy.set(Mode::Pass);
    assert_eq!(
        backend.count_pending(TABLE).unwrap(),
        1,
        "the backend recovers"
    );
    drop(
        backend
            .acquire_lock("held", Duration::from_secs(5))
            .unwrap(),
    );
    Ok(())
}

fn slow_link(server: &TestServer, namespace: &str) -> Result<(), String> {
    let proxy = proxy_for(server);
    let url = proxy.url(server.tcp_url());
    let options = PgOptions::new()
        .queue_timeout(Duration::from_secs(3))
        .call_timeout(Duration::from_secs(3))
        .lease(Duration::from_secs(6));
    let backend = PgBackend::connect_with(&url, namespace, options).unwrap();
    backend.queue_write(TABLE, &write(0, 0)).unwrap();
    proxy.set(Mode::Delay(Duration::from_millis(200)));
    let b = backend.clone();
    let (error, _) = bounded("slow acquire_lock(100 ms)", PATIENCE, move || {
        b.acquire_lock(TABLE, Duration::from_millis(100))
            .unwrap_err()
    });
    assert!(error.is_lock_timeout(), "{error:?}");
    let coordinator = WriteCoordinator::new(backend.clone());
    let (outcome, _) = bounded(
        "slow submit(100 ms), queue_timeout 3 s",
        PATIENCE,
        move || {
            coordinator.submit(
                TABLE,
                write(0, 1),
                Duration::from_millis(100),
                |_, _| Ok(()),
            )
        },
    );
    assert!(
        matches!(outcome, Ok(SubmitOutcome::Queued(_))),
        "{outcome:?}"
    );
    let b = backend.clone();
    let (guard, _) = bounded("slow acquire_lock(3 s)", PATIENCE, move || {
        b.acquire_lock(TABLE, Duration::from_secs(3)).unwrap()
    });
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        guard.is_held().unwrap(),
        "heartbeats on a slow link keep the lock"
    );
    drop(guard);
    assert_eq!(backend.count_pending(TABLE).unwrap(), 2);
    Ok(())
}

fn partition(server: &TestServer, namespace: &str) -> Result<(), String> {
    let proxy = proxy_for(server);
    let url = proxy.url(server.tcp_url());
    let direct = PgBackend::connect(server.url(), namespace).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mut child = ChildProcess::spawn(
        "partitioned_holder",
        dir.path(),
        &format!("url={url},ns={namespace}"),
    )?;
    let locked = child.read_line(PATIENCE)?;
    let stale: u64 = locked
        .strip_prefix("LOCKED ")
        .ok_or_else(|| format!("child said {locked}"))?
        .parse()
        .unwrap();
    proxy.set(Mode::Stall);
    let stalled_at = Instant::now();
    child.send_line("GO")?;
    let guard = direct.acquire_lock(TABLE, PATIENCE).unwrap();
    eprintln!(
        "MEASURED partition: the server released the holder's lock to another host after {} ms (lease 1 s)",
        stalled_at.elapsed().as_millis()
    );
    assert!(
        guard.fencing_token() > Some(stale),
        "the new holder's token is higher"
    );
    let lost = child.read_line(PATIENCE)?;
    assert!(lost.starts_with("LOST "), "{lost}");
    eprintln!(
        "MEASURED partition: the holder learnt it lost the lock after {} ms",
        &lost[5..]
    );
    let dropped = child.read_line(PATIENCE)?;
    assert!(dropped.starts_with("DROPPED"), "{dropped}");
    child.wait_success(PATIENCE)?;
    Ok(())
}

fn child_partitioned_holder(url: &str, namespace: &str) {
    let options = PgOptions::new()
        .lease(Duration::from_secs(1))
        .call_timeout(Duration::from_millis(500));
    let backend = PgBackend::connect_with(url, namespace, options).unwrap();
    let guard = backend.acquire_lock(TABLE, PATIENCE).unwrap();
    tell_parent(&format!("LOCKED {}", guard.fencing_token().unwrap()));
    assert_eq!(line_from_parent().as_deref(), Some("GO"));
    let since = Instant::now();
    while guard.is_held().unwrap_or(false) {
        assert!(since.elapsed() < PATIENCE, "never learnt it lost the lock");
        std::thread::sleep(Duration::from_millis(20));
    }
    tell_parent(&format!("LOST {}", since.elapsed().as_millis()));
    drop(guard);
    tell_parent(&format!("DROPPED {}", since.elapsed().as_millis()));
}
