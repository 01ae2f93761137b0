//! The upstream-link and registration-token writers: exact rows, the MAS order of operations,
//! and the conflicts callers explain to users.

use chrono::{TimeZone, Utc};
use masctl::env::Env;
use masctl::ids;
use masctl::store::{self, ConflictKind, NewToken, StoreError, TokenUpdate};
use sqlx::Connection;
use ulid::Ulid;

use crate::common::{dump, TestDb};
use crate::store::{assert_ids_encode_created_at, create, seed_provider};

#[tokio::test]
async fn links_are_inserted_then_attached_and_removed_the_mas_way() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(10);
    let provider = seed_provider(&mut conn).await;
    let users = create(&mut conn, &env, &["alice", "bob"]).await;
    let links = store::link_upstream(
        &mut conn,
        &env,
        &[
            (users[0], provider, "1234".to_owned()),
            (users[1], provider, "5678".to_owned()),
        ],
    )
    .await
    .expect("linking");
    assert_eq!(assert_ids_encode_created_at(&mut conn).await, 4);
    insta::assert_snapshot!("links_created", dump(&mut conn).await);

    // An authorization session that logged in through alice's link must be detached first.
    sqlx::query(
        "INSERT INTO upstream_oauth_authorization_sessions \
           (upstream_oauth_authorization_session_id, upstream_oauth_provider_id, \
            upstream_oauth_link_id, created_at) \
         VALUES ('00000000-0000-0000-0000-000000000a51', $1, $2, '2025-01-01T00:00:00Z')",
    )
    .bind(ids::to_uuid(provider.0))
    .bind(ids::to_uuid(links[0]))
    .execute(&mut conn)
    .await
    .expect("seeding a session");
    let removed = store::unlink_upstream(&mut conn, &env, &[links[0], Ulid::from_parts(1, 1)])
        .await
        .expect("unlinking");
    assert_eq!(removed, 1);
    insta::assert_snapshot!("links_removed", dump(&mut conn).await);
    assert_eq!(
        store::unlink_upstream(&mut conn, &env, &[])
            .await
            .expect("nothing"),
        0
    );
}

#[tokio::test]
async fn a_subject_linked_twice_is_a_conflict_naming_it() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(11);
    let provider = seed_provider(&mut conn).await;
    let users = create(&mut conn, &env, &["alice", "bob"]).await;
    store::link_upstream(&mut conn, &env, &[(users[0], provider, "1234".to_owned())])
        .await
        .expect("linking");
    let before = dump(&mut conn).await;

    let mut tx = conn.begin().await.expect("begin");
    let error = store::link_upstream(
        &mut tx,
        &env,
        &[
            (users[1], provider, "new".to_owned()),
            (users[1], provider, "1234".to_owned()),
            (users[0], provider, "new".to_owned()),
        ],
    )
    .await
    .expect_err("1234 is taken and `new` is given twice");
    tx.rollback().await.expect("rollback");
    let StoreError::Conflict { kind, keys } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*kind, ConflictKind::UpstreamSubject);
    assert_eq!(
        error.constraint(),
        Some("upstream_oauth_links_subject_unique")
    );
    assert_eq!(
        keys,
        &[
            format!("subject \"1234\" at provider {provider}"),
            format!("subject \"new\" at provider {provider}"),
        ]
    );
    assert_eq!(dump(&mut conn).await, before);

    let unknown = masctl::model::ProviderId(Ulid::from_parts(9, 9));
    let error = store::link_upstream(&mut conn, &env, &[(users[1], unknown, "x".to_owned())])
        .await
        .expect_err("unknown provider");
    assert_eq!(
        error.constraint(),
        Some("upstream_oauth_links_provider_fkey")
    );
}

fn token(
    token: &str,
    usage_limit: Option<u32>,
    expires_at: Option<chrono::DateTime<Utc>>,
) -> NewToken {
    NewToken {
        token: token.to_owned(),
        usage_limit,
        expires_at,
    }
}

#[tokio::test]
async fn tokens_are_created_updated_revoked_and_unrevoked() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(12);
    let expiry = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).single();
    let welcome = store::create_token(&mut conn, &env, &token("welcome", None, None))
        .await
        .expect("creating");
    let limited = store::create_tokens(
        &mut conn,
        &env,
        &[
            token("limited", Some(5), expiry),
            token("max", Some(u32::try_from(i32::MAX).expect("fits")), None),
        ],
    )
    .await
    .expect("creating");
    assert_eq!(assert_ids_encode_created_at(&mut conn).await, 3);
    insta::assert_snapshot!("tokens_created", dump(&mut conn).await);

    let update = TokenUpdate {
        id: welcome,
        token: "welcome".into(),
        usage_limit: Some(10),
        expires_at: expiry,
    };
    store::update_token(&mut conn, &update)
        .await
        .expect("updating");
    let update = TokenUpdate {
        id: limited[0],
        token: "limited".into(),
        usage_limit: None,
        expires_at: None,
    };
    store::update_tokens(&mut conn, &[update])
        .await
        .expect("updating");
    assert_eq!(
        store::revoke_token(&mut conn, &env, welcome)
            .await
            .expect("revoking"),
        1
    );
    // Already revoked: the original timestamp stays.
    assert_eq!(
        store::revoke_tokens(&mut conn, &env, &[welcome, limited[1]])
            .await
            .expect("again"),
        1
    );
    assert_eq!(
        store::unrevoke_token(&mut conn, limited[1])
            .await
            .expect("unrevoking"),
        1
    );
    assert_eq!(
        store::unrevoke_tokens(&mut conn, &[limited[1]])
            .await
            .expect("again"),
        0
    );
    insta::assert_snapshot!("tokens_changed", dump(&mut conn).await);
}

#[tokio::test]
async fn token_errors_name_the_token() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(13);
    store::create_token(&mut conn, &env, &token("welcome", None, None))
        .await
        .expect("creating");
    let before = dump(&mut conn).await;

    let mut tx = conn.begin().await.expect("begin");
    let error = store::create_token(&mut tx, &env, &token("welcome", Some(1), None))
        .await
        .expect_err("duplicate");
    tx.rollback().await.expect("rollback");
    assert_eq!(
        error.to_string(),
        "registration token already exists: welcome (constraint `user_registration_tokens_token_key`)"
    );
    assert!(matches!(
        error,
        StoreError::Conflict {
            kind: ConflictKind::RegistrationToken,
            ..
        }
    ));

    // Too large for MAS's integer column: refused before anything is sent.
    let too_large = u32::try_from(i32::MAX).expect("fits") + 1;
    let error = store::create_tokens(
        &mut conn,
        &env,
        &[token("ok", None, None), token("big", Some(too_large), None)],
    )
    .await
    .expect_err("too large");
    assert_eq!(
        error.to_string(),
        "usage limit 2147483648 of registration token `big` is larger than 2147483647"
    );
    let ghost = Ulid::from_parts(1, 1);
    let update = TokenUpdate {
        id: ghost,
        token: "ghost".into(),
        usage_limit: Some(too_large),
        expires_at: None,
    };
    assert!(matches!(
        store::update_token(&mut conn, &update).await,
        Err(StoreError::UsageLimitTooLarge { limit, .. }) if limit == too_large
    ));
    assert_eq!(dump(&mut conn).await, before);

    let update = TokenUpdate {
        id: ghost,
        token: "ghost".into(),
        usage_limit: None,
        expires_at: None,
    };
    let error = store::update_token(&mut conn, &update)
        .await
        .expect_err("unknown id");
    assert_eq!(
        error.to_string(),
        format!("update user_registration_tokens: no user_registration_tokens row with id {ghost}")
    );
    assert!(matches!(
        store::revoke_token(&mut conn, &env, ghost).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store::unrevoke_token(&mut conn, ghost).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(dump(&mut conn).await, before);
}
