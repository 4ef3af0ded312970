// SPDX-License-Identifier: Apache-2.0

use super::*;
use crate::report::HolderReport;

#[test]
fn columns_line_up_and_the_last_is_not_padded() {
    let rows = vec![
        vec!["orders".to_string(), "free".to_string(), "0".to_string()],
        vec![
            "u".to_string(),
            "held by someone".to_string(),
            "12".to_string(),
        ],
    ];
    let text = columns(&["TABLE", "LOCK", "N"], &rows);
    assert_eq!(
        text,
        "TABLE   LOCK             N\norders  free             0\nu       held by someone  12\n"
    );
}

#[test]
fn ages_read_as_people_count() {
    assert_eq!(age(4.9), "4s");
    assert_eq!(age(64.0), "1m 04s");
    assert_eq!(age(7_380.0), "2h 03m");
    assert_eq!(age(273_600.0), "3d 04h");
    assert_eq!(age(-3.0), "0s");
}

fn moved(dead: bool, attempts: Option<u32>) -> MovedReport {
    MovedReport {
        table: "t".into(),
        id: "id".into(),
        dead_letter: dead,
        attempts,
        reason: "r".into(),
        location: "l".into(),
    }
}

#[test]
fn a_status_line_names_holder_depth_age_and_moved_entries() {
    let lock = LockReport {
        table: "orders".into(),
        held: true,
        holder: Some(HolderReport {
            pid: Some(7),
            host: Some("db-1".into()),
            since_unix: None,
            alive: Some(true),
            text: "pid 7 on db-1, alive".into(),
        }),
    };
    let status_line = TableStatus {
        table: "orders".into(),
        lock,
        pending: 3,
        unreadable: 1,
        failing: 0,
        oldest_age_secs: Some(64.0),
        moved_aside: vec![moved(true, Some(3)), moved(false, None)],
    };
    let text = status("base directory /data", &[status_line]);
    let line = text.lines().nth(1).unwrap();
    assert!(
        line.starts_with("orders  held by pid 7 on db-1, alive  3 (1 unreadable)  1m 04s"),
        "{line}"
    );
    assert!(
        line.ends_with("2 (1 dead letter after 3 attempts, 1 unreadable)"),
        "{line}"
    );
    assert_eq!(
        status("base directory /data", &[]),
        "no tables in base directory /data\n"
    );
}
