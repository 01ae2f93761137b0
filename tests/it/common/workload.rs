//! The large apply the fault and concurrency tests run through the real binary: a seeded
//! database, a manifest that creates thousands of users and changes the seeded ones, a MAS
//! config with a cheap password scheme, and the tools to judge a database afterwards.
//!
//! [`canonical`] turns a database into a form in which two fully applied runs compare equal
//! although their ids, timestamps and salts differ, while any missing, extra or half-written
//! row still shows.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::{Executor, PgConnection, Row};

use super::process::Masctl;
use super::TestDb;

/// The upstream provider the seed inserts and the manifests link to.
pub(crate) const PROVIDER: &str = "01J9Z5X2F3K4M5N6P7Q8R9S0T1";
/// Number of users the seed creates.
pub(crate) const SEEDED: usize = 40;
/// Environment variable holding the plaintext of most manifest passwords.
pub(crate) const PASSWORD_VAR: &str = "MASCTL_TEST_PASSWORD";
/// The password the seeded users change to (verified against the old one first).
pub(crate) const NEW_PASSWORD_VAR: &str = "MASCTL_TEST_NEW_PASSWORD";

/// A working directory with MAS's config and the manifests.
pub(crate) struct Workspace {
    /// The directory (removed on drop).
    pub(crate) dir: tempfile::TempDir,
}

impl Workspace {
    /// Creates the directory and writes `mas.yaml`: bcrypt at a low cost keeps hashing
    /// hundreds of passwords within a second while still being a real, parallel phase.
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("mas.yaml"),
            "passwords:\n  schemes:\n    - version: 1\n      algorithm: bcrypt\n      cost: 5\n",
        )
        .unwrap();
        Self { dir }
    }

    /// Returns the directory.
    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a manifest and returns its file name.
    pub(crate) fn write(&self, name: &str, text: &str) -> PathBuf {
        std::fs::write(self.path().join(name), text).unwrap();
        PathBuf::from(name)
    }

    /// Returns `masctl --config mas.yaml ARGS… --database-url DB` with the test passwords set.
    pub(crate) fn masctl(&self, db: &TestDb, args: &[&str]) -> Masctl {
        let mut all = vec!["--config", "mas.yaml"];
        all.extend_from_slice(args);
        Masctl::new(self.path(), &all)
            .db(db)
            .env(PASSWORD_VAR, "kill test passphrase one")
            .env(NEW_PASSWORD_VAR, "kill test passphrase two")
    }
}

/// Returns the manifest the seed database is built from.
pub(crate) fn seed_manifest() -> String {
    let mut yaml = String::from("version: 1\nusers:\n");
    for i in 0..SEEDED {
        let _ = writeln!(yaml, "  seed{i:03}:\n    emails: [seed{i:03}@example.org]");
        if i % 4 == 0 {
            yaml.push_str("    admin: true\n");
        }
        if i % 5 == 0 {
            let _ = writeln!(yaml, "    password: {{ env: {PASSWORD_VAR} }}");
        }
        if i % 3 == 0 {
            let _ = writeln!(
                yaml,
                "    upstream: [{{ provider: {PROVIDER}, subject: \"seed-{i}\" }}]"
            );
        }
    }
    yaml.push_str("registration_tokens:\n");
    for i in 0..5 {
        let _ = writeln!(yaml, "  - {{ token: seed-token-{i}, usage_limit: 5 }}");
    }
    yaml
}

/// Returns a manifest that changes every seeded user and token and creates `users` more
/// users named `{prefix}NNNN`: every kind of write an apply makes.
pub(crate) fn big_manifest(prefix: &str, users: usize) -> String {
    let mut yaml = String::from("version: 1\nusers:\n");
    for i in 0..SEEDED {
        let _ = writeln!(yaml, "  seed{i:03}:");
        if i % 4 != 0 {
            yaml.push_str("    admin: true\n");
        }
        if i % 7 == 0 {
            yaml.push_str("    emails: []\n");
        } else {
            let _ = writeln!(
                yaml,
                "    emails: [seed{i:03}@example.org, seed{i:03}.second@example.org]"
            );
        }
        if i % 5 == 0 {
            let _ = writeln!(
                yaml,
                "    password: {{ env: {NEW_PASSWORD_VAR} }}\n    password_policy: enforce"
            );
        }
        if i % 3 == 0 {
            let _ = writeln!(
                yaml,
                "    upstream: [{{ provider: {PROVIDER}, subject: \"seed-{i}-moved\" }}]"
            );
        }
        match i % 10 {
            1 => yaml.push_str("    state: locked\n"),
            2 => yaml.push_str("    state: deactivated\n"),
            _ => {}
        }
    }
    append_users(&mut yaml, prefix, users);
    yaml.push_str("registration_tokens:\n");
    yaml.push_str("  - { token: seed-token-0, usage_limit: 10 }\n");
    yaml.push_str("  - { token: seed-token-1, state: revoked }\n");
    yaml.push_str("  - { token: seed-token-2, expires_at: 2030-01-01T00:00:00Z }\n");
    for i in 0..10 {
        let _ = writeln!(yaml, "  - {{ token: {prefix}-token-{i} }}");
    }
    yaml
}

/// Appends `users` new users named `{prefix}NNNN` to a `users:` mapping.
pub(crate) fn append_users(yaml: &mut String, prefix: &str, users: usize) {
    for i in 0..users {
        let _ = writeln!(
            yaml,
            "  {prefix}{i:04}:\n    emails: [{prefix}{i:04}@example.org]"
        );
        if i % 50 == 0 {
            yaml.push_str("    admin: true\n");
        }
        if i < 100 {
            let _ = writeln!(yaml, "    password: {{ env: {PASSWORD_VAR} }}");
        }
        if i % 100 == 7 {
            let _ = writeln!(
                yaml,
                "    upstream: [{{ provider: {PROVIDER}, subject: \"{prefix}-{i}\" }}]"
            );
        }
        if i % 10 == 3 {
            let _ = writeln!(yaml, "    display_name: \"User {i}\"");
        }
        if i % 97 == 5 {
            yaml.push_str("    state: locked\n");
        }
    }
}

/// Builds the seed database: the provider row, then the seed manifest applied by masctl.
pub(crate) async fn seeded(workspace: &Workspace) -> TestDb {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    insert_provider(&mut conn).await;
    drop(conn);
    let seed = workspace.write("seed.yaml", &seed_manifest());
    let output = workspace
        .masctl(&db, &["apply", "--yes", seed.to_str().unwrap()])
        .run()
        .await;
    assert_eq!(output.code, Some(0), "{}", output.both());
    db
}

/// Inserts the upstream provider [`PROVIDER`].
pub(crate) async fn insert_provider(conn: &mut PgConnection) {
    sqlx::query(
        "INSERT INTO upstream_oauth_providers
           (upstream_oauth_provider_id, issuer, scope, client_id, token_endpoint_auth_method, created_at)
         VALUES ($1, 'https://sso.example.org/', 'openid', 'masctl', 'client_secret_basic', '2026-01-01T00:00:00Z')",
    )
    .bind(masctl::ids::to_uuid(PROVIDER.parse().unwrap()))
    .execute(conn)
    .await
    .unwrap();
}

/// A database's rows with run-specific values replaced: user ids by `user:NAME` (also inside
/// job payloads), other ids by `<id>`, timestamps by `<time>`, hashes by `<hash>`. Rows are
/// sorted per table and duplicates kept, so two equal canonical forms mean the same rows.
pub(crate) type Canonical = BTreeMap<String, Vec<Vec<String>>>;

/// Returns the canonical form of every non-empty table (see [`Canonical`]).
pub(crate) async fn canonical(conn: &mut PgConnection) -> Canonical {
    let users: HashMap<String, String> =
        sqlx::query_as::<_, (String, String)>("SELECT user_id::text, username FROM users")
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .into_iter()
            .collect();
    let mut out = Canonical::new();
    for table in tables(conn).await {
        let (columns, rows) = table_rows(conn, &table).await;
        let mut canonical: Vec<Vec<String>> = rows
            .into_iter()
            .map(|row| {
                columns
                    .iter()
                    .zip(row)
                    .map(|(column, value)| canonical_value(column, value, &users))
                    .collect()
            })
            .collect();
        if canonical.is_empty() {
            continue;
        }
        canonical.sort();
        out.insert(table, canonical);
    }
    out
}

fn canonical_value(column: &str, value: Option<String>, users: &HashMap<String, String>) -> String {
    let Some(value) = value else {
        return "~".to_owned();
    };
    if let Some(name) = users.get(&value) {
        return format!("user:{name}");
    }
    if column == "payload" {
        return canonical_payload(&value, users);
    }
    if column == "hashed_password" {
        return "<hash>".to_owned();
    }
    if column.ends_with("_id") {
        return "<id>".to_owned();
    }
    if column.ends_with("_at") {
        return "<time>".to_owned();
    }
    value
}

/// Job payloads name users by ULID: map them to names too.
fn canonical_payload(payload: &str, users: &HashMap<String, String>) -> String {
    let Ok(mut json) = serde_json::from_str::<serde_json::Value>(payload) else {
        return payload.to_owned();
    };
    if let Some(id) = json.get_mut("user_id") {
        let name = id
            .as_str()
            .and_then(|ulid| ulid::Ulid::from_string(ulid).ok())
            .map(|ulid| masctl::ids::to_uuid(ulid).to_string())
            .and_then(|uuid| users.get(&uuid));
        *id = serde_json::Value::String(name.map_or_else(
            || "<unknown user>".to_owned(),
            |name| format!("user:{name}"),
        ));
    }
    json.to_string()
}

async fn tables(conn: &mut PgConnection) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
           AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

/// Returns a table's column names and every row as text.
async fn table_rows(
    conn: &mut PgConnection,
    table: &str,
) -> (Vec<String>, Vec<Vec<Option<String>>>) {
    let columns: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let casts: Vec<String> = columns.iter().map(|c| format!("\"{c}\"::text")).collect();
    let sql = format!(
        "SELECT ARRAY[{}]::text[] AS r FROM \"{table}\"",
        casts.join(", ")
    );
    let rows = sqlx::query(&sql)
        .fetch_all(&mut *conn)
        .await
        .unwrap()
        .iter()
        .map(|row| row.get("r"))
        .collect();
    (columns, rows)
}

/// Describes how two canonical forms differ (row counts per table, first differing row).
pub(crate) fn difference(expected: &Canonical, actual: &Canonical) -> String {
    let mut out = String::new();
    let names: std::collections::BTreeSet<&String> = expected.keys().chain(actual.keys()).collect();
    for name in names {
        let (want, got) = (expected.get(name), actual.get(name));
        if want == got {
            continue;
        }
        let (want, got) = (
            want.cloned().unwrap_or_default(),
            got.cloned().unwrap_or_default(),
        );
        let first = want.iter().zip(&got).find(|(a, b)| a != b);
        let _ = writeln!(
            out,
            "{name}: expected {} rows, found {}; first difference: {first:?}",
            want.len(),
            got.len()
        );
    }
    out
}

/// Takes masctl's lock on `db` from a session of the test's own, as another masctl would.
///
/// A session-level lock conflicts with masctl's transaction-level one and is held whatever
/// happens to transactions, until [`release_lock`].
pub(crate) async fn hold_lock(db: &TestDb) -> sqlx::PgConnection {
    let mut conn = db.connect().await;
    conn.execute("SET application_name = 'reliability test'")
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(masctl::apply::lock::LOCK_KEY)
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// Releases the lock taken by [`hold_lock`].
pub(crate) async fn release_lock(mut conn: sqlx::PgConnection) {
    let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
        .bind(masctl::apply::lock::LOCK_KEY)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(released, "the test's lock was not held any more");
}

/// One session as `pg_stat_activity` shows it.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    /// `pid` of the backend.
    pub(crate) pid: i32,
    /// `state`: `active`, `idle`, `idle in transaction`, …
    pub(crate) state: String,
    /// Whether a transaction (or a single statement) is running (`xact_start IS NOT NULL`).
    pub(crate) in_transaction: bool,
    /// Whether the transaction has written (`backend_xid IS NOT NULL`).
    pub(crate) wrote: bool,
    /// Whether the session holds masctl's advisory lock: it is in its apply transaction.
    pub(crate) holds_lock: bool,
    /// The current or last statement.
    pub(crate) query: String,
}

impl Backend {
    /// Returns whether the session is in its apply transaction, waiting for masctl's lock.
    pub(crate) fn waits_for_lock(&self) -> bool {
        // The try-lock, or the "who holds it" query between two tries (the schema guard's
        // look at pg_locks does not join pg_stat_activity).
        self.in_transaction
            && !self.holds_lock
            && (self.query.contains("pg_try_advisory_xact_lock")
                || (self.query.contains("pg_locks") && self.query.contains("pg_stat_activity")))
    }

    /// Returns a short description of what the session was doing, for tallies.
    pub(crate) fn phase(&self) -> String {
        let statement: String = self
            .query
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        if self.waits_for_lock() {
            return "waiting for the lock".to_owned();
        }
        if !self.holds_lock {
            return "connected, before the apply transaction (planning, hashing)".to_owned();
        }
        if statement.starts_with("COMMIT") {
            return "COMMIT".to_owned();
        }
        if self.wrote {
            format!("apply transaction, writing ({statement})")
        } else {
            format!("apply transaction, locked, before any write ({statement})")
        }
    }
}

/// Watches another process's sessions from its own connection.
pub(crate) struct Observer {
    conn: PgConnection,
}

impl Observer {
    /// Connects to `db`.
    pub(crate) async fn new(db: &TestDb) -> Self {
        Self {
            conn: db.connect().await,
        }
    }

    /// Returns the session named `application_name`, if it exists.
    pub(crate) async fn backend(&mut self, application_name: &str) -> Option<Backend> {
        type Row = (i32, Option<String>, bool, bool, bool, Option<String>);
        // A bigint advisory key shows in pg_locks split in two halves (see apply::lock).
        let row: Option<Row> = sqlx::query_as(
            "SELECT a.pid, a.state, a.xact_start IS NOT NULL, a.backend_xid IS NOT NULL, \
                    EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted \
                            AND l.locktype = 'advisory' AND l.objsubid = 1 \
                            AND l.classid::bigint = $2 AND l.objid::bigint = $3), \
                    a.query \
             FROM pg_stat_activity a \
             WHERE a.application_name = $1 AND a.datname = current_database()",
        )
        .bind(application_name)
        .bind(masctl::apply::lock::LOCK_KEY >> 32)
        .bind(masctl::apply::lock::LOCK_KEY & 0xFFFF_FFFF)
        .fetch_optional(&mut self.conn)
        .await
        .unwrap();
        row.map(
            |(pid, state, in_transaction, wrote, holds_lock, query)| Backend {
                pid,
                state: state.unwrap_or_default(),
                in_transaction,
                wrote,
                holds_lock,
                query: query.unwrap_or_default(),
            },
        )
    }

    /// Waits until the session named `application_name` is gone (a killed client's backend
    /// finishes its statement first), failing after `limit`.
    pub(crate) async fn wait_gone(&mut self, application_name: &str, limit: Duration) {
        let start = std::time::Instant::now();
        while self.backend(application_name).await.is_some() {
            assert!(
                start.elapsed() < limit,
                "session {application_name} still exists after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Returns the observer's connection, for other queries.
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}
