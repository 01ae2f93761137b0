//! Secrets never leave masctl: plaintext passwords (from the environment, a file and the
//! manifest), a pepper and a homeserver secret in MAS's config, and a database password (in
//! `--database-url`, `DATABASE_URL` and the config's `database` section) are used in real runs
//! of every command, successful and failing, and then searched for in everything masctl
//! printed or wrote. `reliability_redaction` searches `Debug` output and snapshot files.

use std::path::Path;

use sqlx::{Executor, PgConnection};

use crate::common::process::{tally, Masctl, Output};
use crate::common::{server_options, TestDb};
use crate::reliability_redaction::{files_under, rows_holding_secrets};

/// The secrets; each is distinctive, so that finding one anywhere means it leaked.
pub(crate) const ENV_PASSWORD: &str = "env-secret-Kp3vXq9Lm2aa";
pub(crate) const NEW_ENV_PASSWORD: &str = "env-secret-Rf6Bh2Uc8bb";
pub(crate) const FILE_PASSWORD: &str = "file-secret-Zt8Wn4Rb7cc";
pub(crate) const LITERAL_PASSWORD: &str = "literal-secret-Hq5Js1Ty6dd";
pub(crate) const PEPPER: &str = "pepper-secret-Vc2Nd8Gx4ee";
pub(crate) const FILE_PEPPER: &str = "pepper-file-secret-Lm9Qa3Ws5ff";
pub(crate) const HOMESERVER_SECRET: &str = "hs-secret-Pj4Ke7Dz1gg";
pub(crate) const DB_PASSWORD: &str = "dbpass-secret-Yw7Mk3Pe9hh";
pub(crate) const MANAGE_PASSWORD: &str = "manage-secret-Xb5Vt8Nq2ii";

pub(crate) fn secrets() -> Vec<&'static str> {
    vec![
        ENV_PASSWORD,
        NEW_ENV_PASSWORD,
        FILE_PASSWORD,
        LITERAL_PASSWORD,
        PEPPER,
        FILE_PEPPER,
        HOMESERVER_SECRET,
        DB_PASSWORD,
        MANAGE_PASSWORD,
    ]
}

/// A login role with a password, created for the test and dropped afterwards.
struct Role {
    name: String,
}

impl Role {
    async fn create(db: &TestDb) -> Self {
        let name = format!("masctl_secret_{:08x}", rand::random::<u32>());
        let mut conn = db.connect().await;
        conn.execute(
            format!(
                "CREATE ROLE {name} LOGIN PASSWORD '{DB_PASSWORD}';
                 GRANT ALL ON ALL TABLES IN SCHEMA public TO {name};
                 GRANT CREATE ON DATABASE \"{}\" TO {name};",
                db.name()
            )
            .as_str(),
        )
        .await
        .unwrap();
        Self { name }
    }

    /// Returns a URL for `db` with this role and its password.
    fn url(&self, db: &TestDb, port: u16) -> String {
        let server = server_options();
        format!(
            "postgresql://{}:{DB_PASSWORD}@{}:{port}/{}",
            self.name,
            server.get_host(),
            db.name()
        )
    }

    async fn drop_in(self, db: &TestDb) {
        let mut conn: PgConnection = db.connect().await;
        conn.execute(format!("DROP OWNED BY {0}; DROP ROLE {0}", self.name).as_str())
            .await
            .unwrap();
    }
}

/// Writes the manifests, the password file and MAS's config into `dir`.
fn write_inputs(dir: &Path, db: &TestDb, role: &Role) {
    std::fs::create_dir_all(dir.join("secrets")).unwrap();
    std::fs::write(dir.join("secrets/bob.txt"), format!("{FILE_PASSWORD}\n")).unwrap();
    std::fs::write(dir.join("pepper.bin"), FILE_PEPPER).unwrap();
    std::fs::write(
        dir.join("users.yaml"),
        format!(
            "version: 1
users:
  alice:
    password: {{ env: ALICE_PASSWORD }}
    password_policy: enforce
    emails: [alice@example.org]
  bob:
    password: {{ file: secrets/bob.txt }}
  carol:
    password: \"{LITERAL_PASSWORD}\"
    password_policy: enforce
"
        ),
    )
    .unwrap();
    let server = server_options();
    std::fs::write(
        dir.join("mas.yaml"),
        format!(
            "database:
  host: {host}
  port: {port}
  username: {role}
  password: {DB_PASSWORD}
  database: {database}
passwords:
  schemes:
    - version: 1
      algorithm: bcrypt
      cost: 4
      secret: {PEPPER}
    - version: 2
      algorithm: argon2id
      secret_file: pepper.bin
matrix:
  homeserver: example.org
  secret: {HOMESERVER_SECRET}
  endpoint: http://127.0.0.1:9/
",
            host = server.get_host(),
            port = server.get_port(),
            role = role.name,
            database = db.name(),
        ),
    )
    .unwrap();
}

/// One run: what it is for, its arguments, extra environment, and the exit code it must end with.
type Run = (&'static str, Vec<String>, Vec<(&'static str, String)>, i32);

/// Every way of running masctl here, failing ones included.
fn runs(url: &str, bad_port_url: &str, bad_db_url: &str) -> Vec<Run> {
    let strings = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let with_url = |args: &[&str], url: &str| {
        let mut all = strings(&["--config", "mas.yaml", "--database-url", url]);
        all.extend(strings(args));
        all
    };
    let config_only = |args: &[&str]| {
        let mut all = strings(&["--config", "mas.yaml"]);
        all.extend(strings(args));
        all
    };
    let plaintext = "--allow-plaintext-passwords";
    let env = vec![("ALICE_PASSWORD", ENV_PASSWORD.to_owned())];
    let new_env = vec![("ALICE_PASSWORD", NEW_ENV_PASSWORD.to_owned())];
    vec![
        (
            "validate",
            strings(&["validate", plaintext, "users.yaml"]),
            vec![],
            0,
        ),
        (
            "validate, plaintext refused",
            strings(&["validate", "users.yaml"]),
            vec![],
            1,
        ),
        (
            "save a plan, printed as JSON",
            with_url(
                &[
                    "plan",
                    plaintext,
                    "--output",
                    "json",
                    "-o",
                    "saved.json",
                    "users.yaml",
                ],
                url,
            ),
            env.clone(),
            0,
        ),
        (
            "apply the saved plan",
            with_url(
                &[
                    "apply",
                    "--yes",
                    plaintext,
                    "--plan",
                    "saved.json",
                    "users.yaml",
                ],
                url,
            ),
            env.clone(),
            0,
        ),
        ("export", with_url(&["export"], url), vec![], 0),
        (
            "export to a file",
            with_url(&["export", "-o", "exported.yaml"], url),
            vec![],
            0,
        ),
        (
            "plan without the env var",
            with_url(&["plan", plaintext, "users.yaml"], url),
            vec![],
            1,
        ),
        (
            "plan after apply (verifies with the pepper)",
            config_only(&["plan", plaintext, "--detailed-exitcode", "users.yaml"]),
            env.clone(),
            0,
        ),
        (
            "apply a changed password as JSON",
            with_url(
                &[
                    "apply",
                    "--yes",
                    plaintext,
                    "--output",
                    "json",
                    "users.yaml",
                ],
                url,
            ),
            new_env.clone(),
            0,
        ),
        (
            "apply through DATABASE_URL",
            config_only(&["apply", "--yes", plaintext, "users.yaml"]),
            vec![
                ("DATABASE_URL", url.to_owned()),
                ("ALICE_PASSWORD", ENV_PASSWORD.to_owned()),
            ],
            0,
        ),
        (
            "manage set-password",
            with_url(
                &[
                    "manage",
                    "set-password",
                    "alice",
                    MANAGE_PASSWORD,
                    "--ignore-complexity",
                ],
                url,
            ),
            vec![],
            0,
        ),
        (
            "manage set-password for a missing user",
            with_url(&["manage", "set-password", "nobody", MANAGE_PASSWORD], url),
            vec![],
            1,
        ),
        (
            "plan as Markdown",
            with_url(
                &["plan", plaintext, "--output", "markdown", "users.yaml"],
                url,
            ),
            env.clone(),
            0,
        ),
        (
            "unreachable server",
            with_url(&["plan", plaintext, "users.yaml"], bad_port_url),
            env.clone(),
            1,
        ),
        (
            "no such database",
            with_url(&["plan", plaintext, "users.yaml"], bad_db_url),
            env.clone(),
            1,
        ),
        (
            "invalid URL",
            with_url(&["plan", plaintext, "users.yaml"], &url.replace("@", "@[")),
            env.clone(),
            1,
        ),
        (
            "not a postgres URL",
            with_url(
                &["plan", plaintext, "users.yaml"],
                &url.replace("postgresql", "mysql"),
            ),
            env,
            1,
        ),
    ]
}

#[tokio::test]
async fn no_secret_appears_in_any_output_file_or_snapshot() {
    let db = TestDb::new().await;
    let role = Role::create(&db).await;
    let dir = tempfile::tempdir().unwrap();
    write_inputs(dir.path(), &db, &role);
    let port = server_options().get_port();
    let url = role.url(&db, port);
    let bad_port = role.url(&db, 9);
    let bad_db = url.replace(db.name(), "masctl_no_such_database");

    let mut outputs: Vec<(String, Output)> = Vec::new();
    for (what, args, env, code) in runs(&url, &bad_port, &bad_db) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut command = Masctl::new(dir.path(), &args);
        for (name, value) in &env {
            command = command.env(name, value);
        }
        let output = command.run().await;
        assert_eq!(output.code, Some(code), "{what}: {}", output.both());
        outputs.push((what.to_owned(), output));
    }
    // Files masctl creates that may hold sensitive data are private from the start.
    for private in ["saved.json", "exported.yaml"] {
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(dir.path().join(private))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "{private} has mode {mode:o}");
    }
    let rows = rows_holding_secrets(&db).await;

    let mut searched = 0;
    for (what, output) in &outputs {
        for secret in secrets() {
            assert!(
                !output.stdout.contains(secret) && !output.stderr.contains(secret),
                "{what} printed a secret:\n{}",
                output.both()
            );
        }
        searched += 2;
    }
    // Every file masctl wrote (output captures included) other than the inputs.
    let inputs = ["users.yaml", "mas.yaml", "pepper.bin", "bob.txt"];
    for file in files_under(dir.path()) {
        let name = file.file_name().unwrap().to_string_lossy().into_owned();
        if inputs.contains(&name.as_str()) {
            continue;
        }
        let content = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        for secret in secrets() {
            assert!(
                !content.contains(secret),
                "{} holds a secret",
                file.display()
            );
        }
        searched += 1;
    }
    // Password hashes are secrets too: no output shows one.
    for (what, output) in &outputs {
        assert!(
            !output.stdout.contains("$2b$") && !output.stdout.contains("$argon2id$"),
            "{what} printed a hash"
        );
    }
    // The database password is shown redacted where the target is named.
    let (_, unreachable) = outputs
        .iter()
        .find(|(what, _)| what == "unreachable server")
        .unwrap();
    // (miette wraps long lines anywhere in a URL: compare without whitespace.)
    let target = format!(
        "couldnotconnecttoPostgreSQLatpostgresql://{}@{}:9/{}:",
        role.name,
        server_options().get_host(),
        db.name()
    );
    assert!(
        unreachable.flat_stderr().replace(' ', "").contains(&target),
        "{}",
        unreachable.both()
    );
    role.drop_in(&db).await;
    tally(&format!(
        "secrets: {} secrets searched in {searched} outputs and files of {} runs and in {rows} \
         database rows: 0 found; saved plan and export created mode 0600",
        secrets().len(),
        outputs.len(),
    ));
}
