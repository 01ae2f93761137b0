//! The writers against a real MAS database: the exact rows (column by column, via `dump`), ids
//! whose time part is `created_at`, and the errors callers explain to users.
//!
//! The clock and RNG are fixed (`Env::test`), so ids and timestamps are stable: the mock clock
//! starts at 2026-01-01T00:00:00Z and moves one millisecond per reading.

use chrono::{DateTime, Utc};
use masctl::env::Env;
use masctl::ids;
use masctl::model::{EmailAddress, ProviderId, Secret, UserId, Username};
use masctl::snapshot::{self, Scope};
use masctl::store::{self, ConflictKind, NewPassword, NewUser, StoreError};
use sqlx::{Connection, PgConnection};
use ulid::Ulid;
use uuid::Uuid;

use crate::common::{dump, TestDb};

/// Every table masctl inserts into, with its id column.
const ID_COLUMNS: [(&str, &str); 8] = [
    ("users", "user_id"),
    ("user_emails", "user_email_id"),
    ("user_passwords", "user_password_id"),
    ("upstream_oauth_links", "upstream_oauth_link_id"),
    ("user_registration_tokens", "user_registration_token_id"),
    ("compat_sessions", "compat_session_id"),
    ("compat_access_tokens", "compat_access_token_id"),
    ("queue_jobs", "queue_job_id"),
];

/// Asserts that every row's id encodes its `created_at` millisecond, as MAS's ids do, and
/// returns how many rows were checked.
pub(crate) async fn assert_ids_encode_created_at(conn: &mut PgConnection) -> usize {
    let mut checked = 0;
    for (table, column) in ID_COLUMNS {
        let rows: Vec<(Uuid, DateTime<Utc>)> =
            sqlx::query_as(&format!("SELECT {column}, created_at FROM {table}"))
                .fetch_all(&mut *conn)
                .await
                .expect("reading ids");
        for (id, created_at) in rows {
            let ulid = ids::from_uuid(id);
            assert_eq!(
                i64::try_from(ulid.timestamp_ms()).expect("fits"),
                created_at.timestamp_millis(),
                "{table}.{column} {ulid} does not encode created_at {created_at}"
            );
            checked += 1;
        }
    }
    checked
}

pub(crate) fn user(name: &str) -> NewUser {
    NewUser {
        username: Username::new(name).expect("valid username"),
        can_request_admin: false,
        locked: false,
        deactivated: false,
    }
}

pub(crate) async fn create(conn: &mut PgConnection, env: &Env, names: &[&str]) -> Vec<UserId> {
    let users: Vec<NewUser> = names.iter().map(|name| user(name)).collect();
    store::create_users(conn, env, &users)
        .await
        .expect("creating users")
}

pub(crate) const PROVIDER: &str = "00000000-0000-0000-0000-0000000000f1";

pub(crate) async fn seed_provider(conn: &mut PgConnection) -> ProviderId {
    sqlx::query(
        "INSERT INTO upstream_oauth_providers \
           (upstream_oauth_provider_id, issuer, scope, client_id, token_endpoint_auth_method, created_at) \
         VALUES ($1::uuid, 'https://idp.example', 'openid', 'masctl', 'none', '2025-01-01T00:00:00Z')",
    )
    .bind(PROVIDER)
    .execute(conn)
    .await
    .expect("seeding a provider");
    ProviderId(ids::from_uuid(PROVIDER.parse().expect("uuid")))
}

#[tokio::test]
async fn create_users_writes_one_row_each_with_final_values() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(1);
    let users = [
        NewUser {
            can_request_admin: true,
            ..user("alice")
        },
        NewUser {
            locked: true,
            ..user("Bob")
        },
        NewUser {
            locked: true,
            deactivated: true,
            ..user("carol")
        },
    ];
    let ids = store::create_users(&mut conn, &env, &users)
        .await
        .expect("creating");
    assert_eq!(ids.len(), 3);
    assert!(
        ids.windows(2).all(|pair| pair[0] < pair[1]),
        "ids ascend in batch order"
    );
    assert_eq!(assert_ids_encode_created_at(&mut conn).await, 3);
    insta::assert_snapshot!(dump(&mut conn).await);
    assert!(store::create_users(&mut conn, &env, &[])
        .await
        .expect("nothing")
        .is_empty());
}

#[tokio::test]
async fn create_users_names_every_taken_username() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(2);
    create(&mut conn, &env, &["alice"]).await;
    let before = dump(&mut conn).await;

    let mut tx = conn.begin().await.expect("begin");
    let error = store::create_users(&mut tx, &env, &[user("bob"), user("alice"), user("bob")])
        .await
        .expect_err("alice exists and bob is given twice");
    tx.rollback().await.expect("rollback");
    let StoreError::Conflict { kind, keys } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*kind, ConflictKind::Username);
    assert_eq!(keys, &["alice", "bob"]);
    assert_eq!(error.constraint(), Some("users_username_unique"));
    assert_eq!(
        error.to_string(),
        "username already taken: alice, bob (constraint `users_username_unique`)"
    );
    assert_eq!(dump(&mut conn).await, before);

    // Uniqueness is case-sensitive in MAS; a case variant is the planner's problem, not an error.
    create(&mut conn, &env, &["ALICE"]).await;
}

#[tokio::test]
async fn user_flags_change_only_where_needed() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(3);
    let ids = create(&mut conn, &env, &["alice", "bob"]).await;
    let (alice, bob) = (ids[0], ids[1]);

    assert_eq!(
        store::lock_users(&mut conn, &env, &[alice, bob, alice])
            .await
            .expect("lock"),
        2
    );
    // Already locked: the original timestamp stays.
    assert_eq!(
        store::lock_users(&mut conn, &env, &[alice])
            .await
            .expect("relock"),
        0
    );
    assert_eq!(
        store::unlock_users(&mut conn, &[bob])
            .await
            .expect("unlock"),
        1
    );
    assert_eq!(
        store::unlock_users(&mut conn, &[bob])
            .await
            .expect("unlock again"),
        0
    );
    assert_eq!(
        store::deactivate_users(&mut conn, &env, &[alice])
            .await
            .expect("deactivate"),
        1
    );
    assert_eq!(
        store::deactivate_users(&mut conn, &env, &[alice])
            .await
            .expect("again"),
        0
    );
    assert_eq!(
        store::deactivate_users(&mut conn, &env, &[bob])
            .await
            .expect("bob"),
        1
    );
    // Reactivation leaves locked_at alone, like MAS's reactivate-user job.
    assert_eq!(
        store::reactivate_users(&mut conn, &[alice])
            .await
            .expect("reactivate"),
        1
    );
    assert_eq!(
        store::reactivate_users(&mut conn, &[alice])
            .await
            .expect("again"),
        0
    );
    // Like promote-admin, the row is written even when the value does not change.
    assert_eq!(
        store::set_admin(&mut conn, &[alice], true)
            .await
            .expect("promote"),
        1
    );
    assert_eq!(
        store::set_admin(&mut conn, &[alice], true)
            .await
            .expect("again"),
        1
    );
    assert_eq!(
        store::set_admin(&mut conn, &[], true)
            .await
            .expect("nobody"),
        0
    );
    insta::assert_snapshot!(dump(&mut conn).await);
}

#[tokio::test]
async fn user_updates_refuse_unknown_users() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(4);
    let ids = create(&mut conn, &env, &["alice"]).await;
    let ghost = UserId(Ulid::from_parts(1, 2));
    let before = dump(&mut conn).await;

    let mut tx = conn.begin().await.expect("begin");
    let error = store::lock_users(&mut tx, &env, &[ids[0], ghost])
        .await
        .expect_err("ghost does not exist");
    tx.rollback().await.expect("rollback");
    assert_eq!(
        error.to_string(),
        format!("lock users: no users row with id {}", ghost.0)
    );
    let StoreError::NotFound { ids: missing, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(missing, &[ghost.0]);
    assert_eq!(dump(&mut conn).await, before);

    for error in [
        store::set_admin(&mut conn, &[ghost], true).await,
        store::unlock_users(&mut conn, &[ghost]).await,
        store::deactivate_users(&mut conn, &env, &[ghost]).await,
        store::reactivate_users(&mut conn, &[ghost]).await,
    ] {
        assert!(
            matches!(error, Err(StoreError::NotFound { table: "users", .. })),
            "{error:?}"
        );
    }
}

#[tokio::test]
async fn emails_are_added_verbatim_and_deleted_with_their_tickets() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(5);
    let ids = create(&mut conn, &env, &["alice", "bob"]).await;
    let email = |s: &str| EmailAddress::new_unchecked(s.to_owned());
    let added = store::add_emails(
        &mut conn,
        &env,
        &[
            (ids[0], email("Alice@Example.org")),
            (ids[1], email("bob@example.org")),
            (ids[0], email("alice@work.example")),
        ],
    )
    .await
    .expect("adding");
    assert_eq!(assert_ids_encode_created_at(&mut conn).await, 5);
    insta::assert_snapshot!("emails_added", dump(&mut conn).await);

    sqlx::query(
        "INSERT INTO user_recovery_tickets \
           (user_recovery_ticket_id, user_email_id, ticket, created_at, expires_at) \
         VALUES (gen_random_uuid(), $1, 'ticket', now(), now())",
    )
    .bind(ids::to_uuid(added[0]))
    .execute(&mut conn)
    .await
    .expect("seeding a recovery ticket");
    let removed = store::remove_emails(&mut conn, &[added[0], added[0], Ulid::from_parts(1, 1)])
        .await
        .expect("removing");
    assert_eq!(removed, 1, "a missing row is not an error");
    insta::assert_snapshot!("emails_removed", dump(&mut conn).await);

    let error = store::add_emails(
        &mut conn,
        &env,
        &[(UserId(Ulid::from_parts(1, 1)), email("x@y"))],
    )
    .await
    .expect_err("unknown user");
    assert_eq!(error.constraint(), Some("user_emails_user_id_fkey"));
    assert_eq!(
        error.to_string(),
        "insert user_emails failed (constraint `user_emails_user_id_fkey`)"
    );
}

#[tokio::test]
async fn passwords_append_a_row_that_becomes_current() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(6);
    let ids = create(&mut conn, &env, &["alice", "bob"]).await;
    let password = |user: UserId, version: u16, hash: &str| NewPassword {
        user_id: user,
        version,
        hash: Secret::new(hash),
    };
    store::add_passwords(
        &mut conn,
        &env,
        &[password(ids[0], 1, "first"), password(ids[1], 1, "bob")],
    )
    .await
    .expect("adding");
    let second = store::add_passwords(&mut conn, &env, &[password(ids[0], 2, "second")])
        .await
        .expect("adding again");
    assert_eq!(assert_ids_encode_created_at(&mut conn).await, 5);
    insta::assert_snapshot!(dump(&mut conn).await);

    let state = snapshot::read(&mut conn, &Scope::all())
        .await
        .expect("reading");
    let current = state.users[0]
        .password
        .as_ref()
        .expect("alice has a password");
    assert_eq!((current.id, current.version), (second[0], 2));
    assert_eq!(current.hashed_password.expose(), "second");

    let error = store::add_passwords(
        &mut conn,
        &env,
        &[password(ids[0], 2, "a"), password(ids[0], 2, "b")],
    )
    .await
    .expect_err("two rows for one user would share created_at");
    assert!(matches!(error, StoreError::DuplicateUser { user, .. } if user == ids[0].0));
    // The hash never reaches an error message.
    let error = store::add_passwords(
        &mut conn,
        &env,
        &[password(UserId(Ulid::from_parts(1, 1)), 1, "s3cret")],
    )
    .await
    .expect_err("unknown user");
    assert!(!format!("{error} {error:?}").contains("s3cret"));
    assert_eq!(error.constraint(), Some("user_passwords_user_id_fkey"));
}
