//! `masctl export` on a rich database: the output validates and `plan` on it is empty.

use super::support::{stable, Workspace};
use crate::common::TestDb;

const PROVIDER: &str = "01J9Z5X2F3K4M5N6P7Q8R9S0T1";

const SEED: &str = r#"
version: 1
users:
  alice:
    admin: true
    emails: [alice@example.org, Alice.Second@Example.org]
    password: { hash: "$2b$04$abcdefghijklmnopqrstuu6ZyGBvJcU1t6s6N.r3M/Zcr1hNqHfGq", version: 1 }
    upstream:
      - { provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: "1001" }
  bob: { state: locked, emails: [bob@example.org] }
  carol: { state: deactivated }
  dave: { state: locked }
  Erin: { emails: [erin@example.org] }
registration_tokens:
  - { token: welcome, usage_limit: 50, expires_at: "2027-01-01T00:00:00.123456Z" }
  - { token: unlimited }
  - { token: old, state: revoked }
  - { token: expired, expires_at: "2020-01-01T00:00:00Z" }
"#;

/// Fills the database through masctl, then adds what only MAS (or time) produces.
async fn rich_database(db: &TestDb, ws: &Workspace) {
    let mut conn = db.connect().await;
    sqlx::query(
        "INSERT INTO upstream_oauth_providers
           (upstream_oauth_provider_id, issuer, scope, client_id, token_endpoint_auth_method, created_at)
         VALUES ($1, 'https://sso.example.org/', 'openid', 'masctl', 'client_secret_basic', '2026-01-01T00:00:00Z')",
    )
    .bind(masctl::ids::to_uuid(PROVIDER.parse().unwrap()))
    .execute(&mut conn)
    .await
    .unwrap();
    ws.write("seed.yaml", SEED);
    let seeded = ws.masctl(&["apply", "seed.yaml", "--yes"], &[]);
    assert_eq!(seeded.code, 0, "{seeded:?}");
    sqlx::raw_sql(
        "UPDATE users SET deactivated_at = now() WHERE username = 'dave';
         -- MAS's deactivate-user job has not run yet: carol still has an address.
         INSERT INTO user_emails (user_email_id, user_id, email, created_at)
           SELECT gen_random_uuid(), user_id, 'carol@example.org', now() FROM users WHERE username = 'carol';
         UPDATE user_registration_tokens SET times_used = 3, last_used_at = now() WHERE token = 'welcome';
         -- What a manifest cannot express: a reserved name, a case twin, an address mas-cli's
         -- add-email accepted without checking.
         INSERT INTO users (user_id, username, created_at) VALUES
           (gen_random_uuid(), '_bridge_bot', now()),
           (gen_random_uuid(), 'frank', now()),
           (gen_random_uuid(), 'grace', now()),
           (gen_random_uuid(), 'GRACE', now());
         INSERT INTO user_emails (user_email_id, user_id, email, created_at)
           SELECT gen_random_uuid(), user_id, 'not an address', now() FROM users WHERE username = 'frank';",
    )
    .execute(&mut conn)
    .await
    .unwrap();
}

#[tokio::test]
async fn export_then_plan_is_empty() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    rich_database(&db, &ws).await;

    let export = ws.masctl(&["export", "-o", "exported.yaml"], &[]);
    assert_eq!(export.code, 0, "{export:?}");
    insta::assert_snapshot!("export_stderr", stable(&export.stderr));
    let yaml = ws.read("exported.yaml");
    assert!(!yaml.contains("$2b$"), "no hash unless asked");
    insta::assert_snapshot!("exported_manifest", stable(&yaml));
    assert_eq!(ws.masctl(&["validate", "exported.yaml"], &[]).code, 0);
    let plan = ws.masctl(&["plan", "exported.yaml", "--detailed-exitcode"], &[]);
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(plan.stdout.contains("No changes."), "{plan:?}");

    // With hashes, the passwords are managed too, and still nothing changes.
    let hashes = ws.masctl(&["export", "--include-password-hashes"], &[]);
    assert_eq!(hashes.code, 0, "{hashes:?}");
    assert!(hashes
        .stdout
        .contains("hash: $2b$04$abcdefghijklmnopqrstuu6ZyGBvJcU1t6s6N.r3M/Zcr1hNqHfGq"));
    ws.write("hashes.yaml", &hashes.stdout);
    let plan = ws.masctl(&["plan", "hashes.yaml", "--detailed-exitcode"], &[]);
    assert_eq!(plan.code, 0, "{plan:?}");

    // Selected users only: no tokens key (tokens are left alone), and the rest are unlisted.
    let some = ws.masctl(&["export", "--user", "alice", "--user", "erin"], &[]);
    assert_eq!(some.code, 0, "{some:?}");
    assert!(!some.stdout.contains("registration_tokens"), "{some:?}");
    assert!(some.stdout.contains("  Erin:\n"), "{some:?}");
    ws.write("some.yaml", &some.stdout);
    let plan = ws.masctl(&["plan", "some.yaml", "--detailed-exitcode"], &[]);
    assert_eq!(plan.code, 0, "{plan:?}");
    let missing = ws.masctl(&["export", "--user", "nobody"], &[]);
    assert_eq!(missing.code, 1, "{missing:?}");
}
