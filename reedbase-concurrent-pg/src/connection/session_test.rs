// SPDX-License-Identifier: Apache-2.0
use super::*;
use crate::testing::TestServer;

const OPEN_BOUND: Duration = Duration::from_secs(10);

fn open(server: &TestServer) -> Session {
    let config: Config = server.url().parse().unwrap();
    Session::open(&config, OPEN_BOUND).unwrap()
}

/// The named statements the server holds for `session`.
fn prepared_on(session: &mut Session) -> usize {
    let row = session
        .query_typed_one("SELECT count(*) FROM pg_prepared_statements", &[])
        .unwrap();
    usize::try_from(row.get::<_, i64>(0)).unwrap()
}

#[test]
fn a_statement_is_prepared_once_per_session_and_their_number_is_bounded() {
    let Some(server) =
        TestServer::find("a_statement_is_prepared_once_per_session_and_their_number_is_bounded")
    else {
        return;
    };
    let mut session = open(&server);
    for n in 0..3_i32 {
        let row = session
            .query_prepared_one("SELECT $1::int4 + 1", &[Type::INT4], &[&n])
            .unwrap();
        assert_eq!(row.get::<_, i32>(0), n + 1);
    }
    assert_eq!(prepared_on(&mut session), 1, "prepared once, kept");
    for n in 0..PREPARED_MAX + 5 {
        let rows = session
            .query_prepared(&format!("SELECT {n}::int4"), &[], &[])
            .unwrap();
        assert_eq!(rows[0].get::<_, i32>(0), i32::try_from(n).unwrap());
    }
    let held = prepared_on(&mut session);
    assert!(held <= PREPARED_MAX, "{held} statements held");
}

/// An insert into the temporary table of [`with_pipelined_table`].
const PIPELINED_INSERT: &str = "INSERT INTO pg_temp.pipelined VALUES ($1) RETURNING x";

/// A session with an empty temporary table `pipelined (x int4)`.
fn with_pipelined_table(server: &TestServer) -> Session {
    let mut session = open(server);
    session
        .batch_execute("CREATE TEMPORARY TABLE pipelined (x int4)")
        .unwrap();
    session
}

#[test]
fn a_statement_pipelined_behind_a_failing_one_changes_nothing() {
    let Some(server) =
        TestServer::find("a_statement_pipelined_behind_a_failing_one_changes_nothing")
    else {
        return;
    };
    let mut session = with_pipelined_table(&server);
    let insert = PIPELINED_INSERT;

    let (first, second) = session
        .pipelined("BEGIN; SELECT 1 / 0", insert, &[Type::INT4], &[&1_i32])
        .unwrap();
    assert_eq!(first.unwrap_err().code(), Some(&SqlState::DIVISION_BY_ZERO));
    assert_eq!(
        second.unwrap_err().code(),
        Some(&SqlState::IN_FAILED_SQL_TRANSACTION)
    );
    session.batch_execute("ROLLBACK").unwrap();

    let (first, second) = session
        .pipelined("BEGIN", insert, &[Type::INT4], &[&2_i32])
        .unwrap();
    first.unwrap();
    assert_eq!(second.unwrap()[0].get::<_, i32>(0), 2);
    session.batch_execute("COMMIT").unwrap();
    let rows = session
        .query_typed("SELECT x FROM pg_temp.pipelined", &[])
        .unwrap();
    let values: Vec<i32> = rows.iter().map(|row| row.get(0)).collect();
    assert_eq!(values, [2], "only the write behind a good start is there");
}

#[test]
fn a_pipelined_commit_is_sent_only_when_the_rows_allow_it() {
    let Some(server) = TestServer::find("a_pipelined_commit_is_sent_only_when_the_rows_allow_it")
    else {
        return;
    };
    let mut session = with_pipelined_table(&server);
    let insert = PIPELINED_INSERT;
    let above_one = |rows: &[Row]| rows.first().is_some_and(|row| row.get::<_, i32>(0) > 1);
    let values = |session: &mut Session| -> Vec<i32> {
        let rows = session
            .query_typed("SELECT x FROM pg_temp.pipelined ORDER BY x", &[])
            .unwrap();
        rows.iter().map(|row| row.get(0)).collect()
    };

    let run = |session: &mut Session, start: &str, x: i32| {
        session
            .pipelined_commit(
                start.to_string(),
                insert,
                &[Type::INT4],
                vec![Box::new(x)],
                above_one,
            )
            .unwrap()
    };

    // Accepted: committed in the same go; a later rollback undoes nothing.
    let ((begun, rows), committed) = run(&mut session, "BEGIN", 2);
    begun.unwrap();
    assert_eq!(rows.unwrap()[0].get::<_, i32>(0), 2);
    committed.expect("COMMIT sent").unwrap();

    // Refused: no commit; the transaction is still open.
    let ((begun, rows), committed) = run(&mut session, "BEGIN", 1);
    begun.unwrap();
    assert_eq!(rows.unwrap()[0].get::<_, i32>(0), 1);
    assert!(committed.is_none(), "no COMMIT for rows refused");
    assert_eq!(values(&mut session), [1, 2], "inside the open transaction");
    session.batch_execute("ROLLBACK").unwrap();

    // A failed start: no commit, nothing written.
    let ((begun, rows), committed) = run(&mut session, "BEGIN; SELECT 1 / 0", 3);
    assert_eq!(begun.unwrap_err().code(), Some(&SqlState::DIVISION_BY_ZERO));
    assert!(rows.is_err());
    assert!(committed.is_none(), "no COMMIT behind a failed start");
    session.batch_execute("ROLLBACK").unwrap();

    assert_eq!(values(&mut session), [2], "only the accepted write stays");
}

#[test]
fn a_statement_the_server_forgot_is_prepared_again() {
    let Some(server) = TestServer::find("a_statement_the_server_forgot_is_prepared_again") else {
        return;
    };
    let mut session = open(&server);
    let sql = "SELECT $1::int4 * 2";
    let row = session
        .query_prepared_one(sql, &[Type::INT4], &[&21_i32])
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 42);
    // As a proxy that pools transactions, or a DBA, would.
    session.batch_execute("DEALLOCATE ALL").unwrap();
    let error = session
        .query_prepared_one(sql, &[Type::INT4], &[&21_i32])
        .unwrap_err();
    assert_eq!(error.code(), Some(&SqlState::INVALID_SQL_STATEMENT_NAME));
    let row = session
        .query_prepared_one(sql, &[Type::INT4], &[&22_i32])
        .unwrap();
    assert_eq!(row.get::<_, i32>(0), 44, "prepared again");
    assert_eq!(prepared_on(&mut session), 1);
}
