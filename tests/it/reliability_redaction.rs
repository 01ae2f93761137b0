//! Secrets in values and files masctl's runs do not produce: the `Debug` form of every value
//! that holds one (config, manifest, password manager, prepared hashes), and every insta
//! snapshot and trycmd expectation in the repository.

use std::path::Path;

use crate::common::process::tally;
use crate::reliability_secrets::{
    files_under, secrets, DB_PASSWORD, ENV_PASSWORD, FILE_PEPPER, HOMESERVER_SECRET,
    LITERAL_PASSWORD, PEPPER,
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
