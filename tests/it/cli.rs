//! The `masctl` binary end to end against a real database: exit codes, confirmation, guards,
//! the lock, JSON output and targeting.

use std::path::Path;
use std::process::{Command, Output};

use sqlx::Connection;

use crate::common::{dump, TestDb};

/// Runs masctl in `dir` (so no stray `config.yaml` or `.env` is picked up) against `db`.
fn masctl(dir: &Path, db: &TestDb, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_masctl"))
        .current_dir(dir)
        .args(args)
        .arg("--database-url")
        .arg(db.url())
        .env_remove("DATABASE_URL")
        .env_remove("MAS_CONFIG")
        .env("NO_COLOR", "1")
        .env("COLUMNS", "100")
        .output()
        .unwrap()
}

fn text(output: &Output) -> (String, String, i32) {
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
        output.status.code().unwrap_or(-1),
    )
}

/// Joins a wrapped diagnostic back into one line of words.
fn flat(text: &str) -> String {
    text.split(|c: char| c.is_whitespace() || c == '│')
        .filter(|word| !word.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

fn manifest(dir: &Path, yaml: &str) -> String {
    let path = dir.join("users.yaml");
    std::fs::write(&path, yaml).unwrap();
    "users.yaml".to_owned()
}

const TWO_USERS: &str = "version: 1\nusers:\n  alice:\n    admin: true\n    emails: [alice@example.org]\n  bob:\n    state: locked\nregistration_tokens:\n  - token: welcome\n    usage_limit: 3\n";

#[tokio::test]
async fn plan_apply_plan() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = manifest(dir.path(), TWO_USERS);

    let (stdout, stderr, code) = text(&masctl(dir.path(), &db, &["plan", &file]));
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("cli_first_plan", stdout);
    let (_, _, code) = text(&masctl(
        dir.path(),
        &db,
        &["plan", &file, "--detailed-exitcode"],
    ));
    assert_eq!(code, 3);

    // Not a terminal and no --yes: refused, nothing written.
    let mut conn = db.connect().await;
    let before = dump(&mut conn).await;
    let (_, stderr, code) = text(&masctl(dir.path(), &db, &["apply", &file]));
    assert_eq!(code, 1);
    assert!(
        stderr.contains("refusing to apply without --yes"),
        "{stderr}"
    );
    assert_eq!(dump(&mut conn).await, before);

    let (stdout, stderr, code) = text(&masctl(dir.path(), &db, &["apply", &file, "--yes"]));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.ends_with("Applied: 3 to create, 0 to change.\n"),
        "{stdout}"
    );

    let (stdout, _, code) = text(&masctl(
        dir.path(),
        &db,
        &["plan", &file, "--detailed-exitcode"],
    ));
    assert_eq!(code, 0);
    assert_eq!(stdout, "No changes. The database matches the manifest.\n");

    // A diff of changed objects shows what goes and what comes.
    let edited = TWO_USERS
        .replace(
            "emails: [alice@example.org]",
            "emails: [alice@example.org, a.liddell@example.org]",
        )
        .replace("    state: locked\n", "    state: deactivated\n")
        .replace("usage_limit: 3", "usage_limit: 10");
    let file = manifest(dir.path(), &edited);
    let (stdout, _, code) = text(&masctl(dir.path(), &db, &["plan", &file]));
    assert_eq!(code, 0);
    insta::assert_snapshot!("cli_changed_plan", stdout);

    // JSON output is versioned and lists typed changes.
    let changed = TWO_USERS.replace("admin: true", "admin: false");
    let file = manifest(dir.path(), &changed);
    let (stdout, _, code) = text(&masctl(
        dir.path(),
        &db,
        &["plan", &file, "--output", "json"],
    ));
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(json["format_version"], 1);
    assert_eq!(json["changes"][0]["type"], "set_admin");
    assert_eq!(json["changes"][0]["user"]["username"], "alice");
    assert_eq!(json["summary"]["change"], 1);
}

#[tokio::test]
async fn targets_narrow_the_plan() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = manifest(dir.path(), TWO_USERS);
    let (stdout, stderr, code) = text(&masctl(
        dir.path(),
        &db,
        &["plan", &file, "--target", "user:BOB"],
    ));
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains("+ user bob") && !stdout.contains("alice") && !stdout.contains("welcome"),
        "{stdout}"
    );
    let (_, stderr, code) = text(&masctl(
        dir.path(),
        &db,
        &["plan", &file, "--target", "user:zed"],
    ));
    assert_eq!(code, 1);
    assert!(stderr.contains("the manifest has no such user"), "{stderr}");
    let (_, _, code) = text(&masctl(
        dir.path(),
        &db,
        &["plan", &file, "--target", "group:x"],
    ));
    assert_eq!(code, 2);
}

#[tokio::test]
async fn guards_refuse_with_exit_4_unless_allowed() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = manifest(dir.path(), TWO_USERS);
    assert_eq!(
        text(&masctl(dir.path(), &db, &["apply", &file, "--yes"])).2,
        0
    );
    // A manifest that forgets bob, with pruning on: bob would be deactivated.
    let pruning = "version: 1\nusers:\n  alice:\n    admin: true\n    emails: [alice@example.org]\nprune:\n  users: deactivate\nguards:\n  max_deactivations: 0\n";
    let file = manifest(dir.path(), pruning);
    let mut conn = db.connect().await;
    let before = dump(&mut conn).await;
    let (_, stderr, code) = text(&masctl(dir.path(), &db, &["apply", &file, "--yes"]));
    assert_eq!(code, 4, "{stderr}");
    assert!(
        flat(&stderr).contains(
            "guard max_deactivations refused the plan: 1 deactivations planned, the limit is 0"
        ),
        "{stderr}"
    );
    assert_eq!(dump(&mut conn).await, before);
    let (_, stderr, code) = text(&masctl(
        dir.path(),
        &db,
        &["apply", &file, "--yes", "--allow-destructive"],
    ));
    assert_eq!(code, 0, "{stderr}");
    let deactivated: bool =
        sqlx::query_scalar("SELECT deactivated_at IS NOT NULL FROM users WHERE username = 'bob'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(deactivated);
}

#[tokio::test]
async fn a_held_lock_times_out_with_exit_6_and_names_the_holder() {
    let db = TestDb::new().await;
    let dir = tempfile::tempdir().unwrap();
    let file = manifest(dir.path(), TWO_USERS);
    let mut holder = db.connect().await;
    sqlx::query("SET application_name = 'masctl apply (pid 777)'")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(masctl::apply::lock::LOCK_KEY)
        .execute(&mut *tx)
        .await
        .unwrap();
    let (_, stderr, code) = text(&masctl(
        dir.path(),
        &db,
        &["apply", &file, "--yes", "--lock-timeout", "1"],
    ));
    assert_eq!(code, 6, "{stderr}");
    assert!(
        stderr.contains("waiting for the masctl lock held by `masctl apply (pid 777)`"),
        "{stderr}"
    );
    assert!(stderr.contains("gave up after 1s"), "{stderr}");
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_database_that_is_not_mas_is_refused() {
    let db = TestDb::empty().await;
    let dir = tempfile::tempdir().unwrap();
    let file = manifest(dir.path(), TWO_USERS);
    let (_, stderr, code) = text(&masctl(dir.path(), &db, &["plan", &file]));
    assert_eq!(code, 1);
    assert!(stderr.contains("not a MAS database"), "{stderr}");
}

#[test]
fn a_broken_manifest_is_reported_without_waiting_for_the_database() {
    // The manifest is parsed while the database is contacted; its errors come first and must
    // not wait for a database that never answers (a listener that accepts and stays silent,
    // which would otherwise hold masctl for the whole 30 s connect timeout).
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("postgres://postgres@{}/mas", silent.local_addr().unwrap());
    let dir = tempfile::tempdir().unwrap();
    let file = manifest(dir.path(), "version: 1\nusers:\n  _bad: {}\n");
    for command in ["plan", "apply"] {
        let started = std::time::Instant::now();
        let output = Command::new(env!("CARGO_BIN_EXE_masctl"))
            .current_dir(dir.path())
            .args([command, &file, "--database-url", &url])
            .env_remove("DATABASE_URL")
            .env("NO_COLOR", "1")
            .output()
            .unwrap();
        let elapsed = started.elapsed();
        let (_, stderr, code) = text(&output);
        assert_eq!(code, 1, "{command}: {stderr}");
        assert!(
            flat(&stderr).contains("invalid username"),
            "{command}: {stderr}"
        );
        assert!(!stderr.contains("connect"), "{command}: {stderr}");
        assert!(
            elapsed < std::time::Duration::from_secs(15),
            "{command} waited {elapsed:?} for the database"
        );
    }
}
