//! `masctl manage register-user`: the rows and job MAS writes, the homeserver's availability
//! check, and every refusal (existing user, unavailable or empty username, weak password,
//! unknown or disabled provider, bad ULID, no terminal without --yes).

use serde_json::json;

use crate::common::homeserver::{Reply, Request, TestHomeserver};
use crate::common::{dump, TestDb};
use crate::manage::{
    assert_ids_encode_created_at, assert_jobs_are_mas_shaped, exec, insert_user, jobs, masctl,
    text, MasConfig,
};

const PROVIDER: &str = "01J9Z5X2F3K4M5N6P7Q8R9S0T1";
const DISABLED: &str = "01J9Z5X2F3K4M5N6P7Q8R9S0T2";

/// Inserts an enabled and a disabled upstream provider, as `mas-cli config sync` would.
async fn with_providers(conn: &mut sqlx::PgConnection) {
    for (id, disabled) in [(PROVIDER, "NULL"), (DISABLED, "'2026-01-01T00:00:00Z'")] {
        let uuid = masctl::ids::to_uuid(id.parse().expect("a valid ULID"));
        exec(
            conn,
            &format!(
                "INSERT INTO upstream_oauth_providers \
                   (upstream_oauth_provider_id, issuer, human_name, scope, client_id, token_endpoint_auth_method, created_at, disabled_at) \
                 VALUES ('{uuid}', 'https://sso.example.org/', 'Example SSO', 'openid', 'masctl', 'client_secret_basic', \
                         '2026-01-01T00:00:00Z', {disabled})"
            ),
        )
        .await;
    }
}

/// A homeserver on which every localpart but `taken` is available.
async fn homeserver() -> TestHomeserver {
    TestHomeserver::start(|request: &Request| match request.query() {
        Some("localpart=taken") => Reply::matrix_error(400, "M_USER_IN_USE", "taken"),
        _ => Reply::ok(),
    })
    .await
}

#[tokio::test]
async fn register_user_writes_every_row_and_provisions() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    with_providers(&mut conn).await;
    let homeserver = homeserver().await;
    let config = MasConfig::new(Some(&homeserver.endpoint()));
    let args = [
        "register-user",
        "@Alice:example.com",
        "-p",
        "kitten-piano",
        "-e",
        "alice@example.org",
        "--email",
        "ALICE@example.org",
        "-e",
        "a@example.net",
        "-m",
        &format!("{PROVIDER}:sub:with:colons"),
        "--admin",
        "-d",
        "Alice Liddell",
        "--yes",
    ];
    let run = masctl(&db, &config, &args).await;
    insta::assert_snapshot!(run.snapshot(), @r#"
    ------- stderr -------
    + user Alice
        + admin: true
        + state: active
        + emails:
        + - alice@example.org
        + - a@example.net
        + password: (new, from the command line)
        + display_name: Alice Liddell
        + upstream:
        + - [ULID]:sub:with:colons
        job: provision-user (set display name "Alice Liddell")

    Plan: 1 to create, 0 to change.
    Applied: 1 to create, 0 to change.
    Registered @Alice:example.com.
    To keep this after the next `masctl apply`, change the manifest:
      users:
        Alice:
          admin: true
          emails:
          - alice@example.org
          - a@example.net
          display_name: Alice Liddell
          upstream:
          - provider: [ULID]
            subject: sub:with:colons
    (needed only with `prune: { users: lock | deactivate }`; the password stays out of the manifest)
    [exit status: 0]
    "#);
    let [request] = homeserver.requests().try_into().expect("one request");
    assert_eq!(
        (request.method.as_str(), request.target.as_str()),
        (
            "GET",
            "/_synapse/mas/is_localpart_available?localpart=Alice"
        )
    );
    request.assert_authorized();

    let (user, username, admin, locked): (uuid::Uuid, String, bool, Option<String>) =
        sqlx::query_as("SELECT user_id, username, can_request_admin, locked_at::text FROM users")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!((username.as_str(), admin, locked), ("Alice", true, None));
    let hash = text(
        &mut conn,
        "SELECT hashed_password FROM user_passwords WHERE version = 1 AND upgraded_from_id IS NULL",
    )
    .await
    .unwrap();
    assert!(bcrypt::verify("kitten-piano", &hash).unwrap());
    let emails: Vec<String> =
        sqlx::query_scalar("SELECT email FROM user_emails ORDER BY user_email_id")
            .fetch_all(&mut conn)
            .await
            .unwrap();
    assert_eq!(emails, ["alice@example.org", "a@example.net"]);
    let link: (uuid::Uuid, Option<uuid::Uuid>, String, Option<String>) = sqlx::query_as(
        "SELECT upstream_oauth_provider_id, user_id, subject, human_account_name FROM upstream_oauth_links",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        link,
        (
            masctl::ids::to_uuid(PROVIDER.parse().unwrap()),
            Some(user),
            "sub:with:colons".to_owned(),
            None
        )
    );
    for (table, id) in [
        ("users", "user_id"),
        ("user_passwords", "user_password_id"),
        ("user_emails", "user_email_id"),
        ("upstream_oauth_links", "upstream_oauth_link_id"),
    ] {
        assert_ids_encode_created_at(&mut conn, table, id).await;
    }
    assert_eq!(
        jobs(&mut conn)
            .await
            .into_iter()
            .map(|(name, payload, _)| (name, payload))
            .collect::<Vec<_>>(),
        [(
            "provision-user".to_owned(),
            json!({"user_id": masctl::ids::from_uuid(user).to_string(), "set_display_name": "Alice Liddell"})
        )]
    );
    assert_jobs_are_mas_shaped(&mut conn).await;
}

#[tokio::test]
async fn register_user_refusals_write_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    with_providers(&mut conn).await;
    insert_user(&mut conn, "bob", 0).await;
    let homeserver = homeserver().await;
    let config = MasConfig::new(Some(&homeserver.endpoint()));
    let before = dump(&mut conn).await;
    let cases: [(&[&str], i32, &str); 10] = [
        (&["BOB", "--yes"], 1, "User already exists: bob"),
        (
            &["taken", "--yes"],
            1,
            "Username not available on homeserver: taken",
        ),
        (&["@", "--yes"], 1, "Username cannot be empty"),
        (&["@:example.com", "--yes"], 1, "Username cannot be empty"),
        // The password is scored before the username is looked at, as in mas-cli.
        (
            &["bob", "-p", "password", "--yes"],
            1,
            "That password is too weak.",
        ),
        (
            &["carol", "-m", "01J9Z5X2F3K4M5N6P7Q8R9S0T9:x", "--yes"],
            1,
            "Unknown upstream OAuth provider 01J9Z5X2F3K4M5N6P7Q8R9S0T9",
        ),
        (
            &["carol", "-m", &format!("{DISABLED}:x"), "--yes"],
            1,
            "Upstream OAuth provider Example SSO (01J9Z5X2F3K4M5N6P7Q8R9S0T2) is disabled",
        ),
        (
            &["carol", "-m", "not-a-ulid:x", "--yes"],
            2,
            "`not-a-ulid` is not a ULID",
        ),
        (
            &["carol", "-e", "carol@", "--yes"],
            2,
            "not a valid email address: the domain after `@` is empty",
        ),
        // Without --yes and without a terminal: show the plan, then refuse.
        (
            &["carol", "-p", "kitten-piano"],
            1,
            "refusing to register without --yes: stdin is not a terminal",
        ),
    ];
    for (args, code, message) in cases {
        let mut full = vec!["register-user"];
        full.extend_from_slice(args);
        let run = masctl(&db, &config, &full).await;
        assert_eq!(run.code, code, "{args:?}: {run:?}");
        run.assert_stderr_has(message);
        assert_eq!(run.stdout, "", "{args:?}");
    }
    let run = masctl(&db, &config, &["register-user", "--yes"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_stderr_has("no username given");
    assert_eq!(dump(&mut conn).await, before);
    // Only the two names that passed the earlier checks reached the homeserver.
    let asked: Vec<String> = homeserver
        .requests()
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert!(
        asked
            .iter()
            .all(|target| target.starts_with("/_synapse/mas/is_localpart_available?localpart=")),
        "{asked:?}"
    );
    assert!(
        asked.contains(&"/_synapse/mas/is_localpart_available?localpart=taken".to_owned()),
        "{asked:?}"
    );
}

#[tokio::test]
async fn register_user_takes_the_docs_username_flag_and_needs_the_matrix_section() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let homeserver = homeserver().await;
    let run = masctl(
        &db,
        &MasConfig::new(Some(&homeserver.endpoint())),
        &["register-user", "--username", "dave", "-y"],
    )
    .await;
    assert_eq!(run.code, 0, "{run:?}");
    run.assert_stderr_has("note: no email address");
    run.assert_stderr_has("note: neither a password nor an upstream link");
    assert_eq!(
        text(&mut conn, "SELECT username FROM users")
            .await
            .as_deref(),
        Some("dave")
    );
    assert_eq!(
        text(&mut conn, "SELECT count(*)::text FROM user_passwords")
            .await
            .as_deref(),
        Some("0")
    );

    let run = masctl(&db, &MasConfig::new(None), &["register-user", "erin", "-y"]).await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_stderr_has("needs the `matrix` section");
    let run = masctl(
        &db,
        &MasConfig::new(None),
        &["register-user", "erin", "--username", "erin"],
    )
    .await;
    assert_eq!(run.code, 2, "{run:?}");
}

#[tokio::test]
async fn register_user_with_a_subject_linked_elsewhere_rolls_back() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    with_providers(&mut conn).await;
    let bob = insert_user(&mut conn, "bob", 0).await;
    exec(
        &mut conn,
        &format!(
            "INSERT INTO upstream_oauth_links (upstream_oauth_link_id, upstream_oauth_provider_id, user_id, subject, created_at) \
             VALUES ('01960000-0000-0000-0005-000000000001', '{}', '{}', '1234', '2026-01-01T00:00:00Z')",
            masctl::ids::to_uuid(PROVIDER.parse().unwrap()),
            masctl::ids::to_uuid(bob)
        ),
    )
    .await;
    let before = dump(&mut conn).await;
    let homeserver = homeserver().await;
    let config = MasConfig::new(Some(&homeserver.endpoint()));
    let run = masctl(
        &db,
        &config,
        &[
            "register-user",
            "carol",
            "-m",
            &format!("{PROVIDER}:1234"),
            "--yes",
        ],
    )
    .await;
    assert_eq!(run.code, 1, "{run:?}");
    run.assert_stderr_has(&format!(
        "upstream subject already linked to a user: subject \"1234\" at provider {PROVIDER} (constraint `upstream_oauth_links_subject_unique`)"
    ));
    assert_eq!(dump(&mut conn).await, before);
}
