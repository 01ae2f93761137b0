//! `plan -o` then `apply --plan`: applied exactly, or refused with exit 5 and nothing written.

use super::support::Workspace;
use crate::common::{dump, TestDb};

const MANIFEST: &str = "
version: 1
users:
  alice:
    admin: true
    emails: [alice@example.org]
    password: { env: ALICE_PASSWORD }
    password_policy: enforce
  bob: { state: locked }
registration_tokens:
  - token: welcome
    usage_limit: 5
";

const PASSWORD: &str = "a long and unguessable passphrase";
const MATRIX_CONFIG: &str =
    "matrix:\n  homeserver: example.org\n  secret: a-shared-secret-from-mas-config\n";

fn password(value: &str) -> [(&str, &str); 1] {
    [("ALICE_PASSWORD", value)]
}

#[tokio::test]
async fn a_saved_plan_is_applied_exactly_once() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", MANIFEST);
    ws.write("config.yaml", MATRIX_CONFIG);
    let plan = ws.masctl(
        &[
            "--config",
            "config.yaml",
            "plan",
            "users.yaml",
            "-o",
            "plan.json",
        ],
        &password(PASSWORD),
    );
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(plan.stderr.contains("Saved plan"), "{plan:?}");

    // The file: private, no secret, keyed with MAS's config secret.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(ws.path("plan.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let file = ws.read("plan.json");
    assert!(!file.contains(PASSWORD), "{file}");
    assert!(!file.contains("a-shared-secret"), "{file}");
    let json: serde_json::Value = serde_json::from_str(&file).unwrap();
    assert_eq!(json["plan_format_version"], 1);
    assert_eq!(json["secrets"]["scheme"]["algorithm"], "hmac-sha256");
    assert_eq!(json["secrets"]["scheme"]["key_sources"][0], "matrix.secret");
    assert_eq!(
        json["secrets"]["passwords"]["alice"]
            .as_str()
            .unwrap()
            .len(),
        64
    );
    assert_eq!(json["schema_version"], 20_260_720_134_722_i64);

    let apply = ws.masctl(
        &[
            "--config",
            "config.yaml",
            "apply",
            "--plan",
            "plan.json",
            "users.yaml",
            "--yes",
        ],
        &password(PASSWORD),
    );
    assert_eq!(apply.code, 0, "{apply:?}");
    assert!(
        apply.stdout.contains("Applied: 3 to create, 0 to change."),
        "{apply:?}"
    );
    let again = ws.masctl(
        &["plan", "users.yaml", "--detailed-exitcode"],
        &password(PASSWORD),
    );
    assert_eq!(again.code, 0, "{again:?}");

    // Replaying the same file is refused, and writes nothing.
    let mut conn = db.connect().await;
    let before = dump(&mut conn).await;
    let replay = ws.masctl(
        &[
            "--config",
            "config.yaml",
            "apply",
            "--plan",
            "plan.json",
            "users.yaml",
            "--yes",
        ],
        &password(PASSWORD),
    );
    assert_eq!(replay.code, 5, "{replay:?}");
    assert!(
        replay.stderr.contains("was already applied at"),
        "{replay:?}"
    );
    assert_eq!(dump(&mut conn).await, before);
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM masctl.applied_plans")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(recorded, 1);
}

#[tokio::test]
async fn an_empty_saved_plan_cannot_be_replayed_either() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", MANIFEST);
    let first = ws.masctl(&["apply", "users.yaml", "--yes"], &password(PASSWORD));
    assert_eq!(first.code, 0, "{first:?}");
    let plan = ws.masctl(
        &["plan", "users.yaml", "-o", "empty.json"],
        &password(PASSWORD),
    );
    assert!(plan.stdout.contains("No changes."), "{plan:?}");
    let apply = ws.masctl(
        &["apply", "--plan", "empty.json", "users.yaml", "--yes"],
        &password(PASSWORD),
    );
    assert_eq!(apply.code, 0, "{apply:?}");
    let replay = ws.masctl(
        &["apply", "--plan", "empty.json", "users.yaml", "--yes"],
        &password(PASSWORD),
    );
    assert_eq!(replay.code, 5, "{replay:?}");
    assert!(replay.stderr.contains("already applied"), "{replay:?}");
}

#[tokio::test]
async fn a_plan_replayed_on_a_restored_database_is_refused() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", "version: 1\nusers:\n  carol: {}\n");
    assert_eq!(ws.masctl(&["apply", "users.yaml", "--yes"], &[]).code, 0);
    ws.write(
        "lock.yaml",
        "version: 1\nusers:\n  carol: { state: locked }\n",
    );
    let plan = ws.masctl(
        &["plan", "lock.yaml", "-o", "lock.json", "--output", "json"],
        &[],
    );
    assert_eq!(plan.code, 0, "{plan:?}");
    let saved: serde_json::Value = serde_json::from_str(&ws.read("lock.json")).unwrap();
    assert_eq!(
        ws.masctl(&["apply", "--plan", "lock.json", "lock.yaml", "--yes"], &[])
            .code,
        0
    );

    // Someone unlocks carol by hand: the rows are exactly those the plan was made from…
    let mut conn = db.connect().await;
    sqlx::query("UPDATE users SET locked_at = NULL WHERE username = 'carol'")
        .execute(&mut conn)
        .await
        .unwrap();
    let fresh = ws.masctl(&["plan", "lock.yaml", "--output", "json"], &[]);
    let fresh: serde_json::Value = serde_json::from_str(&fresh.stdout).unwrap();
    assert_eq!(fresh["basis"], saved["plan"]["basis"]);
    // …so only the record of applied plans stops the replay.
    let replay = ws.masctl(&["apply", "--plan", "lock.json", "lock.yaml", "--yes"], &[]);
    assert_eq!(replay.code, 5, "{replay:?}");
    assert!(replay.stderr.contains("already applied"), "{replay:?}");
    let locked: bool =
        sqlx::query_scalar("SELECT locked_at IS NOT NULL FROM users WHERE username = 'carol'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!locked);
}

#[tokio::test]
async fn anything_that_differs_refuses_with_exit_5_and_writes_nothing() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write(
        "users.yaml",
        "version: 1\nusers:\n  dave: { emails: [dave@example.org] }\n",
    );
    assert_eq!(ws.masctl(&["apply", "users.yaml", "--yes"], &[]).code, 0);
    ws.write("users.yaml", MANIFEST);
    // No key at all: fingerprints fall back to salted Argon2id, with a warning.
    let plan = ws.masctl(
        &["plan", "users.yaml", "-o", "plan.json"],
        &password(PASSWORD),
    );
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(
        plan.stderr
            .contains("as hard to guess as MAS's own password hashes"),
        "{plan:?}"
    );
    let file = ws.read("plan.json");
    assert!(file.contains("\"algorithm\": \"argon2id\""), "{file}");
    assert!(file.contains("$argon2id$v=19$m=19456,t=2,p=1$"), "{file}");
    let mut conn = db.connect().await;
    let before = dump(&mut conn).await;
    let apply = |args: &[&str], secret: &str| {
        let mut all = vec!["apply", "--plan", "plan.json", "--yes"];
        all.extend_from_slice(args);
        ws.masctl(&all, &password(secret))
    };

    // Another manifest.
    ws.write(
        "other.yaml",
        &MANIFEST.replace("usage_limit: 5", "usage_limit: 6"),
    );
    let refused = apply(&["other.yaml"], PASSWORD);
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(
        refused.stderr.contains("the manifest differs"),
        "{refused:?}"
    );
    // Another secret behind the same variable.
    let refused = apply(&["users.yaml"], "another long passphrase entirely");
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(
        refused.stderr.contains("password for user alice"),
        "{refused:?}"
    );
    assert_eq!(dump(&mut conn).await, before);

    // A newer MAS schema.
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (20991231000000, 'from the future', true, '\\x00', 1)",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let refused = apply(&["--allow-newer-schema", "users.yaml"], PASSWORD);
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(refused.stderr.contains("schema changed"), "{refused:?}");
    sqlx::query("DELETE FROM _sqlx_migrations WHERE version = 20991231000000")
        .execute(&mut conn)
        .await
        .unwrap();

    // A row the plan depends on: someone registers bob meanwhile.
    sqlx::query("INSERT INTO users (user_id, username, created_at) VALUES (gen_random_uuid(), 'bob', now())")
        .execute(&mut conn)
        .await
        .unwrap();
    let before = dump(&mut conn).await;
    let refused = apply(&["users.yaml"], PASSWORD);
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("the database changed since the plan was made"),
        "{refused:?}"
    );
    assert_eq!(dump(&mut conn).await, before);
    let ledger: Option<String> =
        sqlx::query_scalar("SELECT to_regclass('masctl.applied_plans')::text")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert_eq!(ledger, None, "a refused apply creates nothing");
}

#[tokio::test]
async fn a_plan_keyed_with_one_key_needs_the_same_key() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", MANIFEST);
    let with_key = |key: &'static str| [("ALICE_PASSWORD", PASSWORD), ("MASCTL_PLAN_KEY", key)];
    let plan = ws.masctl(
        &["plan", "users.yaml", "-o", "plan.json"],
        &with_key("first key"),
    );
    assert_eq!(plan.code, 0, "{plan:?}");
    assert!(ws.read("plan.json").contains("MASCTL_PLAN_KEY"));
    let args = ["apply", "--plan", "plan.json", "users.yaml", "--yes"];
    let refused = ws.masctl(&args, &with_key("second key"));
    assert_eq!(refused.code, 5, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("keyed with secrets apply does not have"),
        "{refused:?}"
    );
    let refused = ws.masctl(&args, &password(PASSWORD));
    assert_eq!(refused.code, 5, "{refused:?}");
    let applied = ws.masctl(&args, &with_key("first key"));
    assert_eq!(applied.code, 0, "{applied:?}");
}

#[tokio::test]
async fn a_saved_plan_file_that_is_not_one_is_an_error() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", "version: 1\nusers:\n  erin: {}\n");
    ws.write("old.json", "{\"plan_format_version\": 99}");
    let run = ws.masctl(&["apply", "--plan", "old.json", "users.yaml", "--yes"], &[]);
    assert_eq!(run.code, 1, "{run:?}");
    assert!(run.stderr.contains("plan_format_version is 99"), "{run:?}");
    let run = ws.masctl(
        &[
            "plan",
            "users.yaml",
            "--target",
            "user:erin",
            "-o",
            "x.json",
        ],
        &[],
    );
    assert_eq!(run.code, 2, "targeted plans cannot be saved: {run:?}");
}
