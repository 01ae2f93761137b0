//! `masctl manage issue-user-registration-token` and `issue-compatibility-token`: the rows MAS
//! would write, the token on stdout, and the homeserver call made before anything is written.

use serde_json::json;

use crate::common::homeserver::{Reply, TestHomeserver};
use crate::common::{dump, TestDb};
use crate::manage::{
    assert_ids_encode_created_at, assert_jobs_are_mas_shaped, insert_user, jobs, masctl, text,
    MasConfig,
};

#[tokio::test]
async fn registration_tokens_are_unlimited_by_default() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let config = MasConfig::new(None);
    let run = masctl(&db, &config, &["issue-user-registration-token"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let token = run.stdout.trim_end().to_owned();
    assert_eq!(run.stdout, format!("{token}\n"));
    assert!(
        token.len() == 12 && token.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{token}"
    );
    let row: (String, Option<i32>, i32, Option<String>, Option<String>, Option<String>) = sqlx::query_as(
        "SELECT token, usage_limit, times_used, last_used_at::text, expires_at::text, revoked_at::text \
         FROM user_registration_tokens",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(row, (token, None, 0, None, None, None));
    assert_ids_encode_created_at(
        &mut conn,
        "user_registration_tokens",
        "user_registration_token_id",
    )
    .await;
}

#[tokio::test]
async fn registration_token_flags_and_errors() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let config = MasConfig::new(None);
    let args = [
        "issue-user-registration-token",
        "--token",
        "Welcome-2026",
        "--usage-limit",
        "5",
        "--expires-in",
        "3600",
    ];
    let run = masctl(&db, &config, &args).await;
    insta::assert_snapshot!(run.snapshot(), @r"
    Welcome-2026
    ------- stderr -------
    + token Welcome-2026
        + usage_limit: 5
        + expires_at: [TIME]
        + state: active

    Plan: 1 to create, 0 to change.
    Applied: 1 to create, 0 to change.
    To keep this after the next `masctl apply`, change the manifest:
      registration_tokens:
      - token: Welcome-2026
        usage_limit: 5
        expires_at: [TIME]
    (needed only with `prune: { registration_tokens: revoke }`; otherwise apply leaves it alone)
    [exit status: 0]
    ");
    let (limit, valid_for): (Option<i32>, f64) = sqlx::query_as(
        "SELECT usage_limit, extract(epoch FROM expires_at - created_at)::float8 FROM user_registration_tokens",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(limit, Some(5));
    assert!((3599.0..=3600.0).contains(&valid_for), "{valid_for}");

    // The same token again: a clear error, nothing written. Tokens are case-sensitive.
    let before = dump(&mut conn).await;
    let run = masctl(
        &db,
        &config,
        &["issue-user-registration-token", "--token", "Welcome-2026"],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_stderr_has("Registration token already exists: Welcome-2026");
    assert_eq!(dump(&mut conn).await, before);
    let run = masctl(
        &db,
        &config,
        &[
            "issue-user-registration-token",
            "--token",
            "welcome-2026",
            "--unlimited",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");

    // Usage errors, as with mas-cli's clap group; a limit MAS cannot store is exit 1, as in mas-cli.
    let run = masctl(
        &db,
        &config,
        &[
            "issue-user-registration-token",
            "--usage-limit",
            "2",
            "--unlimited",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");
    let run = masctl(
        &db,
        &config,
        &[
            "issue-user-registration-token",
            "--usage-limit",
            "3000000000",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_stderr_has("usage limit 3000000000 is larger than 2147483647");
}

/// A homeserver that accepts every device.
async fn accepting_homeserver() -> TestHomeserver {
    TestHomeserver::start(|_| Reply::ok()).await
}

#[tokio::test]
async fn compatibility_token_creates_the_device_first() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let alice = insert_user(&mut conn, "alice", 0).await;
    let homeserver = accepting_homeserver().await;
    let config = MasConfig::new(Some(&homeserver.endpoint()));
    let run = masctl(
        &db,
        &config,
        &["issue-compatibility-token", "ALICE", "MYDEVICE"],
    )
    .await;
    insta::assert_snapshot!(run.snapshot(), @r"
    [COMPAT_TOKEN]
    ------- stderr -------
    ~ user alice
          admin: false
          state: active
        issue a compatibility access token for device MYDEVICE (never expires)

    note: device MYDEVICE is created on the homeserver before anything is written
    Plan: 0 to create, 1 to change.
    Applied: 0 to create, 1 to change.
    Compatibility token issued for device MYDEVICE of alice; it never expires.
    [exit status: 0]
    ");
    let [request] = homeserver.requests().try_into().expect("one request");
    assert_eq!(
        (request.method.as_str(), request.path()),
        ("POST", "/_synapse/mas/upsert_device")
    );
    request.assert_authorized();
    assert_eq!(
        request.json(),
        json!({"localpart": "alice", "device_id": "MYDEVICE"})
    );

    let token = run.stdout.trim_end();
    assert!(
        masctl::tokens::is_valid_compat_access_token(token),
        "{token}"
    );
    let row: serde_json::Value = sqlx::query_scalar(
        "SELECT to_jsonb(r) FROM ( \
           SELECT s.user_id, s.device_id, s.is_synapse_admin, s.user_session_id, s.human_name, \
                  s.finished_at, s.last_active_at, s.user_agent, t.access_token, t.expires_at \
           FROM compat_sessions s JOIN compat_access_tokens t USING (compat_session_id)) r",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        row,
        json!({
            "user_id": masctl::ids::to_uuid(alice).to_string(), "device_id": "MYDEVICE",
            "is_synapse_admin": false, "user_session_id": null, "human_name": null,
            "finished_at": null, "last_active_at": null, "user_agent": null,
            "access_token": token, "expires_at": null,
        })
    );
    assert_ids_encode_created_at(&mut conn, "compat_sessions", "compat_session_id").await;
    assert_ids_encode_created_at(&mut conn, "compat_access_tokens", "compat_access_token_id").await;
    assert!(
        jobs(&mut conn).await.is_empty(),
        "no job when the homeserver accepted the device"
    );
}

#[tokio::test]
async fn compatibility_token_device_flag_generated_ids_and_admin() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "alice", 0).await;
    let homeserver = accepting_homeserver().await;
    let config = MasConfig::new(Some(&homeserver.endpoint()));
    let run = masctl(
        &db,
        &config,
        &[
            "issue-compatibility-token",
            "alice",
            "--device-id",
            "DOCSDEVICE",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    let run = masctl(
        &db,
        &config,
        &[
            "issue-compatibility-token",
            "alice",
            "--yes-i-want-to-grant-synapse-admin-privileges",
        ],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_stderr_has("warning: the session has Synapse admin privileges");
    let sessions: Vec<(String, bool)> = sqlx::query_as(
        "SELECT device_id, is_synapse_admin FROM compat_sessions ORDER BY compat_session_id",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(sessions[0], ("DOCSDEVICE".to_owned(), false));
    assert!(sessions[1].1);
    assert!(
        sessions[1].0.len() == 10 && sessions[1].0.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{sessions:?}"
    );
    let devices: Vec<String> = homeserver
        .requests()
        .iter()
        .map(|r| r.json()["device_id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(devices, [sessions[0].0.clone(), sessions[1].0.clone()]);

    // Both forms at once are a usage error.
    let run = masctl(
        &db,
        &config,
        &[
            "issue-compatibility-token",
            "alice",
            "A",
            "--device-id",
            "B",
        ],
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");
}

#[tokio::test]
async fn compatibility_token_when_the_homeserver_fails_only_syncs_devices() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let alice = insert_user(&mut conn, "alice", 0).await;
    let homeserver = TestHomeserver::start(|_| Reply::matrix_error(500, "M_UNKNOWN", "boom")).await;
    let config = MasConfig::new(Some(&homeserver.endpoint()));
    let run = masctl(
        &db,
        &config,
        &["issue-compatibility-token", "alice", "MYDEVICE"],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    assert_eq!(run.stdout, "");
    run.assert_stderr_has("Could not create the device on the homeserver, aborting.");
    run.assert_stderr_has("job: sync-devices");
    run.assert_stderr_has(
        "homeserver http://127.0.0.1:[PORT]/ answered HTTP 500 (POST _synapse/mas/upsert_device): M_UNKNOWN: boom",
    );
    run.assert_stderr_has("a sync-devices job was scheduled");
    assert_eq!(
        text(&mut conn, "SELECT count(*)::text FROM compat_sessions")
            .await
            .as_deref(),
        Some("0")
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

    // A homeserver that is not there at all: same outcome, the endpoint named.
    drop(homeserver);
    exec_clear_jobs(&mut conn).await;
    let config = MasConfig::new(Some("http://127.0.0.1:9/"));
    let run = masctl(&db, &config, &["issue-compatibility-token", "alice"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_stderr_has(
        "homeserver http://127.0.0.1:9/ is unreachable (POST _synapse/mas/upsert_device)",
    );
    assert_eq!(jobs(&mut conn).await.len(), 1);
}

async fn exec_clear_jobs(conn: &mut sqlx::PgConnection) {
    crate::manage::exec(conn, "DELETE FROM queue_jobs").await;
}

#[tokio::test]
async fn compatibility_token_needs_the_matrix_section() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "alice", 0).await;
    let before = dump(&mut conn).await;
    let run = masctl(
        &db,
        &MasConfig::new(None),
        &["issue-compatibility-token", "alice"],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_stderr_has(
        "`masctl manage issue-compatibility-token` needs the `matrix` section of MAS's config",
    );
    assert_eq!(dump(&mut conn).await, before);
}
