//! Emergency changes that stick: what a `manage` command changed is recorded in masctl's own
//! schema, shown by the next `plan`, and never silently reverted by `apply`.
//!
//! The `manage` commands themselves live elsewhere; these tests make the change the way they
//! do (a one-off plan through `apply_with` with `EmergencyPolicy::Record`), or insert the
//! record directly, and then run the GitOps side through the binary.

use std::time::Duration;

use masctl::apply::{self, ApplyError, ApplyOptions, Bookkeeping, EmergencyPolicy};
use masctl::env::Env;
use masctl::ledger;
use masctl::manifest::{self, LoadOptions};
use masctl::model::state::DesiredState;
use masctl::password::{PasswordManager, PasswordScheme};
use masctl::pipeline;
use masctl::plan::emergency::{EmergencyChange, EmergencyObject, EmergencyValue};
use masctl::plan::{self, Change};
use masctl::snapshot::Scope;
use sqlx::PgConnection;

use super::support::{stable, Workspace};
use crate::common::{dump, TestDb};

const USERS: &str =
    "version: 1\nusers:\n  alice: { admin: true }\n  bob: { emails: [bob@example.org] }\n";

fn desired(yaml: &str) -> DesiredState {
    manifest::load_str("users.yaml", yaml, &LoadOptions::default()).unwrap()
}

fn manager() -> PasswordManager {
    PasswordManager::new(true, 0, vec![PasswordScheme::default()]).unwrap()
}

/// Does what `masctl manage <command>` does: plans `yaml` for the named users only and applies
/// it, recording the changes as emergency changes made by `command`.
async fn manage(conn: &mut PgConnection, command: &str, yaml: &str, users: &[&str]) -> usize {
    manage_records(conn, command, yaml, users).await.len()
}

/// Like [`manage`], returning the records written.
async fn manage_records(
    conn: &mut PgConnection,
    command: &str,
    yaml: &str,
    users: &[&str],
) -> Vec<masctl::plan::emergency::EmergencyRecord> {
    let mut desired = desired(yaml);
    desired.retain_targets(users, &[]);
    let planned = pipeline::compute(conn, &desired, &manager(), None)
        .await
        .unwrap();
    // The real clock: records made by several calls must get increasing times and distinct ids.
    let env = Env::system();
    let passwords = pipeline::prepare_passwords(&planned.plan, &desired, &manager(), &env).unwrap();
    let books = Bookkeeping {
        saved_plan: None,
        emergency: EmergencyPolicy::Record { command },
    };
    let report = apply::apply_with(
        conn,
        &env,
        &planned.plan,
        &passwords,
        &Scope::all(),
        &ApplyOptions {
            lock_timeout: Duration::from_secs(2),
        },
        &books,
        |actual| plan::plan(&desired, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
    .unwrap();
    report.emergency_records
}

/// `(command, field, value, resolution)` of every record, oldest first.
async fn records(conn: &mut PgConnection) -> Vec<(String, String, String, Option<String>)> {
    sqlx::query_as(
        "SELECT command, field, value::text, resolution FROM masctl.emergency_changes \
         ORDER BY created_at, emergency_change_id",
    )
    .fetch_all(conn)
    .await
    .unwrap()
}

async fn is_locked(conn: &mut PgConnection, username: &str) -> bool {
    sqlx::query_scalar("SELECT locked_at IS NOT NULL FROM users WHERE username = $1")
        .bind(username)
        .fetch_one(conn)
        .await
        .unwrap()
}

#[tokio::test]
async fn an_emergency_lock_survives_the_next_pipeline_unless_reverted() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", USERS);
    assert_eq!(ws.masctl(&["apply", "users.yaml", "--yes"], &[]).code, 0);
    let mut conn = db.connect().await;
    // The fixture is MAS's schema only; nothing so far needed masctl's own.
    let own: Option<String> = sqlx::query_scalar("SELECT to_regnamespace('masctl')::text")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(own, None);

    // 3 a.m.: `masctl manage lock-user bob`.
    let recorded = manage_records(
        &mut conn,
        "manage lock-user",
        &USERS.replace("bob: {", "bob: { state: locked,"),
        &["bob"],
    )
    .await;
    // What the manage command prints, so that the lock can be made permanent.
    let hints: Vec<String> = recorded
        .iter()
        .map(|record| record.change.value.manifest_hint(&record.change.object))
        .collect();
    assert_eq!(hints, ["set `state: locked` for user bob"]);
    assert_eq!(
        records(&mut conn).await,
        [(
            "manage lock-user".to_owned(),
            "state".to_owned(),
            r#"{"field": "state", "state": "locked"}"#.to_owned(),
            None
        )]
    );

    // The next pipeline run: plan shows it, apply refuses to undo it.
    let plan = ws.masctl(&["plan", "users.yaml"], &[]);
    assert_eq!(plan.code, 0, "{plan:?}");
    insta::assert_snapshot!("emergency_plan", plan.snapshot());
    let json = ws.masctl(&["plan", "users.yaml", "--output", "json"], &[]);
    let json: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    assert_eq!(json["emergencies"][0]["verdict"], "reverts");
    assert_eq!(json["emergencies"][0]["command"], "manage lock-user");
    let before = dump(&mut conn).await;
    let refused = ws.masctl(&["apply", "users.yaml", "--yes"], &[]);
    assert_eq!(refused.code, 4, "{refused:?}");
    // Joined first: miette wraps long lines, which may split a date.
    insta::assert_snapshot!(
        "emergency_refusal",
        stable(&refused.stderr.replace("\n  │ ", ""))
    );
    assert_eq!(dump(&mut conn).await, before);
    // A saved plan is refused the same way.
    assert_eq!(
        ws.masctl(&["plan", "users.yaml", "-o", "plan.json"], &[])
            .code,
        0
    );
    let refused = ws.masctl(
        &["apply", "--plan", "plan.json", "users.yaml", "--yes"],
        &[],
    );
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(is_locked(&mut conn, "bob").await);

    // Reverting on purpose unlocks bob and closes the record.
    let reverted = ws.masctl(&["apply", "users.yaml", "--yes", "--revert-emergency"], &[]);
    assert_eq!(reverted.code, 0, "{reverted:?}");
    assert!(
        reverted.stdout.contains("Closed 1 emergency record."),
        "{reverted:?}"
    );
    assert!(!is_locked(&mut conn, "bob").await);
    assert_eq!(records(&mut conn).await[0].3.as_deref(), Some("reverted"));
    let quiet = ws.masctl(&["plan", "users.yaml"], &[]);
    assert!(!quiet.stdout.contains("Emergency"), "{quiet:?}");
}

#[tokio::test]
async fn a_manifest_that_agrees_closes_the_record() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", USERS);
    assert_eq!(ws.masctl(&["apply", "users.yaml", "--yes"], &[]).code, 0);
    let mut conn = db.connect().await;
    let locked = USERS.replace("bob: {", "bob: { state: locked,");
    manage(&mut conn, "manage lock-user", &locked, &["bob"]).await;

    ws.write("users.yaml", &locked);
    let plan = ws.masctl(&["plan", "users.yaml", "--detailed-exitcode"], &[]);
    assert_eq!(plan.code, 0, "nothing to change: {plan:?}");
    assert!(
        plan.stdout.contains("the manifest now says the same"),
        "{plan:?}"
    );
    let applied = ws.masctl(&["apply", "users.yaml", "--yes"], &[]);
    assert_eq!(applied.code, 0, "{applied:?}");
    assert_eq!(records(&mut conn).await[0].3.as_deref(), Some("adopted"));
    assert!(is_locked(&mut conn, "bob").await);
}

#[tokio::test]
async fn records_of_unmanaged_objects_stay_open_and_outdated_ones_close() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", USERS);
    assert_eq!(ws.masctl(&["apply", "users.yaml", "--yes"], &[]).code, 0);
    let mut conn = db.connect().await;
    // An emergency account the manifest does not list, and a lock someone else undid since.
    let both =
        format!("{USERS}  carol: {{ admin: true }}\n").replace("bob: {", "bob: { state: locked,");
    assert_eq!(
        manage(&mut conn, "manage register-user", &both, &["carol"]).await,
        2
    );
    manage(&mut conn, "manage lock-user", &both, &["bob"]).await;
    sqlx::query("UPDATE users SET locked_at = NULL WHERE username = 'bob'")
        .execute(&mut conn)
        .await
        .unwrap();

    let plan = ws.masctl(&["plan", "users.yaml"], &[]);
    assert!(
        plan.stdout.contains("the database no longer holds this"),
        "{plan:?}"
    );
    assert!(
        plan.stdout
            .contains("to make it permanent, set `state: active` for user carol"),
        "{plan:?}"
    );
    assert_eq!(ws.masctl(&["apply", "users.yaml", "--yes"], &[]).code, 0);
    let resolutions: Vec<Option<String>> =
        records(&mut conn).await.into_iter().map(|r| r.3).collect();
    assert_eq!(resolutions, [None, None, Some("superseded".to_owned())]);

    // Carol joins the manifest without admin: that undoes register-user's `--admin`.
    ws.write("users.yaml", &format!("{USERS}  carol: {{}}\n"));
    let refused = ws.masctl(&["apply", "users.yaml", "--yes"], &[]);
    assert_eq!(refused.code, 4, "{refused:?}");
    assert!(
        refused
            .stderr
            .contains("admin flag set by `masctl manage register-user`"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn manage_records_what_it_left_behind() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(9);
    ledger::ensure_schema(&mut conn).await.unwrap();
    ledger::ensure_schema(&mut conn).await.unwrap();
    let seed = "version: 1\nusers:\n  dan: {}\nregistration_tokens: [{ token: welcome }]\n";
    let mut desired = desired(seed);
    let planned = pipeline::compute(&mut conn, &desired, &manager(), None)
        .await
        .unwrap();
    let passwords = pipeline::prepare_passwords(&planned.plan, &desired, &manager(), &env).unwrap();
    apply::apply(
        &mut conn,
        &env,
        &planned.plan,
        &passwords,
        &Scope::all(),
        &ApplyOptions {
            lock_timeout: Duration::from_secs(2),
        },
        |actual| plan::plan(&desired, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
    .unwrap();

    // `lock-user --deactivate`: two changes, one resulting state.
    let deactivated = "version: 1\nusers:\n  dan: { state: deactivated }\n";
    desired = masctl::manifest::load_str("x.yaml", deactivated, &LoadOptions::default()).unwrap();
    let planned = pipeline::compute(&mut conn, &desired, &manager(), None)
        .await
        .unwrap();
    let mut changes = planned.plan.changes.clone();
    let user = match &changes[0] {
        Change::DeactivateUser { user } => user.clone(),
        other => panic!("{other:?}"),
    };
    changes.insert(0, Change::LockUser { user: user.clone() });
    changes.push(Change::AddEmail {
        user: user.clone(),
        email: masctl::model::EmailAddress::new_unchecked("dan@example.org".to_owned()),
    });
    changes.push(Change::SetPassword {
        user,
        password: plan::PasswordWrite {
            source: plan::PasswordWriteSource::CommandLine,
        },
    });
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    sqlx::query(
        "UPDATE users SET locked_at = now(), deactivated_at = now() WHERE username = 'dan'",
    )
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("INSERT INTO user_emails (user_email_id, user_id, email, created_at) SELECT gen_random_uuid(), user_id, 'dan@example.org', now() FROM users WHERE username = 'dan'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let password_id = masctl::ids::to_uuid(ulid::Ulid(0x0190_0000_0000_0000_0000_0000_0000_00AA));
    sqlx::query("INSERT INTO user_passwords (user_password_id, user_id, hashed_password, version, created_at) SELECT $1, user_id, 'x', 1, now() FROM users WHERE username = 'dan'")
        .bind(password_id)
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("UPDATE user_registration_tokens SET usage_limit = 3")
        .execute(&mut *tx)
        .await
        .unwrap();
    let token_id: uuid::Uuid =
        sqlx::query_scalar("SELECT user_registration_token_id FROM user_registration_tokens")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
    changes.push(Change::UpdateToken {
        id: masctl::ids::from_uuid(token_id),
        token: "welcome".to_owned(),
        usage_limit: Some(3),
        expires_at: None,
    });
    let written = ledger::emergency::record_changes(&mut tx, &env, "manage test", &changes)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let values: Vec<EmergencyValue> = written.into_iter().map(|r| r.change.value).collect();
    insta::assert_debug_snapshot!("derived_records", values);

    // A second record for the same field supersedes the first; one open record per field.
    let open = ledger::emergency::open(&mut conn).await.unwrap();
    let dan = open[0].change.object.clone();
    let again = EmergencyChange {
        command: "manage unlock-user".to_owned(),
        object: dan,
        value: EmergencyValue::State {
            state: masctl::model::UserState::Active,
        },
    };
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    ledger::emergency::record(&mut tx, &env, &again)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let open = ledger::emergency::open(&mut conn).await.unwrap();
    assert_eq!(open.len(), 4);
    assert!(open
        .iter()
        .any(|r| r.change.command == "manage unlock-user"));
    assert!(matches!(
        open[0].change.object,
        EmergencyObject::User { .. }
    ));
}

#[tokio::test]
async fn the_transaction_itself_refuses_reverts_and_replays() {
    let db = TestDb::new().await;
    let ws = Workspace::new(&db);
    ws.write("users.yaml", USERS);
    assert_eq!(ws.masctl(&["apply", "users.yaml", "--yes"], &[]).code, 0);
    let mut conn = db.connect().await;
    manage(
        &mut conn,
        "manage demote-admin",
        &USERS.replace("admin: true", "admin: false"),
        &["alice"],
    )
    .await;
    let desired = desired(USERS);
    let planned = pipeline::compute(&mut conn, &desired, &manager(), None)
        .await
        .unwrap();
    let env = Env::test(11);
    let passwords = pipeline::prepare_passwords(&planned.plan, &desired, &manager(), &env).unwrap();
    let options = ApplyOptions {
        lock_timeout: Duration::from_secs(2),
    };
    let before = dump(&mut conn).await;
    let checked = Bookkeeping {
        saved_plan: None,
        emergency: EmergencyPolicy::Check {
            desired: &desired,
            revert_allowed: false,
        },
    };
    let error = apply::apply_with(
        &mut conn,
        &env,
        &planned.plan,
        &passwords,
        &Scope::all(),
        &options,
        &checked,
        |actual| plan::plan(&desired, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(matches!(error, ApplyError::EmergencyRevert(_)), "{error}");
    assert_eq!(dump(&mut conn).await, before);

    // A plan id already in masctl.applied_plans is refused inside the transaction too.
    let applied = ledger::plans::AppliedPlan {
        plan_id: ulid::Ulid(99),
        manifest_digest: "d".to_owned(),
        basis: planned.plan.basis.0.clone(),
        changes: planned.plan.changes.len(),
    };
    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
    ledger::plans::record(&mut tx, &env, &applied)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let replay = Bookkeeping {
        saved_plan: Some(applied),
        emergency: EmergencyPolicy::Check {
            desired: &desired,
            revert_allowed: true,
        },
    };
    let error = apply::apply_with(
        &mut conn,
        &env,
        &planned.plan,
        &passwords,
        &Scope::all(),
        &options,
        &replay,
        |actual| plan::plan(&desired, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
    .unwrap_err();
    assert!(
        matches!(error, ApplyError::AlreadyApplied { .. }),
        "{error}"
    );
}

/// The whole loop through the binary: an on-call `masctl manage lock-user` is recorded, the
/// next pipeline's plan shows it and its apply refuses to unlock (exit 4), until the operator
/// either adopts it in the manifest or passes `--revert-emergency`.
#[tokio::test]
async fn a_manage_lock_survives_the_next_pipeline_run() {
    let db = TestDb::new().await;
    let ws = super::support::Workspace::new(&db);
    ws.write("users.yaml", "version: 1\nusers: { ann: {}, ben: {} }\n");
    assert_eq!(ws.masctl(&["apply", "users.yaml", "--yes"], &[]).code, 0);

    let locked = ws.masctl(&["manage", "lock-user", "ben"], &[]);
    assert_eq!(locked.code, 0, "{locked:?}");
    let plan = ws.masctl(&["plan", "users.yaml"], &[]);
    assert!(
        plan.stdout.contains("manage lock-user") || plan.stderr.contains("manage lock-user"),
        "{plan:?}"
    );
    let mut conn = db.connect().await;
    let before = dump(&mut conn).await;
    let refused = ws.masctl(&["apply", "users.yaml", "--yes"], &[]);
    assert_eq!(refused.code, 4, "{refused:?}");
    assert_eq!(dump(&mut conn).await, before);

    // Adopting the lock in the manifest settles it: nothing to revert, nothing refused.
    ws.write(
        "adopted.yaml",
        "version: 1\nusers: { ann: {}, ben: { state: locked } }\n",
    );
    let adopted = ws.masctl(&["apply", "adopted.yaml", "--yes"], &[]);
    assert_eq!(adopted.code, 0, "{adopted:?}");

    // A second emergency, reverted on purpose.
    assert_eq!(ws.masctl(&["manage", "lock-user", "ann"], &[]).code, 0);
    let reverted = ws.masctl(
        &["apply", "adopted.yaml", "--yes", "--revert-emergency"],
        &[],
    );
    assert_eq!(reverted.code, 0, "{reverted:?}");
    let ann_locked: bool =
        sqlx::query_scalar("SELECT locked_at IS NOT NULL FROM users WHERE username = 'ann'")
            .fetch_one(&mut conn)
            .await
            .unwrap();
    assert!(!ann_locked);
}
