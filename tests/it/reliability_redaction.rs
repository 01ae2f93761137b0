//! Searching for secrets: in files and database rows (used by `reliability_secrets`), in the
//! `Debug` form of every value that holds one (config, manifest, password manager, prepared
//! hashes), and in every insta snapshot and trycmd expectation in the repository.

use std::path::Path;

use crate::common::process::tally;
use crate::common::TestDb;
use crate::reliability_secrets::{
    secrets, DB_PASSWORD, ENV_PASSWORD, FILE_PEPPER, HOMESERVER_SECRET, LITERAL_PASSWORD, PEPPER,
};

/// Secrets other tests and fixtures use: no snapshot may hold one either.
const FIXTURE_SECRETS: &[&str] = &[
    "correct horse battery staple",
    "another long passphrase here",
    "synapse-pepper",
    "db-password",
    "shared-secret",
    "hunter2",
    "EXAMPLE-ONLY",
    "kill test passphrase",
];

/// Searches every insta snapshot and trycmd expectation in the repository for the secrets
/// used by the secrets tests and by other tests and fixtures.
#[test]
fn no_snapshot_holds_a_secret() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut searched = 0;
    for top in ["src", "tests"] {
        for file in files_under(&root.join(top)) {
            let name = file.to_string_lossy();
            let is_expectation =
                name.ends_with(".snap") || (name.contains("tests/cmd/") && !name.contains(".in/"));
            if !is_expectation {
                continue;
            }
            let content = std::fs::read_to_string(&file).unwrap_or_default();
            for secret in secrets().iter().chain(FIXTURE_SECRETS) {
                assert!(!content.contains(secret), "{name} holds {secret:?}");
            }
            searched += 1;
        }
    }
    assert!(searched > 20, "only {searched} snapshot files found");
    tally(&format!(
        "secrets: {} secrets searched in {searched} snapshot and expectation files: 0 found",
        secrets().len() + FIXTURE_SECRETS.len()
    ));
}

/// The values that hold secrets print none of them, however they are formatted.
#[test]
fn debug_output_of_values_holding_secrets_is_redacted() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("pepper.bin"), FILE_PEPPER).unwrap();
    std::fs::write(
        dir.path().join("mas.yaml"),
        format!(
            "database: {{ uri: \"postgresql://mas:{DB_PASSWORD}@db/mas\" }}
passwords:
  schemes:
    - {{ version: 1, algorithm: bcrypt, cost: 4, secret: {PEPPER} }}
    - {{ version: 2, algorithm: argon2id, secret_file: pepper.bin }}
matrix: {{ homeserver: example.org, secret: {HOMESERVER_SECRET} }}
"
        ),
    )
    .unwrap();
    let config = masctl::config::load_from(
        dir.path(),
        &[dir.path().join("mas.yaml")],
        &Default::default(),
    )
    .unwrap();
    let desired = masctl::manifest::load_str(
        "users.yaml",
        &format!("version: 1\nusers:\n  carol:\n    password: \"{LITERAL_PASSWORD}\"\n"),
        &masctl::manifest::LoadOptions {
            allow_plaintext_passwords: true,
        },
    )
    .unwrap();
    let manager =
        masctl::password::PasswordManager::new(true, 0, config.passwords.schemes()).unwrap();
    let mut rng = <rand_chacha::ChaCha20Rng as rand::SeedableRng>::seed_from_u64(1);
    let hashed = manager
        .hash(&masctl::model::Secret::new(ENV_PASSWORD), &mut rng)
        .unwrap();
    let mut prepared = masctl::apply::PreparedPasswords::default();
    prepared.insert("alice".to_owned(), hashed.clone());
    let texts = [
        format!("{config:?} {config:#?}"),
        format!("{desired:?} {desired:#?}"),
        format!("{manager:?} {hashed:?} {prepared:?}"),
    ];
    for text in &texts {
        for secret in secrets() {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
        assert!(!text.contains(hashed.hash.expose()), "a hash in {text}");
    }
}

pub(crate) fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files.extend(files_under(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// Searches every row of every table masctl or MAS owns (`public` and `masctl` schemas) for the
/// plaintext secrets (hashes are expected in `user_passwords`); returns the rows searched.
pub(crate) async fn rows_holding_secrets(db: &TestDb) -> i64 {
    let mut conn = db.connect().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT quote_ident(table_schema) || '.' || quote_ident(table_name) \
         FROM information_schema.tables \
         WHERE table_schema IN ('public', 'masctl') AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut searched = 0;
    for table in tables {
        let rows: Vec<String> = sqlx::query_scalar(&format!("SELECT t::text FROM {table} t"))
            .fetch_all(&mut conn)
            .await
            .unwrap();
        for row in &rows {
            for secret in secrets() {
                assert!(!row.contains(secret), "{table} holds a secret: {row}");
            }
        }
        searched += i64::try_from(rows.len()).unwrap();
    }
    searched
}
