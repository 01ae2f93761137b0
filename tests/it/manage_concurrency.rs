//! `masctl manage` and the apply lock: a manage command waits for a running apply (and gives
//! up with exit 6), and a change committed while it waited makes its plan stale (exit 5).

use std::io::{BufRead as _, BufReader};
use std::process::Stdio;

use crate::common::{dump, TestDb};
use crate::manage::{command, exec, insert_user, masctl, text, MasConfig};

#[tokio::test]
async fn manage_waits_for_the_apply_lock_and_gives_up_with_exit_6() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "alice", 0).await;
    let before = dump(&mut conn).await;
    let mut holder = db.connect().await;
    exec(&mut holder, "BEGIN").await;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(masctl::apply::lock::LOCK_KEY)
        .execute(&mut holder)
        .await
        .expect("taking the lock");
    let run = masctl(
        &db,
        &MasConfig::new(None),
        &["lock-user", "alice", "--lock-timeout", "1"],
    )
    .await;
    assert_eq!(run.code, 6, "{run:?}");
    run.assert_stderr_has("waiting for the masctl lock held by");
    run.assert_stderr_has("gave up after 1s");
    exec(&mut holder, "ROLLBACK").await;
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn a_change_made_while_waiting_for_the_lock_makes_the_plan_stale() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "alice", 0).await;
    let mut holder = db.connect().await;
    exec(&mut holder, "BEGIN").await;
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(masctl::apply::lock::LOCK_KEY)
        .execute(&mut holder)
        .await
        .expect("taking the lock");
    let config = MasConfig::new(None);
    let mut child = command(&db, &config, &["promote-admin", "alice"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("starting masctl");
    let mut stderr = BufReader::new(child.stderr.take().expect("piped stderr"));
    // Once it waits for the lock it has planned from its first read.
    let mut seen = String::new();
    while !seen.contains("waiting for the masctl lock") {
        let mut line = String::new();
        assert_ne!(
            stderr.read_line(&mut line).expect("reading stderr"),
            0,
            "{seen}"
        );
        seen.push_str(&line);
    }
    // Someone else promotes alice meanwhile, then releases the lock.
    exec(&mut conn, "UPDATE users SET can_request_admin = true").await;
    exec(&mut holder, "COMMIT").await;
    let status = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("joining")
        .expect("waiting");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stderr, &mut rest).expect("reading stderr");
    assert_eq!(status.code(), Some(5), "{seen}{rest}");
    assert!(
        rest.contains("the database changed since the plan was made"),
        "{rest}"
    );
    assert_eq!(
        text(&mut conn, "SELECT count(*)::text FROM queue_jobs")
            .await
            .as_deref(),
        Some("0")
    );
}
