//! Concurrent masctl runs on one database, through the real binary: parallel applies of
//! different manifests serialise through the advisory lock, a waiter names the holder, and
//! `--lock-timeout` gives up with exit 6 having written nothing.
//!
//! A trigger that sleeps after each `INSERT INTO users` statement stretches every apply
//! transaction to half a second, so that the runs really overlap on this fast a machine.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::time::{Duration, Instant};

use sqlx::{Executor, PgConnection};

use crate::common::activity::Observer;
use crate::common::process::{tally, Output};
use crate::common::workload::{self, append_users, Workspace};
use crate::common::{dump, TestDb};

/// Parallel runs.
const RUNS: usize = 6;
/// Users each run's manifest creates of its own.
pub(crate) const USERS_PER_RUN: usize = 150;

/// Makes every statement inserting users sleep for `seconds` (inside the apply transaction).
pub(crate) async fn stretch_transactions(conn: &mut PgConnection, seconds: f64) {
    conn.execute(
        format!(
            "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$;
             CREATE TRIGGER hold AFTER INSERT ON users
               FOR EACH STATEMENT EXECUTE FUNCTION hold();"
        )
        .as_str(),
    )
    .await
    .unwrap();
}

/// Returns run `run`'s manifest: users of its own, plus a user and a token every run shares.
pub(crate) fn manifest(run: usize) -> String {
    let mut yaml =
        String::from("version: 1\nusers:\n  shared:\n    emails: [shared@example.org]\n");
    append_users(&mut yaml, &format!("run{run}x"), USERS_PER_RUN);
    yaml.push_str("registration_tokens:\n");
    let _ = writeln!(yaml, "  - {{ token: run-{run} }}\n  - {{ token: shared }}");
    yaml
}

/// Asserts that no username, email address (case-insensitively, per user or across users) or
/// provision job appears twice, and returns the number of users. Users in `reprovisioned`
/// (locked by a manage command after their creation) have exactly two provision jobs.
pub(crate) async fn assert_no_duplicates(conn: &mut PgConnection, reprovisioned: &[&str]) -> i64 {
    let (users, names): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT lower(username)) FROM users")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(users, names, "duplicate usernames");
    let (emails, addresses): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT lower(email)) FROM user_emails")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(emails, addresses, "duplicate email addresses");
    let (tokens, distinct_tokens): (i64, i64) =
        sqlx::query_as("SELECT count(*), count(DISTINCT token) FROM user_registration_tokens")
            .fetch_one(&mut *conn)
            .await
            .unwrap();
    assert_eq!(tokens, distinct_tokens, "duplicate tokens");
    let counts: Vec<(String, i64)> = sqlx::query_as(
        "SELECT payload->>'user_id', count(*) FROM queue_jobs WHERE queue_name = 'provision-user' \
         GROUP BY 1",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let names: std::collections::HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT user_id::text, username FROM users")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
    for (ulid, count) in counts {
        let uuid = masctl::ids::to_uuid(ulid.parse().unwrap()).to_string();
        let name = names.get(&uuid).map_or("<unknown>", String::as_str);
        let expected = if reprovisioned.contains(&name) { 2 } else { 1 };
        assert_eq!(count, expected, "provision jobs for {name}");
    }
    // Every user was created by one run, with exactly one provision job.
    let provisioned: HashSet<String> = provisioned_users(conn).await;
    let ids: HashSet<String> = sqlx::query_scalar("SELECT user_id::text FROM users")
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .into_iter()
        .collect();
    assert_eq!(provisioned, ids, "users and provision jobs differ");
    users
}

#[tokio::test]
async fn parallel_applies_of_different_manifests_serialise() {
    let workspace = Workspace::new();
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    workload::insert_provider(&mut conn).await;
    stretch_transactions(&mut conn, 0.5).await;
    let files: Vec<String> = (0..RUNS)
        .map(|run| {
            let file = workspace.write(&format!("run{run}.yaml"), &manifest(run));
            file.to_str().unwrap().to_owned()
        })
        .collect();
    let started = Instant::now();
    let (mut rounds, mut waited, mut stale) = (0, 0, 0);
    let mut pending: Vec<usize> = (0..RUNS).collect();
    while !pending.is_empty() {
        rounds += 1;
        assert!(rounds <= RUNS + 1, "runs never converged: {pending:?} left");
        let running: Vec<_> = pending
            .iter()
            .map(|&run| {
                let process = workspace
                    .masctl(
                        &db,
                        &["apply", "--yes", "--lock-timeout", "120", &files[run]],
                    )
                    .spawn();
                (run, process)
            })
            .collect();
        let pids: Vec<String> = running.iter().map(|(_, p)| p.pid().to_string()).collect();
        let mut again = Vec::new();
        for (run, process) in running {
            let output = process.wait(Duration::from_secs(180)).await;
            waited += usize::from(names_another_run(&output, &pids));
            match output.code {
                Some(0) => {}
                // Planned before another run created `shared`: refused, nothing written.
                Some(5) => {
                    stale += 1;
                    again.push(run);
                }
                _ => panic!("run {run}: {}", output.both()),
            }
        }
        pending = again;
    }
    let users = assert_no_duplicates(&mut conn, &[]).await;
    assert_eq!(users, i64::try_from(RUNS * USERS_PER_RUN + 1).unwrap());
    for file in &files {
        let plan = workspace
            .masctl(&db, &["plan", "--detailed-exitcode", file])
            .run()
            .await;
        assert_eq!(plan.code, Some(0), "{file} not converged: {}", plan.both());
    }
    tally(&format!(
        "parallel applies: {RUNS} manifests in {rounds} rounds, {waited} waits naming the holder, \
         {stale} stale plans refused (exit 5), duplicate users/emails/tokens/jobs: 0, {:.0?}",
        started.elapsed()
    ));
    assert!(
        waited > 0,
        "no run ever waited for the lock: nothing was tested"
    );
}

/// Returns the users (as uuid text) that provision jobs name; job payloads hold ULIDs.
async fn provisioned_users(conn: &mut PgConnection) -> HashSet<String> {
    let ulids: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'user_id' FROM queue_jobs WHERE queue_name = 'provision-user'",
    )
    .fetch_all(conn)
    .await
    .unwrap();
    ulids
        .iter()
        .map(|ulid| masctl::ids::to_uuid(ulid.parse().unwrap()).to_string())
        .collect()
}

/// Returns whether a run waited for the lock and named one of the other runs as the holder.
fn names_another_run(output: &Output, pids: &[String]) -> bool {
    let message = output.flat_stderr();
    message.contains("waiting for the masctl lock held by `masctl apply (pid")
        && pids
            .iter()
            .any(|pid| message.contains(&format!("`masctl apply (pid {pid})`")))
}

#[tokio::test]
async fn a_waiter_names_the_holder_and_honours_the_lock_timeout() {
    let workspace = Workspace::new();
    let db = TestDb::new().await;
    let mut observer = Observer::new(&db).await;
    workload::insert_provider(observer.conn()).await;
    stretch_transactions(observer.conn(), 6.0).await;
    let first = workspace.write("first.yaml", &manifest(0));
    let second = workspace.write("second.yaml", &manifest(1).replace("shared", "other"));
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());

    let mut holder = workspace.masctl(&db, &["apply", "--yes", first]).spawn();
    let holder_name = holder.application_name("apply");
    while !observer
        .backend(&holder_name)
        .await
        .is_some_and(|b| b.holds_lock)
    {
        assert!(!holder.has_exited(), "the first apply ended early");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let before = dump(observer.conn()).await;

    // Gives up after one second with exit 6, naming the holder, writing nothing.
    let started = Instant::now();
    let timed_out = workspace
        .masctl(&db, &["apply", "--yes", "--lock-timeout", "1", second])
        .run()
        .await;
    let waited = started.elapsed();
    assert_eq!(timed_out.code, Some(6), "{}", timed_out.both());
    let message = timed_out.flat_stderr();
    assert!(
        message.contains(&format!(
            "waiting for the masctl lock held by `{holder_name}`"
        )) && message.contains(&format!(
            "another masctl run holds the lock on this database: `{holder_name}`"
        )) && message.contains("gave up after 1s"),
        "{}",
        timed_out.both()
    );
    assert!(waited < Duration::from_secs(5), "waited {waited:?}");
    assert_eq!(dump(observer.conn()).await, before, "the waiter wrote");

    // With time enough, the same apply waits for the holder and then goes through.
    let patient = workspace
        .masctl(&db, &["apply", "--yes", "--lock-timeout", "60", second])
        .spawn();
    let first_output = holder.wait(Duration::from_secs(60)).await;
    assert_eq!(first_output.code, Some(0), "{}", first_output.both());
    let patient = patient.wait(Duration::from_secs(60)).await;
    assert_eq!(patient.code, Some(0), "{}", patient.both());
    assert!(
        patient.flat_stderr().contains(&format!(
            "waiting for the masctl lock held by `{holder_name}`"
        )),
        "{}",
        patient.both()
    );
    assert_no_duplicates(observer.conn(), &[]).await;
    tally(&format!(
        "lock timeout: exit 6 after {waited:.1?} with --lock-timeout 1, holder named, nothing written"
    ));
}

/// masctl runs that start together must not mistake each other for a MAS migration (the
/// schema guard once probed MAS's migration lock by taking it for an instant).
#[tokio::test]
async fn simultaneous_schema_checks_never_see_a_migration() {
    let db = TestDb::new().await;
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let mut conn = db.connect().await;
        tasks.push(tokio::spawn(async move {
            let mut refusals = 0;
            for _ in 0..20 {
                if masctl::db::check_schema(&mut conn, false).await.is_err() {
                    refusals += 1;
                }
            }
            refusals
        }));
    }
    let mut refusals = 0;
    for task in tasks {
        refusals += task.await.unwrap();
    }
    assert_eq!(refusals, 0, "schema checks refused while no migration ran");
}
