//! Loading MAS's config file the way mas-cli does, with masctl's one deliberate difference
//! (a config file that was asked for must exist).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use masctl::config::{
    load_from, ConfigError, DatabaseConnection, HomeserverKind, MasConfig, SplitOptions, SslMode,
};
use masctl::db::{check_schema, connect};
use masctl::model::Secret;
use masctl::password::scheme::{Algorithm, PasswordScheme};
use tempfile::TempDir;

use crate::common::TestDb;

fn env(vars: &[(&str, &str)]) -> BTreeMap<String, String> {
    vars.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("writing a test file");
    path
}

fn load(dir: &Path, files: &[&str], vars: &[(&str, &str)]) -> Result<MasConfig, ConfigError> {
    let paths: Vec<PathBuf> = files.iter().map(PathBuf::from).collect();
    load_from(dir, &paths, &env(vars))
}

fn load_err(dir: &Path, files: &[&str], vars: &[(&str, &str)]) -> String {
    load(dir, files, vars)
        .expect_err("the config is refused")
        .to_string()
}

#[test]
fn absent_sections_get_mas_defaults() {
    let dir = TempDir::new().expect("temp dir");
    // No --config, no MAS_CONFIG, no config.yaml: the implicit default may be missing.
    let config = load(dir.path(), &[], &[]).expect("defaults");
    assert_eq!(config.database.connection, DatabaseConnection::Default);
    assert_eq!(config.database.connect_timeout.as_secs(), 30);
    assert!(config.passwords.enabled);
    assert_eq!(config.passwords.minimum_complexity, 3);
    assert_eq!(config.passwords.schemes(), [PasswordScheme::default()]);
    assert!(config.matrix.is_none());
}

#[test]
fn environment_only() {
    let dir = TempDir::new().expect("temp dir");
    let config = load(
        dir.path(),
        &[],
        &[
            ("MAS_DATABASE_HOST", "db.internal"),
            ("MAS_DATABASE_PORT", "6432"),
            ("MAS_DATABASE_PASSWORD", "007"),
            ("MAS_PASSWORDS_ENABLED", "false"),
            ("MAS_MATRIX_HOMESERVER", "example.com"),
            ("MAS_MATRIX_SECRET", "shared"),
            ("HOME", "/root"),
        ],
    )
    .expect("valid");
    let DatabaseConnection::Split(split) = &config.database.connection else {
        panic!("split options expected: {:?}", config.database.connection)
    };
    assert_eq!(split.host.as_deref(), Some("db.internal"));
    assert_eq!(split.port, Some(6432));
    // Text stays text: a password is never sniffed into the number 7.
    assert_eq!(split.password.as_ref().map(Secret::expose), Some("007"));
    assert!(!config.passwords.enabled);
    let matrix = config.matrix.expect("matrix section");
    assert_eq!(matrix.homeserver, "example.com");
    assert_eq!(matrix.secret.expose(), "shared");
    assert_eq!(matrix.endpoint.as_str(), "http://localhost:8008/");
}

#[test]
fn files_override_the_environment_and_merge_in_order() {
    let dir = TempDir::new().expect("temp dir");
    write(
        dir.path(),
        "base.yaml",
        "passwords:\n  minimum_complexity: 2\n  schemes:\n    - version: 1\n      algorithm: bcrypt\n\
         matrix:\n  homeserver: base.example\n  secret: one\n",
    );
    write(
        dir.path(),
        "override.yaml",
        "passwords:\n  schemes:\n    - version: 2\n      algorithm: argon2id\n\
         matrix:\n  homeserver: override.example\n",
    );
    let config = load(
        dir.path(),
        &["base.yaml", "override.yaml"],
        &[
            ("MAS_MATRIX_HOMESERVER", "env.example"),
            ("MAS_MATRIX_KIND", "synapse_legacy"),
        ],
    )
    .expect("valid");
    // Lists are concatenated, so both schemes exist; the highest version comes first.
    let versions: Vec<(u16, Algorithm)> = config
        .passwords
        .schemes()
        .iter()
        .map(|s| (s.version, s.algorithm))
        .collect();
    assert_eq!(versions, [(2, Algorithm::Argon2id), (1, Algorithm::Bcrypt)]);
    assert_eq!(config.passwords.minimum_complexity, 2);
    let matrix = config.matrix.expect("matrix section");
    assert_eq!(matrix.homeserver, "override.example");
    // Keys no file sets keep their environment value.
    assert_eq!(matrix.kind, HomeserverKind::SynapseLegacy);
    assert_eq!(matrix.secret.expose(), "one");
}

#[test]
fn duplicate_scheme_versions_across_files_are_refused() {
    let dir = TempDir::new().expect("temp dir");
    let scheme = "passwords:\n  schemes:\n    - version: 1\n      algorithm: argon2id\n";
    write(dir.path(), "a.yaml", scheme);
    write(dir.path(), "b.yaml", scheme);
    assert_eq!(
        load_err(dir.path(), &["a.yaml", "b.yaml"], &[]),
        "b.yaml: passwords.schemes[1].version: Multiple password schemes have the same versions \
         (version 1 is also used by passwords.schemes[0])"
    );
}

#[test]
fn a_requested_file_must_exist() {
    let dir = TempDir::new().expect("temp dir");
    assert_eq!(
        load_err(dir.path(), &["missing.yaml"], &[]),
        "config file missing.yaml does not exist"
    );
    // MAS_CONFIG names files explicitly too.
    write(dir.path(), "one.yaml", "");
    assert_eq!(
        load_err(dir.path(), &[], &[("MAS_CONFIG", "one.yaml:two.yaml")]),
        "config file two.yaml does not exist"
    );
}

#[test]
fn relative_paths_are_searched_in_parent_directories() {
    let dir = TempDir::new().expect("temp dir");
    let nested = dir.path().join("a/b");
    std::fs::create_dir_all(&nested).expect("creating directories");
    write(
        dir.path(),
        "config.yaml",
        "matrix:\n  secret: from-parent\n",
    );
    let config = load(&nested, &[], &[]).expect("found in a parent");
    assert_eq!(
        config.matrix.expect("matrix section").secret.expose(),
        "from-parent"
    );
}

#[test]
fn syntax_errors_name_file_and_line() {
    let dir = TempDir::new().expect("temp dir");
    write(
        dir.path(),
        "broken.yaml",
        "database:\n  host: db\n    port: 5432\n",
    );
    let error = load(dir.path(), &["broken.yaml"], &[]).expect_err("invalid YAML");
    let ConfigError::Yaml { file, line, .. } = &error else {
        panic!("{error:?}")
    };
    assert_eq!((file.as_str(), *line), ("broken.yaml", Some(3)));
    assert!(
        error.to_string().starts_with("broken.yaml: invalid YAML: "),
        "{error}"
    );
    write(dir.path(), "list.yaml", "- a\n- b\n");
    assert_eq!(
        load_err(dir.path(), &["list.yaml"], &[]),
        "list.yaml: invalid YAML: the top level must be a mapping of sections"
    );
}

#[test]
fn malformed_sections_name_file_and_key() {
    let dir = TempDir::new().expect("temp dir");
    let cases = [
        (
            "passwords:\n  schemes:\n    - {version: 1, algorithm: argon2id}\n    - {version: 2, algorithm: scrypt}\n",
            "passwords.schemes[1].algorithm: unknown algorithm `scrypt` (expected argon2id, bcrypt or pbkdf2)",
        ),
        ("passwords:\n  schemes:\n    - algorithm: bcrypt\n", "passwords.schemes[0]: missing `version` (every scheme needs a version number)"),
        ("passwords:\n  schemes:\n    - {version: 70000, algorithm: bcrypt}\n", "passwords.schemes[0].version: expected a whole number from 0 to 65535"),
        ("passwords:\n  schemes: []\n", "passwords.schemes: at least one password scheme is required while passwords are enabled"),
        ("passwords:\n  enabled: maybe\n", "passwords.enabled: expected `true` or `false`, found a string"),
        ("passwords: [1]\n", "passwords: expected a mapping, found a list"),
        ("database:\n  port: [5432]\n", "database.port: expected a whole number from 0 to 65535, found a list"),
        ("database:\n  ssl_mode: strict\n", "database.ssl_mode: unknown SSL mode `strict` (expected disable, allow, prefer, require, verify-ca or verify-full)"),
        ("database:\n  max_connections: 0\n", "database.max_connections: must not be 0"),
        ("database:\n  uri: mysql://db/mas\n", "database.uri: expected a postgres:// or postgresql:// URL"),
        ("matrix:\n  homeserver: example.com\n", "matrix: one of `secret` or `secret_file` is required"),
        ("matrix:\n  secret: s\n  kind: dendrite\n", "matrix.kind: unknown homeserver kind `dendrite` (expected synapse, synapse_modern, synapse_legacy or synapse_read_only)"),
        ("matrix:\n  secret: s\n  endpoint: not a url\n", "matrix.endpoint: not a valid URL: relative URL without a base"),
    ];
    for (yaml, expected) in cases {
        write(dir.path(), "config.yaml", yaml);
        assert_eq!(
            load_err(dir.path(), &["config.yaml"], &[]),
            format!("config.yaml: {expected}"),
            "{yaml}"
        );
    }
    // An error in a value from the environment names the variable.
    assert_eq!(
        load_err(dir.path(), &[], &[("MAS_DATABASE_PORT", "five")]),
        "environment variable MAS_DATABASE_PORT: database.port: expected a whole number from 0 to 65535, found a string"
    );
}

#[test]
fn exclusive_keys_are_refused() {
    let dir = TempDir::new().expect("temp dir");
    let cases = [
        ("database:\n  uri: postgresql://db/mas\n  host: db\n", "database.host: cannot be combined with database.uri"),
        ("database:\n  password: a\n  password_file: /p\n", "database.password_file: cannot be combined with database.password"),
        ("database:\n  ssl_ca: pem\n  ssl_ca_file: /ca.pem\n", "database.ssl_ca_file: cannot be combined with database.ssl_ca"),
        ("database:\n  ssl_certificate: pem\n", "database.ssl_certificate: a client certificate needs its key: set database.ssl_key or database.ssl_key_file too"),
        ("database:\n  ssl_key: pem\n", "database.ssl_key: a client certificate needs its key: set database.ssl_certificate or database.ssl_certificate_file too"),
        ("passwords:\n  schemes:\n    - {version: 1, algorithm: argon2id, secret: a, secret_file: /p}\n", "passwords.schemes[0].secret_file: cannot be combined with passwords.schemes[0].secret"),
        ("matrix:\n  secret: a\n  secret_file: /s\n", "matrix.secret_file: cannot be combined with matrix.secret"),
    ];
    for (yaml, expected) in cases {
        write(dir.path(), "config.yaml", yaml);
        assert_eq!(
            load_err(dir.path(), &["config.yaml"], &[]),
            format!("config.yaml: {expected}"),
            "{yaml}"
        );
    }
    // Across sources, the message says where the other key came from.
    write(dir.path(), "config.yaml", "database:\n  host: db\n");
    assert_eq!(
        load_err(
            dir.path(),
            &["config.yaml"],
            &[("MAS_DATABASE_URI", "postgresql://u:pw@db/mas")]
        ),
        "config.yaml: database.host: cannot be combined with database.uri \
         (set in environment variable MAS_DATABASE_URI)"
    );
}

#[test]
fn secret_files_are_read_as_mas_reads_them() {
    let dir = TempDir::new().expect("temp dir");
    write(dir.path(), "db-password", "  hunter2\n");
    write(dir.path(), "pepper", "spice\n");
    write(dir.path(), "matrix-secret", "shared\n\n");
    write(
        dir.path(),
        "config.yaml",
        "database:\n  password_file: db-password\n\
         passwords:\n  schemes:\n    - {version: 1, algorithm: bcrypt, cost: 10, unicode_normalization: true, secret_file: pepper}\n    - {version: 2, algorithm: argon2id, secret: inline}\n\
         matrix:\n  secret_file: matrix-secret\n",
    );
    let config = load(dir.path(), &["config.yaml"], &[]).expect("valid");
    let DatabaseConnection::Split(split) = &config.database.connection else {
        panic!("split expected")
    };
    // password_file and the matrix secret_file are trimmed ...
    assert_eq!(split.password.as_ref().map(Secret::expose), Some("hunter2"));
    assert_eq!(
        config.matrix.as_ref().map(|m| m.secret.expose()),
        Some("shared")
    );
    // ... a pepper file is not: the newline is part of the pepper.
    let schemes = config.passwords.schemes();
    assert_eq!(
        schemes[1].pepper.as_ref().map(|p| p.expose()),
        Some(&b"spice\n"[..])
    );
    assert_eq!(
        (schemes[1].cost, schemes[1].unicode_normalization),
        (10, true)
    );
    assert_eq!(
        schemes[0].pepper.as_ref().map(|p| p.expose()),
        Some(&b"inline"[..])
    );
    assert_eq!(
        config.passwords.hashing_scheme().map(|s| s.version),
        Some(2)
    );
    // Nothing secret shows in Debug output.
    let debug = format!("{config:?}");
    for secret in ["hunter2", "spice", "inline", "shared"] {
        assert!(!debug.contains(secret), "{secret} leaked: {debug}");
    }
    write(
        dir.path(),
        "config.yaml",
        "database:\n  password_file: nowhere\n",
    );
    let error = load_err(dir.path(), &["config.yaml"], &[]);
    assert!(
        error.starts_with("config.yaml: database.password_file: cannot read "),
        "{error}"
    );
    assert!(error.contains("nowhere"), "{error}");
}

#[test]
fn a_production_config_loads_unchanged() {
    let dir = TempDir::new().expect("temp dir");
    write(dir.path(), "config.yaml", PRODUCTION_CONFIG);
    let config = load(dir.path(), &["config.yaml"], &[]).expect("valid");
    assert_eq!(
        config.database.connection,
        DatabaseConnection::Split(SplitOptions {
            host: Some("postgres.internal".to_owned()),
            port: Some(5432),
            username: Some("mas".to_owned()),
            password: Some(Secret::new("db-password")),
            database: Some("mas".to_owned()),
            socket: None,
        })
    );
    assert_eq!(config.database.ssl.mode, Some(SslMode::VerifyFull));
    assert_eq!(config.database.max_connections.get(), 20);
    assert_eq!(config.passwords.schemes().len(), 2);
    let matrix = config.matrix.expect("matrix section");
    assert_eq!(
        (matrix.kind, matrix.homeserver.as_str()),
        (HomeserverKind::Synapse, "example.com")
    );
    assert_eq!(matrix.endpoint.as_str(), "https://matrix.example.com/");
}

#[tokio::test]
async fn connects_through_split_options() {
    let db = TestDb::new().await;
    let server = db.options();
    let dir = TempDir::new().expect("temp dir");
    write(
        dir.path(),
        "config.yaml",
        &format!(
            "database:\n  host: {}\n  port: {}\n  username: {}\n  database: {}\n  ssl_mode: disable\nhttp:\n  public_base: https://auth.example.com/\n",
            server.get_host(),
            server.get_port(),
            server.get_username(),
            db.name(),
        ),
    );
    let config = load(dir.path(), &["config.yaml"], &[]).expect("valid");
    let options = config.database.connect_options().expect("options");
    let mut conn = connect(&options, "masctl-test").await.expect("connected");
    let (database, application): (String, String) =
        sqlx::query_as("SELECT current_database()::text, current_setting('application_name')")
            .fetch_one(&mut conn)
            .await
            .expect("querying");
    assert_eq!(
        (database.as_str(), application.as_str()),
        (db.name(), "masctl-test")
    );
    check_schema(&mut conn, false)
        .await
        .expect("the fixture passes the guard");
}

#[tokio::test]
async fn connection_errors_name_the_target_without_password() {
    let options = masctl::db::options_from_url("postgresql://nobody:hunter2@127.0.0.1:1/mas")
        .expect("valid URL");
    let error = connect(&options, "masctl-test")
        .await
        .expect_err("nothing listens on port 1");
    let text = error.to_string();
    assert!(
        text.starts_with(
            "could not connect to PostgreSQL at postgresql://nobody@127.0.0.1:1/mas: "
        ),
        "{text}"
    );
    assert!(!text.contains("hunter2"), "{text}");
}

/// A MAS config as deployed: every section masctl does not read must be ignored untouched.
const PRODUCTION_CONFIG: &str = include_str!("../fixtures/mas-config-production.yaml");
