//! plan → apply → plan against a real MAS-shaped database: convergence for every manifest
//! field, atomicity, the lock, and stale plans.

use std::time::Duration;

use masctl::apply::{self, ApplyError, ApplyOptions, LockError};
use masctl::env::Env;
use masctl::manifest::{self, LoadOptions};
use masctl::model::state::DesiredState;
use masctl::password::{Algorithm, PasswordManager, PasswordScheme};
use masctl::pipeline::{self, Planned};
use masctl::plan;
use sqlx::{Connection, PgConnection};

use crate::common::{dump, TestDb};

/// The provider every manifest here links to; inserted by [`with_provider`].
const PROVIDER: &str = "01J9Z5X2F3K4M5N6P7Q8R9S0T1";

fn manager() -> PasswordManager {
    // bcrypt at its minimum cost keeps the tests fast; the hashing itself is tested elsewhere.
    let scheme = PasswordScheme {
        version: 1,
        algorithm: Algorithm::Bcrypt,
        unicode_normalization: false,
        cost: 4,
        pepper: None,
    };
    PasswordManager::new(true, 3, vec![scheme]).unwrap()
}

fn desired(yaml: &str) -> DesiredState {
    manifest::load_str(
        "users.yaml",
        yaml,
        &LoadOptions {
            allow_plaintext_passwords: true,
        },
    )
    .unwrap()
}

async fn with_provider(conn: &mut PgConnection) {
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

async fn plan_of(conn: &mut PgConnection, desired: &DesiredState) -> Planned {
    pipeline::compute(conn, desired, &manager(), None)
        .await
        .unwrap()
}

async fn apply_planned(
    conn: &mut PgConnection,
    env: &Env,
    desired: &DesiredState,
    planned: &Planned,
) -> Result<apply::ApplyReport, ApplyError> {
    let passwords = pipeline::prepare_passwords(&planned.plan, desired, &manager(), env).unwrap();
    let options = ApplyOptions {
        lock_timeout: Duration::from_secs(2),
    };
    apply::apply(
        conn,
        env,
        &planned.plan,
        &passwords,
        &masctl::snapshot::Scope::all(),
        &options,
        |actual| plan::plan(desired, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
}

/// Plans and applies `yaml`, then checks that a second plan is empty.
async fn converge(conn: &mut PgConnection, env: &Env, yaml: &str) -> plan::Plan {
    let desired = desired(yaml);
    let planned = plan_of(conn, &desired).await;
    apply_planned(conn, env, &desired, &planned).await.unwrap();
    let again = plan_of(conn, &desired).await;
    assert!(
        again.plan.is_empty(),
        "not converged for\n{yaml}\nremaining: {:#?}",
        again.plan.changes
    );
    planned.plan
}

const FULL: &str = r#"
version: 1
users:
  alice:
    admin: true
    emails: [alice@example.org, Alice.Second@Example.org]
    password: "correct horse battery staple"
    password_policy: enforce
    display_name: Alice Liddell
    upstream:
      - { provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: "1001" }
  bob:
    state: locked
    emails: [bob@example.org]
    password: { hash: "$2b$04$abcdefghijklmnopqrstuu6ZyGBvJcU1t6s6N.r3M/Zcr1hNqHfGq", version: 1 }
  carol:
    state: deactivated
registration_tokens:
  - token: welcome-2026
    usage_limit: 50
    expires_at: 2027-01-01T00:00:00.123456789Z
  - token: old
    state: revoked
"#;

#[tokio::test]
async fn every_field_converges_and_rows_match_mas() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    with_provider(&mut conn).await;
    let env = Env::test(1);
    let plan = converge(&mut conn, &env, FULL).await;
    insta::assert_snapshot!(
        "full_plan",
        masctl::render::human::render(&plan, &Default::default(), false)
    );
    insta::assert_snapshot!("full_dump", redact_hashes(&dump(&mut conn).await));

    // Each field changed on its own must converge too.
    let steps = [
        (
            "admin",
            FULL.replace("    admin: true\n", "    admin: false\n"),
        ),
        (
            "emails",
            FULL.replace(
                "[alice@example.org, Alice.Second@Example.org]",
                "[ALICE@example.org, third@example.org]",
            ),
        ),
        (
            "emails removed",
            FULL.replace("[alice@example.org, Alice.Second@Example.org]", "[]"),
        ),
        (
            "password",
            FULL.replace(
                "correct horse battery staple",
                "another long passphrase here",
            ),
        ),
        ("upstream", FULL.replace("\"1001\"", "\"2002\"")),
        (
            "upstream removed",
            FULL.replace(
                "      - { provider: 01J9Z5X2F3K4M5N6P7Q8R9S0T1, subject: \"1001\" }\n",
                "",
            )
            .replace("    upstream:\n", "    upstream: []\n"),
        ),
        (
            "unlock",
            FULL.replace("    state: locked\n", "    state: active\n"),
        ),
        (
            "lock",
            FULL.replace("    admin: true\n", "    admin: true\n    state: locked\n"),
        ),
        (
            "reactivate",
            FULL.replace("    state: deactivated\n", "    state: active\n"),
        ),
        (
            "deactivate",
            FULL.replace("    state: locked\n", "    state: deactivated\n"),
        ),
        (
            "hash",
            FULL.replace(
                "$2b$04$abcdefghijklmnopqrstuu6ZyGBvJcU1t6s6N.r3M/Zcr1hNqHfGq",
                "$2b$04$bbcdefghijklmnopqrstuu6ZyGBvJcU1t6s6N.r3M/Zcr1hNqHfGq",
            )
            .replace(
                "    state: locked\n",
                "    state: locked\n    password_policy: enforce\n",
            ),
        ),
        (
            "token limit",
            FULL.replace("usage_limit: 50", "usage_limit: 5"),
        ),
        ("token unlimited", FULL.replace("    usage_limit: 50\n", "")),
        (
            "token expiry",
            FULL.replace(
                "2027-01-01T00:00:00.123456789Z",
                "2028-06-01T12:00:00+02:00",
            ),
        ),
        ("token unrevoked", FULL.replace("    state: revoked\n", "")),
        (
            "token revoked",
            FULL.replace(
                "    usage_limit: 50\n",
                "    usage_limit: 50\n    state: revoked\n",
            ),
        ),
    ];
    for (what, yaml) in steps {
        converge(&mut conn, &env, FULL).await;
        let plan = converge(&mut conn, &env, &yaml).await;
        assert!(!plan.is_empty(), "step `{what}` planned nothing");
    }
}

/// Password hashes are salted at random by bcrypt's own RNG use; keep only their scheme.
fn redact_hashes(dump: &str) -> String {
    dump.lines()
        .map(|line| match line.find("$2b$") {
            Some(start) => format!(
                "{}$2b$<hash>{}",
                &line[..start],
                line[start..]
                    .find(' ')
                    .map_or("", |end| &line[start + end..])
            ),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn a_failing_statement_rolls_everything_back() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    with_provider(&mut conn).await;
    // A trigger that fails the insert of one particular email, late in the apply.
    sqlx::raw_sql(
        "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
           IF NEW.email = 'boom@example.org' THEN RAISE EXCEPTION 'refused by test'; END IF; RETURN NEW; END $$;
         CREATE TRIGGER refuse BEFORE INSERT ON user_emails FOR EACH ROW EXECUTE FUNCTION refuse();",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    let before = dump(&mut conn).await;
    let desired = desired(&FULL.replace("bob@example.org", "boom@example.org"));
    let planned = plan_of(&mut conn, &desired).await;
    let error = apply_planned(&mut conn, &Env::test(2), &desired, &planned)
        .await
        .unwrap_err();
    let chain = std::iter::successors(Some(&error as &dyn std::error::Error), |e| e.source())
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    assert!(chain.contains("refused by test"), "{chain}");
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn a_plan_made_before_a_concurrent_change_is_stale() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    with_provider(&mut conn).await;
    let env = Env::test(3);
    converge(&mut conn, &env, FULL).await;
    let desired = desired(&FULL.replace("    admin: true\n", "    admin: false\n"));
    let planned = plan_of(&mut conn, &desired).await;
    // Someone adds an email to alice between plan and apply.
    sqlx::query("INSERT INTO user_emails (user_email_id, user_id, email, created_at) SELECT gen_random_uuid(), user_id, 'x@example.org', now() FROM users WHERE username = 'alice'")
        .execute(&mut conn)
        .await
        .unwrap();
    let before = dump(&mut conn).await;
    let error = apply_planned(&mut conn, &env, &desired, &planned)
        .await
        .unwrap_err();
    assert!(matches!(error, ApplyError::Stale { .. }), "{error}");
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn applying_an_empty_plan_writes_nothing() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    with_provider(&mut conn).await;
    let env = Env::test(4);
    converge(&mut conn, &env, FULL).await;
    let before = dump(&mut conn).await;
    let desired = desired(FULL);
    let planned = plan_of(&mut conn, &desired).await;
    assert!(planned.plan.is_empty());
    apply_planned(&mut conn, &env, &desired, &planned)
        .await
        .unwrap();
    assert_eq!(dump(&mut conn).await, before);
}

#[tokio::test]
async fn the_lock_serialises_applies_and_names_its_holder() {
    let db = TestDb::new().await;
    let mut holder = db.connect().await;
    sqlx::query("SET application_name = 'masctl apply (pid 4242)'")
        .execute(&mut holder)
        .await
        .unwrap();
    let mut tx = holder.begin().await.unwrap();
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(apply::lock::LOCK_KEY)
        .execute(&mut *tx)
        .await
        .unwrap();

    let mut conn = db.connect().await;
    let desired = desired("version: 1\nusers:\n  dave: {}\n");
    let planned = plan_of(&mut conn, &desired).await;
    let passwords =
        pipeline::prepare_passwords(&planned.plan, &desired, &manager(), &Env::test(5)).unwrap();
    let mut seen = None;
    let options = ApplyOptions {
        lock_timeout: Duration::from_millis(600),
    };
    let error = apply::apply(
        &mut conn,
        &Env::test(5),
        &planned.plan,
        &passwords,
        &masctl::snapshot::Scope::all(),
        &options,
        |a| plan::plan(&desired, a, &planned.facts),
        |h| seen = h.cloned(),
        &mut |_| {},
    )
    .await
    .unwrap_err();
    let ApplyError::Lock(LockError::Timeout {
        holder: Some(holder_info),
        ..
    }) = error
    else {
        panic!("{error}")
    };
    assert_eq!(holder_info.application_name, "masctl apply (pid 4242)");
    assert_eq!(
        seen.map(|h| h.application_name),
        Some("masctl apply (pid 4242)".to_owned())
    );
    let users: i64 = sqlx::query_scalar("SELECT count(*) FROM users")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(users, 0);

    // Once the holder commits, the same apply goes through.
    tx.commit().await.unwrap();
    apply_planned(&mut conn, &Env::test(5), &desired, &planned)
        .await
        .unwrap();
}

#[tokio::test]
async fn concurrent_applies_never_both_write_the_same_user() {
    let db = TestDb::new().await;
    let yaml = "version: 1\nusers:\n  erin:\n    emails: [erin@example.org]\n";
    let mut tasks = Vec::new();
    for seed in 0..4 {
        let url = db.url();
        tasks.push(tokio::spawn(async move {
            let mut conn = PgConnection::connect(&url).await.unwrap();
            let desired = desired(yaml);
            let planned = plan_of(&mut conn, &desired).await;
            apply_planned(&mut conn, &Env::test(10 + seed), &desired, &planned).await
        }));
    }
    let mut applied = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(_) => applied += 1,
            // The losers planned a create that the winner already made: their plan is stale.
            Err(ApplyError::Stale { .. }) => {}
            Err(other) => panic!("{other}"),
        }
    }
    assert!(applied >= 1);
    let mut conn = db.connect().await;
    let counts: (i64, i64, i64) = sqlx::query_as("SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM user_emails), (SELECT count(*) FROM queue_jobs)")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(counts, (1, 1, 1));
}
