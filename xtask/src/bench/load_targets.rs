// SPDX-License-Identifier: Apache-2.0
//! The targets of the load groups (`throughput`, `group-commit`), each
//! beside the floor of the same run that bounds it: the fs columns against
//! the old module and SQLite, batching against applying per write, and the
//! group-commit fs columns' distance to their floors.

use super::super::load::{GROUP_COMMIT, OP_ACKNOWLEDGED, OP_P99, THROUGHPUT};
use super::super::load_mode::{
    FLOOR_DURABLE_APPEND, FLOOR_DURABLE_ENQUEUE, FLOOR_FLOCK, FLOOR_PG_ENQUEUE,
    FLOOR_TIMEOUT_ENQUEUE, GROUPED,
};
use super::super::measure::Unit;
use super::super::report::format_ratio;
use super::{Lookup, TargetCheck, check, versus};

/// How close to its floor a column must come: the same 15% as a durable
/// queue write's distance to its two flushes.
const WITHIN_FLOOR: f64 = 0.15;

/// `new` against `peer` on the writes/s of `group`, as
/// [`versus`], with `floor` (a column of the same group)
/// named beside them: its rate as a ratio of `peer`'s. Stopped by the
/// floor when the target is missed and the floor is short of `factor`
/// against `peer` too.
fn versus_floor(
    l: &Lookup,
    (what, target): (&str, &str),
    group: &str,
    (new, peer, factor): (&str, &str, f64),
    floor: &str,
) -> TargetCheck {
    let measured = versus(l, (group, OP_ACKNOWLEDGED), new, peer, factor);
    let bound = l
        .median(group, OP_ACKNOWLEDGED, floor)
        .zip(l.median(group, OP_ACKNOWLEDGED, peer))
        .filter(|(_, p)| *p > 0.0);
    let (Some((text, met)), Some((floor_rate, peer_rate))) = (measured.clone(), bound) else {
        return check(what, target, measured);
    };
    let ratio = floor_rate / peer_rate;
    let text = format!(
        "{text}; {floor} {} = {} {peer}",
        Unit::PerSecond.format(floor_rate),
        format_ratio(ratio)
    );
    TargetCheck {
        stopped_by_floor: !met && ratio < factor,
        ..check(what, target, Some((text, met)))
    }
}

/// `new`'s writes/s in `group` as a fraction of `floor`'s: met within
/// [`WITHIN_FLOOR`] of it (or above it).
fn distance(l: &Lookup, what: &str, group: &str, new: &str, floor: &str) -> TargetCheck {
    let rates = l
        .median(group, OP_ACKNOWLEDGED, new)
        .zip(l.median(group, OP_ACKNOWLEDGED, floor))
        .filter(|(_, f)| *f > 0.0);
    let target = format!(
        "within {:.0}% of the floor (ratio >= {:.2}x)",
        WITHIN_FLOOR * 100.0,
        1.0 - WITHIN_FLOOR
    );
    check(
        what,
        &target,
        rates.map(|(n, f)| {
            let text = format!(
                "{new} {} vs {floor} {} ({}, {:+.0}%)",
                Unit::PerSecond.format(n),
                Unit::PerSecond.format(f),
                format_ratio(n / f),
                (n / f - 1.0) * 100.0
            );
            (text, n >= f * (1.0 - WITHIN_FLOOR))
        }),
    )
}

/// Appends the load groups' targets to `checks`.
pub(super) fn check_load(l: &Lookup, checks: &mut Vec<TargetCheck>) {
    let ahead = "ahead (ratio >= 1.00x)";
    for (what, new, peer) in [
        ("4 processes, durable, vs last", "fs durable", "last"),
        ("4 processes, relaxed, vs last", "fs relaxed", "last"),
        (
            "4 processes, durable, vs SQLite",
            "fs durable",
            "sqlite durable",
        ),
        (
            "4 processes, relaxed, vs SQLite",
            "fs relaxed",
            "sqlite relaxed",
        ),
    ] {
        checks.push(versus_floor(
            l,
            (what, ahead),
            THROUGHPUT,
            (new, peer, 1.0),
            FLOOR_FLOCK,
        ));
    }
    let three = "batch >= 3x per-write writes/s";
    checks.push(versus_floor(
        l,
        (
            "group commit: 8 processes, durable apply, durable queue",
            three,
        ),
        GROUP_COMMIT,
        ("fs batch", "fs per-write", 3.0),
        FLOOR_DURABLE_ENQUEUE,
    ));
    // A relaxed queue makes no flush: what bounds it is the lock timeout
    // each writer waits first.
    checks.push(versus_floor(
        l,
        (
            "group commit: 8 processes, durable apply, relaxed queue",
            three,
        ),
        GROUP_COMMIT,
        ("fs batch relaxed", "fs per-write relaxed", 3.0),
        FLOOR_TIMEOUT_ENQUEUE,
    ));
    // Acknowledged once applied: as durable as the durable queue's
    // acknowledgement, with no flush of the writer's own.
    checks.push(check(
        "group commit: 8 processes, durable apply, grouped (acknowledged when applied)",
        three,
        versus(
            l,
            (GROUP_COMMIT, OP_ACKNOWLEDGED),
            GROUPED,
            "fs per-write",
            3.0,
        ),
    ));
    // pg's queue is the server's: what bounds it is an ordered insert per
    // write there, its producers' lock held across each commit's flush.
    checks.push(versus_floor(
        l,
        (
            "group commit: 8 processes, durable apply, pg durable queue",
            three,
        ),
        GROUP_COMMIT,
        ("pg batch", "pg per-write", 3.0),
        FLOOR_PG_ENQUEUE,
    ));
    for (queue, batch, each) in [
        ("durable", "fs batch", "fs per-write"),
        ("grouped", GROUPED, "fs per-write"),
        ("relaxed", "fs batch relaxed", "fs per-write relaxed"),
        ("pg durable", "pg batch", "pg per-write"),
    ] {
        checks.push(check(
            &format!("group commit: p99 of an acknowledged write, {queue} queue"),
            "batch no worse than per-write",
            versus(l, (GROUP_COMMIT, OP_P99), batch, each, 1.0),
        ));
    }
    checks.push(distance(
        l,
        "group commit, durable queue: distance to the durable-enqueue floor",
        GROUP_COMMIT,
        "fs batch",
        FLOOR_DURABLE_ENQUEUE,
    ));
    checks.push(distance(
        l,
        "group commit, relaxed queue: distance to the timeout + enqueue floor",
        GROUP_COMMIT,
        "fs batch relaxed",
        FLOOR_TIMEOUT_ENQUEUE,
    ));
    checks.push(distance(
        l,
        "group commit, pg durable queue: distance to the pg ordered-enqueue floor",
        GROUP_COMMIT,
        "pg batch",
        FLOOR_PG_ENQUEUE,
    ));
    checks.push(distance(
        l,
        "group commit, per write: distance to the durable-append floor",
        GROUP_COMMIT,
        "fs per-write",
        FLOOR_DURABLE_APPEND,
    ));
    for (what, peer) in [
        ("8 processes, durable apply, vs last", "last"),
        ("8 processes, durable apply, vs SQLite", "sqlite batch"),
    ] {
        checks.push(versus_floor(
            l,
            (what, ahead),
            GROUP_COMMIT,
            ("fs batch", peer, 1.0),
            FLOOR_DURABLE_ENQUEUE,
        ));
    }
    for (what, peer) in [
        ("8 processes, durable apply, grouped, vs last", "last"),
        (
            "8 processes, durable apply, grouped, vs SQLite",
            "sqlite batch",
        ),
    ] {
        checks.push(check(
            what,
            ahead,
            versus(l, (GROUP_COMMIT, OP_ACKNOWLEDGED), GROUPED, peer, 1.0),
        ));
    }
    for (what, peer) in [
        ("8 processes, durable apply, relaxed queue, vs last", "last"),
        (
            "8 processes, durable apply, relaxed queue, vs SQLite",
            "sqlite batch",
        ),
    ] {
        checks.push(check(
            what,
            ahead,
            versus(
                l,
                (GROUP_COMMIT, OP_ACKNOWLEDGED),
                "fs batch relaxed",
                peer,
                1.0,
            ),
        ));
    }
}
