//! `masctl manage` verbs about a user's credentials: set-password (the hash MAS would write,
//! the complexity check) and kill-sessions (which sessions end, which job is scheduled).

use serde_json::json;

use crate::common::{dump, TestDb};
use crate::manage::{
    assert_ids_encode_created_at, assert_jobs_are_mas_shaped, exec, insert_user, jobs, masctl,
    text, MasConfig,
};

#[tokio::test]
async fn set_password_hashes_with_the_highest_scheme() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let alice = insert_user(&mut conn, "alice", 0).await;
    // MAS's default passwords section: argon2id, version 1; a second, bcrypt, scheme as v2.
    let config = MasConfig::with(
        "passwords:\n  schemes:\n    - version: 1\n      algorithm: argon2id\n    - version: 2\n      algorithm: bcrypt\n      cost: 4\n",
        None,
    );
    let run = masctl(&db, &config, &["set-password", "alice", "kitten-piano"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(!run.stderr.contains("kitten-piano") && !run.stdout.contains("kitten-piano"));
    run.assert_stderr_has("+ password: (new, from the command line)");
    assert!(run.stderr.ends_with("      password_policy: initial\n(needed only if the manifest sets this user's password with `password_policy: enforce`)\n"), "{}", run.stderr);
    let (user, hash, version, upgraded): (uuid::Uuid, String, i32, Option<uuid::Uuid>) =
        sqlx::query_as(
            "SELECT user_id, hashed_password, version, upgraded_from_id FROM user_passwords",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(
        (user, version, upgraded),
        (masctl::ids::to_uuid(alice), 2, None)
    );
    assert!(bcrypt::verify("kitten-piano", &hash).unwrap());
    assert_ids_encode_created_at(&mut conn, "user_passwords", "user_password_id").await;

    // Too weak: mas-cli's message, exit 1, nothing written; --ignore-complexity accepts it.
    let before = dump(&mut conn).await;
    let run = masctl(&db, &config, &["set-password", "alice", "password"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_stderr_has("That password is too weak.");
    assert_eq!(dump(&mut conn).await, before);
    let run = masctl(
        &db,
        &config,
        &["set-password", "alice", "password", "--ignore-complexity"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    assert_eq!(
        text(&mut conn, "SELECT count(*)::text FROM user_passwords")
            .await
            .as_deref(),
        Some("2")
    );
    assert!(jobs(&mut conn).await.is_empty(), "no job, as with mas-cli");
}

#[tokio::test]
async fn set_password_with_mas_defaults_writes_argon2id() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "alice", 0).await;
    let run = masctl(
        &db,
        &MasConfig::with("", None),
        &["set-password", "alice", "kitten-piano"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let (hash, version): (String, i32) =
        sqlx::query_as("SELECT hashed_password, version FROM user_passwords")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(version, 1);
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
}

#[tokio::test]
async fn kill_sessions_ends_three_kinds_and_syncs_devices() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let alice = insert_user(&mut conn, "alice", 0).await;
    insert_user(&mut conn, "bob", 1).await;
    exec(
        &mut conn,
        "INSERT INTO oauth2_clients (oauth2_client_id, grant_type_authorization_code, grant_type_refresh_token) \
           VALUES ('01960000-0000-0000-0000-0000000000c1', true, true);
         INSERT INTO user_sessions (user_session_id, user_id, created_at)
           SELECT ('01960000-0000-0000-0001-' || lpad((n * 10 + length(username))::text, 12, '0'))::uuid,
                  user_id, created_at
           FROM users, generate_series(1, 2) AS n;
         INSERT INTO compat_sessions (compat_session_id, user_id, device_id, created_at, finished_at)
           SELECT ('01960000-0000-0000-0002-' || lpad(n::text, 12, '0'))::uuid, user_id, 'DEV' || n, created_at,
                  CASE WHEN n = 3 THEN created_at END
           FROM users, generate_series(1, 3) AS n WHERE username = 'alice';
         INSERT INTO oauth2_sessions (oauth2_session_id, oauth2_client_id, user_id, created_at, scope_list)
           SELECT '01960000-0000-0000-0003-000000000001', '01960000-0000-0000-0000-0000000000c1', user_id, created_at,
                  ARRAY['urn:matrix:client:device:OAUTHDEV']
           FROM users WHERE username = 'alice';
         INSERT INTO personal_sessions (personal_session_id, owner_user_id, actor_user_id, human_name, scope_list, created_at)
           SELECT '01960000-0000-0000-0004-000000000001', user_id, user_id, 'bot', ARRAY['openid'], created_at
           FROM users WHERE username = 'alice';",
    )
    .await;
    let config = MasConfig::new(None);
    let before = dump(&mut conn).await;
    let run = masctl(&db, &config, &["kill-sessions", "alice", "--dry-run"]).await;
    insta::assert_snapshot!(run.snapshot(), @r"
    ~ user alice
          admin: false
          state: active
        end active sessions: 2 compat, 1 OAuth 2.0, 2 browser
        job: sync-devices

    Plan: 0 to create, 1 to change.
    ------- stderr -------
    Dry run: nothing was written.
    [exit status: 0]
    ");
    assert_eq!(dump(&mut conn).await, before);

    let run = masctl(&db, &config, &["kill-sessions", "alice"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    assert!(
        run.stderr
            .ends_with("Ended 2 compat, 1 OAuth 2.0 and 2 browser sessions.\n"),
        "{}",
        run.stderr
    );
    let still_active = text(
        &mut conn,
        "SELECT string_agg(t || ':' || u.username, ',' ORDER BY t, u.username) FROM (
           SELECT 'browser' AS t, user_id FROM user_sessions WHERE finished_at IS NULL
           UNION ALL SELECT 'compat', user_id FROM compat_sessions WHERE finished_at IS NULL
           UNION ALL SELECT 'oauth2', user_id FROM oauth2_sessions WHERE finished_at IS NULL
           UNION ALL SELECT 'personal', owner_user_id FROM personal_sessions WHERE revoked_at IS NULL
         ) s JOIN users u USING (user_id)",
    )
    .await;
    // Bob's sessions and alice's personal session are untouched.
    assert_eq!(
        still_active.as_deref(),
        Some("browser:bob,browser:bob,personal:alice")
    );
    // The session finished before keeps its own time.
    assert_eq!(
        text(
            &mut conn,
            "SELECT count(*)::text FROM compat_sessions WHERE finished_at = created_at"
        )
        .await
        .as_deref(),
        Some("1")
    );
    assert_eq!(
        jobs(&mut conn)
            .await
            .into_iter()
            .map(|(name, payload, _)| (name, payload))
            .collect::<Vec<_>>(),
        [(
            "sync-devices".to_owned(),
            json!({"user_id": alice.to_string()})
        )]
    );
    assert_jobs_are_mas_shaped(&mut conn).await;
}
