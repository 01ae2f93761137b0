//! The large apply the fault and concurrency tests run through the real binary: a seeded
//! database, a manifest that creates thousands of users and changes the seeded ones, a MAS
//! config with a cheap password scheme, and the tools to judge a database afterwards.
//!
//! Judging the database afterwards is `canonical`'s job; watching masctl's session, `activity`'s.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use sqlx::PgConnection;

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
