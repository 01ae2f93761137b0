//! Queue jobs, kill-sessions and compat tokens: exact rows, JSON shapes, the notify trigger and
//! provision-all-users at scale.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use masctl::env::Env;
use masctl::ids;
use masctl::model::{Secret, UserId};
use masctl::store::{self, Job, SessionCounts, JOB_METADATA};
use serde_json::{json, Value};
use sqlx::postgres::PgListener;
use sqlx::{Connection, PgConnection};
use ulid::Ulid;
use uuid::Uuid;

use crate::common::{dump, TestDb};
use crate::store::{assert_ids_encode_created_at, create};

/// Returns [`JOB_METADATA`] parsed (jsonb reorders keys, so rows compare as values).
fn metadata_json() -> Value {
    serde_json::from_str(JOB_METADATA).expect("JSON")
}

#[test]
fn payloads_have_mas_shapes() {
    let user = UserId("01ARZ3NDEKTSV4RRFFQ69G5FAV".parse().expect("ULID"));
    let cases = [
        (
            Job::ProvisionUser {
                user_id: user,
                set_display_name: None,
            },
            "provision-user",
            json!({"user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "set_display_name": null}),
        ),
        (
            Job::ProvisionUser {
                user_id: user,
                set_display_name: Some("Alice".into()),
            },
            "provision-user",
            json!({"user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "set_display_name": "Alice"}),
        ),
        (
            Job::DeactivateUser {
                user_id: user,
                hs_erase: false,
            },
            "deactivate-user",
            json!({"user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV", "hs_erase": false}),
        ),
        (
            Job::ReactivateUser { user_id: user },
            "reactivate-user",
            json!({"user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
        ),
        (
            Job::SyncDevices { user_id: user },
            "sync-devices",
            json!({"user_id": "01ARZ3NDEKTSV4RRFFQ69G5FAV"}),
        ),
    ];
    for (job, queue, payload) in cases {
        assert_eq!(job.queue_name(), queue);
        assert_eq!(job.payload(), payload);
    }
    assert_eq!(
        metadata_json(),
        json!({"trace_id": "00000000000000000000000000000000", "span_id": "0000000000000000", "trace_flags": 0})
    );
}

#[tokio::test]
async fn jobs_are_inserted_like_mas_and_wake_the_workers_at_commit() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let mut listener = PgListener::connect(&db.url()).await.expect("listener");
    listener.listen("queue_available").await.expect("LISTEN");
    let env = Env::test(20);
    let users = create(&mut conn, &env, &["alice"]).await;
    let alice = users[0];

    let mut tx = conn.begin().await.expect("begin");
    let jobs = [
        Job::ProvisionUser {
            user_id: alice,
            set_display_name: Some("Alice Liddell".into()),
        },
        Job::DeactivateUser {
            user_id: alice,
            hs_erase: true,
        },
        Job::ReactivateUser { user_id: alice },
        Job::SyncDevices { user_id: alice },
    ];
    let ids = store::schedule_jobs(&mut tx, &env, &jobs)
        .await
        .expect("scheduling");
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "workers pick jobs in the order given"
    );
    // Nothing is delivered before COMMIT.
    let early = tokio::time::timeout(Duration::from_millis(200), listener.recv()).await;
    assert!(early.is_err(), "notified before commit: {early:?}");
    tx.commit().await.expect("commit");

    let mut woken = BTreeSet::new();
    for _ in 0..jobs.len() {
        let notification = tokio::time::timeout(Duration::from_secs(5), listener.recv())
            .await
            .expect("a notification")
            .expect("receiving");
        woken.insert(notification.payload().to_owned());
    }
    let expected: BTreeSet<String> = jobs
        .iter()
        .map(|job| format!("{{\"queue\" : \"{}\"}}", job.queue_name()))
        .collect();
    assert_eq!(woken, expected);

    let rows: Vec<(String, Value, Value, String, i32)> = sqlx::query_as(
        "SELECT queue_name, payload, metadata, status::text, attempt FROM queue_jobs ORDER BY queue_job_id",
    )
    .fetch_all(&mut conn)
    .await
    .expect("reading jobs");
    for ((name, payload, metadata, status, attempt), job) in rows.into_iter().zip(&jobs) {
        assert_eq!(
            (name.as_str(), &payload),
            (job.queue_name(), &job.payload())
        );
        assert_eq!(metadata, metadata_json());
        assert_eq!((status.as_str(), attempt), ("available", 0));
    }
    assert_eq!(assert_ids_encode_created_at(&mut conn).await, 5);
    insta::assert_snapshot!(dump(&mut conn).await);
}

#[tokio::test]
async fn provision_all_users_schedules_one_job_per_user_in_batches() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let count = 10_500;
    sqlx::query(
        "INSERT INTO users (user_id, username, created_at, locked_at, deactivated_at, is_guest) \
         SELECT md5('u' || n)::uuid, 'user' || n, '2025-01-01T00:00:00Z', \
                CASE WHEN n % 3 = 0 THEN now() END, CASE WHEN n % 5 = 0 THEN now() END, n % 7 = 0 \
         FROM generate_series(1, $1) AS n",
    )
    .bind(count)
    .execute(&mut conn)
    .await
    .expect("seeding users");
    let env = Env::test(21);

    let mut tx = conn.begin().await.expect("begin");
    let scheduled = store::provision_all_users(&mut tx, &env)
        .await
        .expect("provisioning");
    tx.commit().await.expect("commit");
    assert_eq!(scheduled, 10_500);

    let rows: Vec<(Uuid, DateTime<Utc>, String, Value, Value)> = sqlx::query_as(
        "SELECT queue_job_id, created_at, queue_name, payload, metadata FROM queue_jobs",
    )
    .fetch_all(&mut conn)
    .await
    .expect("reading jobs");
    let users: HashSet<Uuid> = sqlx::query_scalar("SELECT user_id FROM users")
        .fetch_all(&mut conn)
        .await
        .expect("reading users")
        .into_iter()
        .collect();
    let mut provisioned = HashSet::new();
    let mut batches = BTreeMap::<DateTime<Utc>, usize>::new();
    let mut version_nibbles = BTreeSet::new();
    for (id, created_at, name, payload, metadata) in &rows {
        let ulid = ids::from_uuid(*id);
        assert_eq!(
            i64::try_from(ulid.timestamp_ms()).expect("fits"),
            created_at.timestamp_millis()
        );
        assert_eq!(name, "provision-user");
        assert_eq!(payload["set_display_name"], Value::Null);
        assert_eq!(payload.as_object().map(serde_json::Map::len), Some(2));
        let user: Ulid = payload["user_id"]
            .as_str()
            .expect("a string")
            .parse()
            .expect("a ULID");
        provisioned.insert(ids::to_uuid(user));
        assert_eq!(metadata, &metadata_json());
        *batches.entry(*created_at).or_default() += 1;
        version_nibbles.insert(id.as_bytes()[6] >> 4);
    }
    assert_eq!(
        provisioned, users,
        "every user, locked, deactivated and guests included"
    );
    assert_eq!(batches.into_values().collect::<Vec<_>>(), [10_000, 500]);
    // No UUID version is stamped on the ids: the nibble is as random as the rest.
    assert!(version_nibbles.len() > 8, "{version_nibbles:?}");
}

#[tokio::test]
async fn pending_display_names_come_from_the_latest_unfinished_job() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(22);
    let users = create(&mut conn, &env, &["alice", "bob", "carol", "dave", "erin"]).await;
    let provision = |user: UserId, name: Option<&str>| Job::ProvisionUser {
        user_id: user,
        set_display_name: name.map(str::to_owned),
    };
    store::schedule_jobs(&mut conn, &env, &[provision(users[0], Some("Alice A"))])
        .await
        .expect("1");
    store::schedule_jobs(
        &mut conn,
        &env,
        &[
            provision(users[0], Some("Alice B")),
            provision(users[1], None),
        ],
    )
    .await
    .expect("2");
    let carol = store::schedule_jobs(&mut conn, &env, &[provision(users[2], Some("Carol"))])
        .await
        .expect("3");
    let dave = store::schedule_jobs(&mut conn, &env, &[provision(users[3], Some("Dave"))])
        .await
        .expect("4");
    store::schedule_jobs(&mut conn, &env, &[provision(users[4], Some("Erin"))])
        .await
        .expect("5");
    sqlx::query("UPDATE queue_jobs SET status = 'completed' WHERE queue_job_id = $1")
        .bind(ids::to_uuid(carol[0]))
        .execute(&mut conn)
        .await
        .expect("completing");
    sqlx::query("UPDATE queue_jobs SET status = 'scheduled' WHERE queue_job_id = $1")
        .bind(ids::to_uuid(dave[0]))
        .execute(&mut conn)
        .await
        .expect("rescheduling");

    let pending = store::pending_display_name_jobs(&mut conn, &users[..4])
        .await
        .expect("reading");
    let expected = BTreeMap::from([
        (users[0], "Alice B".to_owned()),
        (users[3], "Dave".to_owned()),
    ]);
    assert_eq!(pending, expected);
    assert!(store::pending_display_name_jobs(&mut conn, &[])
        .await
        .expect("nothing")
        .is_empty());
}

/// Seeds an OAuth client and, for `user`, sessions of every kind, some of them finished.
async fn seed_sessions(conn: &mut PgConnection, user: UserId, tag: u8) {
    let user = ids::to_uuid(user.0);
    let statements = [
        "INSERT INTO oauth2_clients (oauth2_client_id, grant_type_authorization_code, grant_type_refresh_token) \
         VALUES ('00000000-0000-0000-0000-0000000000c1', true, true) ON CONFLICT DO NOTHING",
        "INSERT INTO user_sessions (user_session_id, user_id, created_at, finished_at) VALUES \
           (md5('us1' || $2)::uuid, $1, '2025-01-01T00:00:00Z', NULL), \
           (md5('us2' || $2)::uuid, $1, '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z')",
        "INSERT INTO compat_sessions (compat_session_id, user_id, device_id, created_at, finished_at) VALUES \
           (md5('cs1' || $2)::uuid, $1, 'DEV1', '2025-01-01T00:00:00Z', NULL), \
           (md5('cs2' || $2)::uuid, $1, 'DEV2', '2025-01-01T00:00:00Z', NULL), \
           (md5('cs3' || $2)::uuid, $1, 'DEV3', '2025-01-01T00:00:00Z', '2025-01-02T00:00:00Z')",
        "INSERT INTO oauth2_sessions (oauth2_session_id, oauth2_client_id, user_id, scope_list, created_at) VALUES \
           (md5('os1' || $2)::uuid, '00000000-0000-0000-0000-0000000000c1', $1, '{openid}', '2025-01-01T00:00:00Z')",
    ];
    for sql in statements {
        let query = sqlx::query(sql);
        let query = if sql.contains("$1") {
            query.bind(user).bind(i32::from(tag))
        } else {
            query
        };
        query.execute(&mut *conn).await.expect("seeding sessions");
    }
}

#[tokio::test]
async fn kill_sessions_finishes_active_sessions_in_mas_order() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(23);
    let users = create(&mut conn, &env, &["alice", "bob"]).await;
    seed_sessions(&mut conn, users[0], 1).await;
    seed_sessions(&mut conn, users[1], 2).await;

    let active = store::count_active_sessions(&mut conn, users[0])
        .await
        .expect("counting");
    assert_eq!(
        active,
        SessionCounts {
            compat: 2,
            oauth2: 1,
            browser: 1
        }
    );
    let finished = store::finish_sessions(&mut conn, &env, users[0])
        .await
        .expect("finishing");
    assert_eq!(finished, active);
    let after = store::count_active_sessions(&mut conn, users[0])
        .await
        .expect("counting");
    assert_eq!(after, SessionCounts::default());
    let bob = store::count_active_sessions(&mut conn, users[1])
        .await
        .expect("counting");
    assert_eq!(
        bob,
        SessionCounts {
            compat: 2,
            oauth2: 1,
            browser: 1
        },
        "bob is untouched"
    );
    // compat at +1 ms, oauth2 at +2 ms, browser at +3 ms: each statement has its own now.
    insta::assert_snapshot!(dump(&mut conn).await);
}

#[tokio::test]
async fn compat_sessions_and_tokens_have_exactly_mas_columns() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(24);
    let users = create(&mut conn, &env, &["alice"]).await;
    let session = store::create_compat_session(&mut conn, &env, users[0], "ABCDEFGHIJ", true)
        .await
        .expect("session");
    let token = Secret::new("mct_test_token_not_a_real_one_000000");
    store::create_compat_access_token(&mut conn, &env, session, &token)
        .await
        .expect("token");
    assert_eq!(assert_ids_encode_created_at(&mut conn).await, 3);
    insta::assert_snapshot!(dump(&mut conn).await);

    let error = store::create_compat_access_token(&mut conn, &env, session, &token)
        .await
        .expect_err("duplicate token");
    assert_eq!(
        error.constraint(),
        Some("compat_access_tokens_access_token_unique")
    );
    assert!(!error.to_string().contains("mct_"), "{error}");
}
