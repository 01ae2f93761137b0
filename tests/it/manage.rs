//! `masctl manage …` end to end: the real binary against a fresh MAS database, with MAS's config
//! in a temporary file. This file holds the helpers the `manage_*` files share, and the tests
//! of the verbs that read or do nothing (verify-email, list-admin-users) plus the cross-cutting
//! ones (missing user, dry runs).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use chrono::{DateTime, TimeZone, Utc};
use sqlx::PgConnection;
use ulid::Ulid;

use crate::common::{dump, TestDb};

/// What one run of the binary printed and how it exited.
#[derive(Debug)]
pub(crate) struct Run {
    pub(crate) stdout: String,
    pub(crate) stderr: String,
    pub(crate) code: i32,
}

impl Run {
    /// Asserts that stderr says `message`, however miette wrapped it (whitespace and its box
    /// drawing are ignored on both sides).
    #[track_caller]
    pub(crate) fn assert_stderr_has(&self, message: &str) {
        let squash = |text: &str| -> String {
            text.chars()
                .filter(|c| !c.is_whitespace() && *c != '│')
                .collect()
        };
        assert!(
            squash(&filter(&self.stderr)).contains(&squash(&filter(message))),
            "stderr does not say {message:?}:\n{}",
            self.stderr
        );
    }

    /// Returns stdout, stderr and the exit code as one text, with volatile values replaced.
    pub(crate) fn snapshot(&self) -> String {
        filter(&format!(
            "{}------- stderr -------\n{}[exit status: {}]\n",
            self.stdout, self.stderr, self.code
        ))
    }
}

/// MAS's config for a test: a temporary directory holding `config.yaml`.
pub(crate) struct MasConfig {
    dir: tempfile::TempDir,
}

impl MasConfig {
    /// Returns a config with fast bcrypt passwords (cost 4) and, if given, a `matrix` section.
    pub(crate) fn new(endpoint: Option<&str>) -> Self {
        let passwords =
            "passwords:\n  schemes:\n    - version: 1\n      algorithm: bcrypt\n      cost: 4\n";
        Self::with(passwords, endpoint)
    }

    /// Returns a config with `passwords` (YAML text) and, if given, a `matrix` section.
    pub(crate) fn with(passwords: &str, endpoint: Option<&str>) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let mut yaml = passwords.to_owned();
        if let Some(endpoint) = endpoint {
            yaml.push_str(&format!(
                "matrix:\n  homeserver: example.com\n  endpoint: {endpoint}\n  secret: {}\n",
                crate::common::homeserver::SECRET
            ));
        }
        std::fs::write(dir.path().join("config.yaml"), yaml).expect("writing config.yaml");
        Self { dir }
    }

    fn path(&self) -> PathBuf {
        self.dir.path().join("config.yaml")
    }

    fn dir(&self) -> &Path {
        self.dir.path()
    }
}

/// Returns the command `masctl --config … --database-url … manage <args>`, run in the
/// config's directory with no inherited MAS or database settings.
pub(crate) fn command(db: &TestDb, config: &MasConfig, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_masctl"));
    command
        .current_dir(config.dir())
        .env_remove("DATABASE_URL")
        .env_remove("MAS_CONFIG")
        .env("NO_COLOR", "1")
        .arg("--config")
        .arg(config.path())
        .arg("--database-url")
        .arg(db.url())
        .arg("manage")
        .args(args)
        .stdin(Stdio::null());
    command
}

/// Runs `masctl manage <args>` to completion (off the async runtime, so a test homeserver
/// keeps answering meanwhile).
pub(crate) async fn masctl(db: &TestDb, config: &MasConfig, args: &[&str]) -> Run {
    let mut command = command(db, config, args);
    let output = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("joining")
        .expect("running masctl");
    Run {
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        code: output.status.code().expect("exit code"),
    }
}

/// Replaces ids, times, tokens and ports so that outputs can be snapshotted.
pub(crate) fn filter(text: &str) -> String {
    let rules = [
        (r"mct_[A-Za-z0-9]{30}_[A-Za-z0-9]{6}", "[COMPAT_TOKEN]"),
        (r"\b[0-7][0-9A-HJKMNP-TV-Z]{25}\b", "[ULID]"),
        (
            r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b",
            "[UUID]",
        ),
        (
            r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(\.\d+)?( UTC|Z|\+00(:00)?)?",
            "[TIME]",
        ),
        (r"\$2b\$04\$[./A-Za-z0-9]{53}", "[BCRYPT]"),
        (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
        (r"pid \d+", "pid [PID]"),
    ];
    rules.iter().fold(text.to_owned(), |text, (pattern, with)| {
        regex::Regex::new(pattern)
            .expect("valid pattern")
            .replace_all(&text, *with)
            .into_owned()
    })
}

/// The instant test rows are created at.
pub(crate) fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .expect("valid")
}

/// Inserts a user the way MAS would have, created at [`t0`] plus `offset` ms, and returns its id.
pub(crate) async fn insert_user(conn: &mut PgConnection, username: &str, offset: i64) -> Ulid {
    let created = t0() + chrono::Duration::milliseconds(offset);
    let id = Ulid::from_parts(
        u64::try_from(created.timestamp_millis()).expect("after 1970"),
        u128::from(username.len() as u64) << 64 | u128::from(offset.unsigned_abs()),
    );
    sqlx::query("INSERT INTO users (user_id, username, created_at) VALUES ($1, $2, $3)")
        .bind(masctl::ids::to_uuid(id))
        .bind(username)
        .bind(created)
        .execute(conn)
        .await
        .expect("inserting a user");
    id
}

/// Runs one statement.
pub(crate) async fn exec(conn: &mut PgConnection, sql: &str) {
    sqlx::raw_sql(sql).execute(conn).await.expect("running SQL");
}

/// Returns one text column of the first row of `sql` (`None` for no row or NULL).
pub(crate) async fn text(conn: &mut PgConnection, sql: &str) -> Option<String> {
    sqlx::query_scalar::<_, Option<String>>(sql)
        .fetch_optional(conn)
        .await
        .expect("querying")
        .flatten()
}

/// Returns `(queue_name, payload, metadata)` of every job, by id.
pub(crate) async fn jobs(conn: &mut PgConnection) -> Vec<(String, serde_json::Value, String)> {
    sqlx::query_as(
        "SELECT queue_name, payload, metadata::text FROM queue_jobs ORDER BY queue_job_id",
    )
    .fetch_all(conn)
    .await
    .expect("reading jobs")
}

/// Asserts every job is what MAS's `schedule` inserts: available, attempt 0, the all-zero
/// trace context, and an id whose time part is its `created_at`.
pub(crate) async fn assert_jobs_are_mas_shaped(conn: &mut PgConnection) {
    let wrong: Vec<String> = sqlx::query_scalar(
        "SELECT queue_name FROM queue_jobs WHERE status <> 'available' OR attempt <> 0 \
           OR started_at IS NOT NULL OR scheduled_at IS NOT NULL OR next_attempt_id IS NOT NULL \
           OR metadata <> '{\"trace_id\":\"00000000000000000000000000000000\",\"span_id\":\"0000000000000000\",\"trace_flags\":0}'::jsonb",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("checking jobs");
    assert!(wrong.is_empty(), "jobs not shaped as MAS's: {wrong:?}");
    assert_ids_encode_created_at(conn, "queue_jobs", "queue_job_id").await;
}

/// Asserts that the ULID time of every row's id is its `created_at` millisecond.
pub(crate) async fn assert_ids_encode_created_at(conn: &mut PgConnection, table: &str, id: &str) {
    let rows: Vec<(uuid::Uuid, DateTime<Utc>)> =
        sqlx::query_as(&format!("SELECT {id}, created_at FROM {table}"))
            .fetch_all(conn)
            .await
            .expect("reading ids");
    for (uuid, created_at) in rows {
        let ulid = masctl::ids::from_uuid(uuid);
        assert_eq!(
            i64::try_from(ulid.timestamp_ms()).expect("fits"),
            created_at.timestamp_millis(),
            "{table}.{id} {ulid} does not encode created_at {created_at}"
        );
    }
}

#[tokio::test]
async fn verify_email_only_warns_and_needs_no_database() {
    let config = MasConfig::new(None);
    let output = Command::new(env!("CARGO_BIN_EXE_masctl"))
        .current_dir(config.dir())
        .env_remove("DATABASE_URL")
        .env("NO_COLOR", "1")
        .args(["--database-url", "postgres://nobody@127.0.0.1:1/none"])
        .args(["manage", "verify-email", "alice", "alice@example.org"])
        .output()
        .expect("running masctl");
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&output.stdout), "");
    insta::assert_snapshot!(String::from_utf8_lossy(&output.stderr), @"warning: `verify-email` is deprecated and does nothing: every address MAS stores is verified. To give alice the address alice@example.org, use `masctl manage add-email alice alice@example.org`.");
}

#[tokio::test]
async fn a_missing_user_is_an_error_and_writes_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "alice", 0).await;
    let before = dump(&mut conn).await;
    let config = MasConfig::new(None);
    for args in [
        &["lock-user", "bob"][..],
        &["unlock-user", "bob"],
        &["promote-admin", "bob"],
        &["add-email", "bob", "bob@example.org"],
        &["set-password", "bob", "kitten-piano"],
        &["kill-sessions", "bob"],
    ] {
        let run = masctl(&db, &config, args).await;
        assert_eq!(run.code, 1, "{args:?}: {run:?}");
        assert_eq!(run.stdout, "", "{args:?}");
        run.assert_stderr_has("User not found: bob");
    }
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn every_writing_verb_writes_nothing_on_a_dry_run() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "alice", 0).await;
    exec(
        &mut conn,
        "UPDATE users SET locked_at = created_at, can_request_admin = true",
    )
    .await;
    let before = dump(&mut conn).await;
    let config = MasConfig::new(None);
    for args in [
        &["lock-user", "alice", "--deactivate"][..],
        &["unlock-user", "alice"],
        &["unlock-user", "alice", "--reactivate"],
        &["demote-admin", "alice"],
        &["add-email", "alice", "alice@example.org"],
        &["set-password", "alice", "kitten-piano"],
        &["kill-sessions", "alice"],
        &["provision-all-users"],
        &["issue-user-registration-token", "--token", "welcome"],
    ] {
        let mut with_flag = args.to_vec();
        with_flag.push("--dry-run");
        let run = masctl(&db, &config, &with_flag).await;
        assert_eq!(run.code, 0, "{args:?}: {run:?}");
        assert!(
            run.stdout.starts_with("~ ")
                || run.stdout.starts_with("- ")
                || run.stdout.starts_with("+ "),
            "{args:?}: {run:?}"
        );
        assert!(
            run.stderr.ends_with("Dry run: nothing was written.\n"),
            "{args:?}: {run:?}"
        );
    }
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn list_admin_users_pages_through_every_admin() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_user(&mut conn, "zed", 0).await;
    insert_user(&mut conn, "alice", 1).await;
    insert_user(&mut conn, "bob", 2).await;
    exec(
        &mut conn,
        "UPDATE users SET can_request_admin = username <> 'bob'",
    )
    .await;
    let config = MasConfig::new(None);
    let run = masctl(&db, &config, &["list-admin-users"]).await;
    // Ordered by user_id, that is by creation.
    insta::assert_snapshot!(run.snapshot(), @r"
    zed
    alice
    ------- stderr -------
    2 admin users
    [exit status: 0]
    ");

    // More than one page of 1000: every admin exactly once, in id order.
    exec(
        &mut conn,
        "INSERT INTO users (user_id, username, created_at, can_request_admin) \
         SELECT ('019c0000-0000-0000-0000-' || lpad(to_hex(n), 12, '0'))::uuid, 'admin' || n, \
                '2026-01-28T00:00:00Z', true \
         FROM generate_series(1, 2345) AS n",
    )
    .await;
    let run = masctl(&db, &config, &["list-admins"]).await;
    assert_eq!(run.code, 0, "{run:?}");
    let listed: Vec<&str> = run.stdout.lines().collect();
    assert_eq!(listed.len(), 2347);
    assert_eq!(&listed[..3], ["zed", "alice", "admin1"]);
    assert_eq!(listed.last(), Some(&"admin2345"));
    assert_eq!(run.stderr, "2347 admin users\n");
}
