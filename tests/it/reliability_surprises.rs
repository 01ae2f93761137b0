//! Databases that are not what masctl expects, through the real binary: a schema too old, too
//! new, dirty or missing tables, not MAS at all; a user renamed or deleted between plan and
//! apply; an email address another user already holds; a provider disabled since the manifest
//! was written. Each must give a clear message and write nothing (full dump compared).

use masctl::db::guard::OLDEST_SUPPORTED_VERSION;
use sqlx::{Executor, PgConnection};

use crate::common::activity::{hold_lock, release_lock, Observer};
use crate::common::process::{tally, Output};
use crate::common::workload::{self, Workspace, PROVIDER};
use crate::common::{dump, TestDb};

/// The state every case starts from (applied first).
const BASE: &str = "version: 1
users:
  alice:
    emails: [alice@example.org]
    upstream: [{ provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: \"a1\" }]
  bob:
    emails: [bob@example.org]
registration_tokens:
  - token: welcome
";

/// A manifest that changes both users and adds one: what the surprised apply tries to do.
const CHANGED: &str = "version: 1
users:
  alice:
    admin: true
    emails: [alice@example.org]
    upstream: [{ provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: \"a1\" }]
  bob:
    state: locked
    emails: [bob@example.org]
  carol:
    emails: [carol@example.org]
registration_tokens:
  - token: welcome
    usage_limit: 3
";

/// A database holding [`BASE`], and a workspace with both manifests.
async fn base() -> (Workspace, TestDb) {
    let workspace = Workspace::new();
    let db = TestDb::new().await;
    workload::insert_provider(&mut db.connect().await).await;
    workspace.write("base.yaml", BASE);
    workspace.write("changed.yaml", CHANGED);
    let output = workspace
        .masctl(&db, &["apply", "--yes", "base.yaml"])
        .run()
        .await;
    assert_eq!(output.code, Some(0), "{}", output.both());
    assert_eq!(PROVIDER, "01J9Z5X2F3K4M5N6P7Q8R9S0T1");
    (workspace, db)
}

/// Alters the database with `sql`, runs `masctl ARGS…`, and checks the exit code, that
/// stderr says `message`, and that nothing was written. Returns the run's output.
async fn refused(
    workspace: &Workspace,
    db: &TestDb,
    sql: &str,
    args: &[&str],
    code: i32,
    message: &str,
) -> Output {
    let mut conn = db.connect().await;
    if !sql.is_empty() {
        conn.execute(sql).await.unwrap();
    }
    let before = dump(&mut conn).await;
    let output = workspace.masctl(db, args).run().await;
    assert_eq!(output.code, Some(code), "{}", output.both());
    assert!(
        output.flat_stderr().contains(message),
        "expected {message:?}:\n{}",
        output.both()
    );
    assert!(!output.stderr.contains("panicked"), "{}", output.both());
    assert_eq!(dump(&mut conn).await, before, "something was written");
    output
}

#[tokio::test]
async fn schemas_masctl_does_not_know_are_refused_before_anything_is_read() {
    let apply = ["apply", "--yes", "changed.yaml"];
    let cases = [
        (
            format!("DELETE FROM _sqlx_migrations WHERE version = {OLDEST_SUPPORTED_VERSION}"),
            format!("schema too old: MAS migration {OLDEST_SUPPORTED_VERSION} has not been applied; run `mas-cli database migrate`"),
        ),
        (
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (20270101000000, 'from the future', true, '\\x00', 1)"
                .to_owned(),
            "schema is newer than supported (MAS > v1.22.0): the latest applied migration is 20270101000000".to_owned(),
        ),
        (
            "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
             VALUES (20260801000000, 'half done', false, '\\x00', -1)"
                .to_owned(),
            "the MAS schema is dirty: migration 20260801000000 is recorded as failed".to_owned(),
        ),
        (
            "DROP TABLE queue_jobs CASCADE".to_owned(),
            "the MAS schema is incomplete: table queue_jobs missing although _sqlx_migrations lists every migration".to_owned(),
        ),
        (
            "DROP TABLE user_passwords, upstream_oauth_links CASCADE".to_owned(),
            "tables user_passwords, upstream_oauth_links missing".to_owned(),
        ),
    ];
    for (sql, message) in &cases {
        let (workspace, db) = base().await;
        refused(&workspace, &db, sql, &apply, 1, message).await;
    }
    // Newer is accepted when asked for.
    let (workspace, db) = base().await;
    let output = refused(
        &workspace,
        &db,
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (20270101000000, 'from the future', true, '\\x00', 1)",
        &["plan", "changed.yaml", "--allow-newer-schema"],
        0,
        "",
    )
    .await;
    assert!(
        output.stdout.contains("Plan: 1 to create"),
        "{}",
        output.both()
    );

    let workspace = Workspace::new();
    workspace.write("changed.yaml", CHANGED);
    let empty = TestDb::empty().await;
    refused(
        &workspace,
        &empty,
        "",
        &apply,
        1,
        "not a MAS database (no _sqlx_migrations table)",
    )
    .await;
    tally(&format!(
        "database surprises: {} schema refusals (too old, too new, dirty, missing tables, not MAS), nothing written",
        cases.len() + 1
    ));
}

/// Starts `masctl apply changed.yaml` while the test holds masctl's lock, so that it plans and
/// then waits; runs `sql` behind its back, releases the lock and returns what masctl printed.
async fn change_between_plan_and_apply(workspace: &Workspace, db: &TestDb, sql: &str) -> Output {
    let holder = hold_lock(db).await;
    let mut observer = Observer::new(db).await;
    let running = workspace
        .masctl(db, &["apply", "--yes", "changed.yaml"])
        .spawn();
    let name = running.application_name("apply");
    while !observer
        .backend(&name)
        .await
        .is_some_and(|backend| backend.waits_for_lock())
    {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    observer.conn().execute(sql).await.unwrap();
    let before = dump(observer.conn()).await;
    release_lock(holder).await;
    let output = running.wait(std::time::Duration::from_secs(60)).await;
    assert_eq!(dump(observer.conn()).await, before, "something was written");
    output
}

#[tokio::test]
async fn a_user_renamed_or_deleted_between_plan_and_apply_stops_the_apply() {
    let mut refusals = 0;
    for sql in [
        "UPDATE users SET username = 'alicia' WHERE username = 'alice'",
        "DELETE FROM users WHERE username = 'bob'",
        "UPDATE users SET deactivated_at = now() WHERE username = 'bob'",
        "INSERT INTO users (user_id, username, created_at) VALUES (gen_random_uuid(), 'carol', now())",
    ] {
        let (workspace, db) = base().await;
        let output = change_between_plan_and_apply(&workspace, &db, sql).await;
        assert_eq!(output.code, Some(5), "{sql}: {}", output.both());
        let message = output.flat_stderr();
        assert!(
            message.contains(
                "the database changed since the plan was made (rows the plan depends on differ); \
                 nothing was written: run plan again"
            ) || message.contains(
                "the database changed since the plan was made and the manifest no longer fits \
                 it; nothing was written"
            ),
            "{sql}: {}",
            output.both()
        );
        if sql.contains("alicia") {
            // The fresh plan fails: the problems it found are shown, not just counted.
            assert!(
                message.contains("is already linked to user alicia")
                    && message.contains("already belongs to user `alicia` in the database"),
                "{}",
                output.both()
            );
        }
        refusals += 1;
    }
    tally(&format!(
        "database surprises: {refusals} changes behind masctl's back between plan and apply \
         (rename, delete, deactivate, same name created) refused with exit 5, nothing written"
    ));
}

/// Gives `bob` a second address, `address`, behind masctl's back.
fn give_bob(address: &str) -> String {
    format!(
        "INSERT INTO user_emails (user_email_id, user_id, email, created_at) \
         SELECT gen_random_uuid(), user_id, '{address}', now() FROM users WHERE username = 'bob'"
    )
}

#[tokio::test]
async fn addresses_other_users_hold_and_disabled_providers_are_refused() {
    // The manifest gives carol an address bob holds (and keeps: bob's list is not managed here).
    let (workspace, db) = base().await;
    workspace.write(
        "carol.yaml",
        "version: 1\nusers:\n  carol:\n    emails: [Carol@Example.org]\n",
    );
    refused(
        &workspace,
        &db,
        &give_bob("carol@example.org"),
        &["apply", "--yes", "carol.yaml"],
        1,
        "the email address `Carol@Example.org` of user `carol` already belongs to user `bob` in the database",
    )
    .await;

    // Moving an address between two managed users is fine: it is released first.
    workspace.write(
        "move.yaml",
        "version: 1\nusers:\n  alice:\n    emails: [alice@example.org, carol@example.org]\n  bob:\n    emails: [bob@example.org]\n",
    );
    let output = workspace
        .masctl(&db, &["apply", "--yes", "move.yaml"])
        .run()
        .await;
    assert_eq!(output.code, Some(0), "{}", output.both());
    assert_eq!(emails_of(&mut db.connect().await, "alice").await, 2);

    // An address already duplicated in the database is pointed out, and nothing is written.
    let (workspace, db) = base().await;
    let duplicate = "INSERT INTO users (user_id, username, created_at) VALUES (gen_random_uuid(), 'mallory', now()); \
         INSERT INTO user_emails (user_email_id, user_id, email, created_at) \
         SELECT gen_random_uuid(), user_id, 'ALICE@example.org', now() FROM users WHERE username = 'mallory'";
    let output = refused(&workspace, &db, duplicate, &["plan", "base.yaml"], 0, "").await;
    assert!(
        output.stdout.contains(
            "the email address `alice@example.org` is held by several users in the database (alice, mallory)"
        ),
        "{}",
        output.both()
    );

    // A provider disabled since the manifest was written.
    let (workspace, db) = base().await;
    workspace.write(
        "link.yaml",
        "version: 1\nusers:\n  bob:\n    upstream: [{ provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: \"b1\" }]\n",
    );
    refused(
        &workspace,
        &db,
        "UPDATE upstream_oauth_providers SET disabled_at = now()",
        &["apply", "--yes", "link.yaml"],
        1,
        "upstream provider 01J9Z5X2F3K4M5N6P7Q8R9S0T1 (https://sso.example.org/) is disabled",
    )
    .await;
    tally(
        "database surprises: an address held by another user and a disabled provider refused, \
         a duplicated address noted, nothing written",
    );
}

async fn emails_of(conn: &mut PgConnection, username: &str) -> i64 {
    sqlx::query_scalar(
        "SELECT count(*) FROM user_emails e JOIN users u USING (user_id) WHERE u.username = $1",
    )
    .bind(username)
    .fetch_one(conn)
    .await
    .unwrap()
}
