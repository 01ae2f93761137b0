//! The MAS fixture and the [`TestDb`] harness: isolation, the queue trigger, and the constraint
//! and index names MAS's error messages mention.

use std::collections::BTreeSet;
use std::time::Duration;

use sqlx::postgres::PgListener;

use crate::common::{dump, TestDb};

#[tokio::test]
async fn parallel_databases_are_isolated() {
    let (a, b) = tokio::join!(TestDb::new(), TestDb::new());
    assert_ne!(a.name(), b.name());
    let mut conn_a = a.connect().await;
    let mut conn_b = b.connect().await;
    sqlx::query(
        "INSERT INTO users (user_id, username, created_at) \
         VALUES ('01563e3a-b5d3-d676-4c61-efb99302bd5b', 'alice', '2026-01-01T00:00:00Z')",
    )
    .execute(&mut conn_a)
    .await
    .expect("inserting into a");
    let count_b: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut conn_b)
        .await
        .expect("counting in b");
    assert_eq!(count_b, 0);
    assert_eq!(dump(&mut conn_b).await, "{}\n");
}

#[tokio::test]
async fn dump_shows_every_column_as_text() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "INSERT INTO users (user_id, username, created_at) VALUES \
           ('01563e3a-b5d3-d676-4c61-efb99302bd5b', 'bob', '2026-01-01T00:00:00.123456Z'), \
           ('01563e3a-b5d3-d676-4c61-efb99302bd5a', 'alice', '2026-01-01T00:00:00Z'); \
         INSERT INTO user_emails (user_email_id, user_id, email, created_at) VALUES \
           ('01563e3a-b5d3-d676-4c61-efb99302bd5c', '01563e3a-b5d3-d676-4c61-efb99302bd5a', \
            'Alice@Example.org', '2026-01-01T00:00:01Z');",
    )
    .execute(&mut conn)
    .await
    .expect("inserting rows");
    insta::assert_snapshot!(dump(&mut conn).await, @r"
    user_emails:
    - user_email_id: 01563e3a-b5d3-d676-4c61-efb99302bd5c
      user_id: 01563e3a-b5d3-d676-4c61-efb99302bd5a
      email: Alice@Example.org
      created_at: 2026-01-01 00:00:01+00
    users:
    - user_id: 01563e3a-b5d3-d676-4c61-efb99302bd5a
      username: alice
      created_at: 2026-01-01 00:00:00+00
      locked_at: null
      can_request_admin: 'false'
      is_guest: 'false'
      deactivated_at: null
    - user_id: 01563e3a-b5d3-d676-4c61-efb99302bd5b
      username: bob
      created_at: 2026-01-01 00:00:00.123456+00
      locked_at: null
      can_request_admin: 'false'
      is_guest: 'false'
      deactivated_at: null
    ");
}

#[tokio::test]
async fn available_jobs_notify_the_workers() {
    let db = TestDb::new().await;
    let mut listener = PgListener::connect_with(&db.pool().await)
        .await
        .expect("listening");
    listener.listen("queue_available").await.expect("LISTEN");
    let mut conn = db.connect().await;
    // A scheduled job must not wake anyone; the available one inserted after it must.
    sqlx::raw_sql(
        "INSERT INTO queue_jobs (queue_job_id, queue_name, created_at, status, scheduled_at) \
           VALUES ('01563e3a-b5d3-d676-4c61-efb99302bd51', 'sync-devices', now(), 'scheduled', now()); \
         INSERT INTO queue_jobs (queue_job_id, queue_name, payload, created_at) \
           VALUES ('01563e3a-b5d3-d676-4c61-efb99302bd52', 'provision-user', \
                   '{\"user_id\": \"01ARZ3NDEKTSV4RRFFQ69G5FAV\", \"set_display_name\": null}', now());",
    )
    .execute(&mut conn)
    .await
    .expect("inserting jobs");
    let first = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification within 10 s")
        .expect("receiving");
    assert_eq!(first.channel(), "queue_available");
    assert_eq!(first.payload(), r#"{"queue" : "provision-user"}"#);

    // A status change to `available` (a scheduled retry becoming due) notifies too.
    sqlx::query("UPDATE queue_jobs SET status = 'available' WHERE queue_name = 'sync-devices'")
        .execute(&mut conn)
        .await
        .expect("updating the job");
    let second = tokio::time::timeout(Duration::from_secs(10), listener.recv())
        .await
        .expect("a notification within 10 s")
        .expect("receiving");
    assert_eq!(second.payload(), r#"{"queue" : "sync-devices"}"#);

    // The defaults MAS relies on when it inserts only id, name, payload, metadata and created_at.
    let (status, attempt, metadata): (String, i32, serde_json::Value) = sqlx::query_as(
        "SELECT status::text, attempt, metadata FROM queue_jobs WHERE queue_name = 'provision-user'",
    )
    .fetch_one(&mut conn)
    .await
    .expect("reading the job");
    assert_eq!(
        (status.as_str(), attempt, metadata),
        ("available", 0, serde_json::json!({}))
    );
}

#[tokio::test]
async fn constraint_and_index_names_match_mas() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let constraints: BTreeSet<String> = sqlx::query_scalar(
        "SELECT conname::text FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace \
         WHERE n.nspname = 'public'",
    )
    .fetch_all(&mut conn)
    .await
    .expect("listing constraints")
    .into_iter()
    .collect();
    for name in [
        "users_username_unique",
        "user_emails_user_id_fkey",
        "user_registration_tokens_token_key",
        "compat_access_tokens_access_token_unique",
        "personal_sessions_exactly_one_owner",
        "upstream_oauth_links_subject_unique",
        "upstream_oauth_link_user_fkey",
    ] {
        assert!(constraints.contains(name), "missing constraint {name}");
    }
    let indexes: BTreeSet<String> =
        sqlx::query_scalar("SELECT indexname::text FROM pg_indexes WHERE schemaname = 'public'")
            .fetch_all(&mut conn)
            .await
            .expect("listing indexes")
            .into_iter()
            .collect();
    for name in [
        "users_lower_username_idx",
        "users_username_trgm_idx",
        "user_emails_user_fk",
        "user_emails_email_idx",
        "user_emails_lower_email_idx",
        "user_passwords_user_fk",
        "compat_sessions_active_user_idx",
        "idx_upstream_oauth_links_orphaned",
        "upstream_oauth_links_human_account_name_trgm_idx",
        "idx_queue_jobs_status_queue_job_id",
    ] {
        assert!(indexes.contains(name), "missing index {name}");
    }
    let enum_values: Vec<String> =
        sqlx::query_scalar("SELECT unnest(enum_range(NULL::queue_job_status))::text")
            .fetch_all(&mut conn)
            .await
            .expect("reading the enum");
    assert_eq!(
        enum_values,
        [
            "available",
            "running",
            "completed",
            "lost",
            "failed",
            "scheduled"
        ]
    );
}

#[tokio::test]
async fn foreign_keys_behave_like_mas() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    sqlx::raw_sql(
        "INSERT INTO users (user_id, username, created_at) \
           VALUES ('00000000-0000-0000-0000-000000000001', 'alice', now()); \
         INSERT INTO user_emails (user_email_id, user_id, email, created_at) \
           VALUES ('00000000-0000-0000-0000-000000000002', '00000000-0000-0000-0000-000000000001', 'a@b.c', now()); \
         INSERT INTO user_passwords (user_password_id, user_id, hashed_password, version, created_at) \
           VALUES ('00000000-0000-0000-0000-000000000003', '00000000-0000-0000-0000-000000000001', 'x', 1, now());",
    )
    .execute(&mut conn)
    .await
    .expect("inserting a user");
    // The username is unique case-sensitively only.
    let duplicate = sqlx::query(
        "INSERT INTO users (user_id, username, created_at) \
         VALUES ('00000000-0000-0000-0000-000000000004', 'alice', now())",
    )
    .execute(&mut conn)
    .await
    .expect_err("duplicate username");
    assert_eq!(
        duplicate.as_database_error().and_then(|e| e.constraint()),
        Some("users_username_unique")
    );
    sqlx::query(
        "INSERT INTO users (user_id, username, created_at) \
         VALUES ('00000000-0000-0000-0000-000000000004', 'Alice', now())",
    )
    .execute(&mut conn)
    .await
    .expect("a name differing in case is accepted by the database");
    // A password row blocks deleting its user (MAS never deletes users).
    let blocked = sqlx::query("DELETE FROM users WHERE username = 'alice'")
        .execute(&mut conn)
        .await
        .expect_err("delete blocked");
    assert_eq!(
        blocked.as_database_error().and_then(|e| e.constraint()),
        Some("user_passwords_user_id_fkey")
    );
}
