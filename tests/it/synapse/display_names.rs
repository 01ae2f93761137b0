//! Display names through plan and apply against real Synapse and a real MAS-shaped database:
//! plan reads them through `_synapse/mas/query_user`, shows a change only when Synapse's value
//! differs, counts a pending `provision-user` job as "on its way", and converges once MAS's
//! worker (played here through the same API) has run.

use std::time::Duration;

use masctl::apply::{self, ApplyOptions};
use masctl::env::Env;
use masctl::homeserver::HomeserverClient;
use masctl::manifest::{self, LoadOptions};
use masctl::model::state::DesiredState;
use masctl::password::{Algorithm, PasswordManager, PasswordScheme};
use masctl::pipeline::{self, Planned};
use masctl::plan::{self, Change};
use masctl::{ids, render};
use sqlx::PgConnection;
use uuid::Uuid;

use super::{localpart, shared};
use crate::common::TestDb;

pub(crate) fn manager() -> PasswordManager {
    let scheme = PasswordScheme {
        version: 1,
        algorithm: Algorithm::Bcrypt,
        unicode_normalization: false,
        cost: 4,
        pepper: None,
    };
    PasswordManager::new(true, 3, vec![scheme]).unwrap()
}

pub(crate) fn desired(yaml: &str) -> DesiredState {
    manifest::load_str("users.yaml", yaml, &LoadOptions::default()).unwrap()
}

async fn plan_with(
    conn: &mut PgConnection,
    desired: &DesiredState,
    homeserver: &HomeserverClient,
) -> Planned {
    pipeline::compute(conn, desired, &manager(), Some(homeserver))
        .await
        .unwrap()
}

async fn apply_planned(
    conn: &mut PgConnection,
    env: &Env,
    desired: &DesiredState,
    planned: &Planned,
) {
    let passwords = pipeline::prepare_passwords(&planned.plan, desired, &manager(), env).unwrap();
    apply::apply(
        conn,
        env,
        &planned.plan,
        &passwords,
        &masctl::snapshot::Scope::all(),
        &ApplyOptions {
            lock_timeout: Duration::from_secs(5),
        },
        |actual| plan::plan(desired, actual, &planned.facts),
        |_| {},
        &mut |_| {},
    )
    .await
    .unwrap();
}

/// Plays MAS's worker for the pending `provision-user` jobs: sends each job's display name
/// through `_synapse/mas/provision_user`, as the worker does, and marks the job completed.
/// Returns `(username, display name)` of the jobs it ran, sorted.
pub(crate) async fn run_provision_jobs(
    conn: &mut PgConnection,
    homeserver: &HomeserverClient,
) -> Vec<(String, Option<String>)> {
    let jobs: Vec<(Uuid, String, Option<String>)> = sqlx::query_as(
        "SELECT queue_job_id, payload->>'user_id', payload->>'set_display_name' FROM queue_jobs \
         WHERE queue_name = 'provision-user' AND status = 'available' ORDER BY queue_job_id",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut ran = Vec::new();
    for (job, user_id, display_name) in jobs {
        let username: String = sqlx::query_scalar("SELECT username FROM users WHERE user_id = $1")
            .bind(ids::to_uuid(user_id.parse().unwrap()))
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        if let Some(name) = &display_name {
            homeserver.set_display_name(&username, name).await.unwrap();
        }
        sqlx::query("UPDATE queue_jobs SET status = 'completed' WHERE queue_job_id = $1")
            .bind(job)
            .execute(&mut *conn)
            .await
            .unwrap();
        ran.push((username, display_name));
    }
    ran.sort();
    ran
}

fn display_name_notes(planned: &Planned) -> Vec<&str> {
    planned
        .plan
        .notes
        .iter()
        .map(String::as_str)
        .filter(|note| note.contains("display name"))
        .collect()
}

#[tokio::test]
async fn display_names_converge_through_synapse() {
    let Some(synapse) = shared() else { return };
    let homeserver = synapse.client();
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(41);
    let (alice, bob, carol) = (
        localpart("conv", "alice"),
        localpart("conv", "bob"),
        localpart("conv", "carol"),
    );
    let manifest = |bob_name: &str| {
        desired(&format!(
            "version: 1\nusers:\n  {alice}:\n    display_name: Alice Liddell\n  \
             {bob}:\n    display_name: {bob_name}\n  {carol}: {{}}\n"
        ))
    };
    let wanted = manifest("Bob Builder");

    // New users carry their display name in the job of their creation.
    let first = plan_with(&mut conn, &wanted, &homeserver).await;
    assert_eq!(first.plan.changes.len(), 3, "{:#?}", first.plan.changes);
    assert!(
        display_name_notes(&first).is_empty(),
        "{:?}",
        first.plan.notes
    );
    apply_planned(&mut conn, &env, &wanted, &first).await;

    // MAS's worker has not run: the names are on their way, nothing is sent twice.
    let waiting = plan_with(&mut conn, &wanted, &homeserver).await;
    assert!(waiting.plan.is_empty(), "{:#?}", waiting.plan.changes);
    assert_eq!(
        display_name_notes(&waiting),
        [
            format!("user {alice}: display name \"Alice Liddell\" is already on its way to the homeserver (a provision-user job is pending)"),
            format!("user {bob}: display name \"Bob Builder\" is already on its way to the homeserver (a provision-user job is pending)"),
        ]
    );

    // The worker runs: Synapse has the names, and the plan is empty without notes.
    let ran = run_provision_jobs(&mut conn, &homeserver).await;
    assert_eq!(
        ran.iter().filter(|(_, name)| name.is_some()).count(),
        2,
        "{ran:?}"
    );
    let synced = plan_with(&mut conn, &wanted, &homeserver).await;
    assert!(synced.plan.is_empty(), "{:#?}", synced.plan.changes);
    assert!(
        display_name_notes(&synced).is_empty(),
        "{:?}",
        synced.plan.notes
    );

    // Someone renames bob on the homeserver: only bob's name is sent again.
    homeserver.set_display_name(&bob, "Robert").await.unwrap();
    let drifted = plan_with(&mut conn, &wanted, &homeserver).await;
    assert!(
        matches!(&drifted.plan.changes[..], [Change::ProvisionUser { user, set_display_name: Some(name) }]
            if user.username == bob && name == "Bob Builder"),
        "{:#?}",
        drifted.plan.changes
    );
    let rendered = render::human::render(&drifted.plan, &drifted.actual, false);
    assert!(
        rendered.contains("job: provision-user (set display name \"Bob Builder\")"),
        "{rendered}"
    );
    apply_planned(&mut conn, &env, &wanted, &drifted).await;
    let scheduled: Vec<String> = sqlx::query_scalar(
        "SELECT payload->>'set_display_name' FROM queue_jobs \
         WHERE queue_name = 'provision-user' AND status = 'available'",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(scheduled, ["Bob Builder"]);

    // Pending: nothing more, and the plan says why.
    let waiting = plan_with(&mut conn, &wanted, &homeserver).await;
    assert!(waiting.plan.is_empty(), "{:#?}", waiting.plan.changes);
    assert_eq!(
        display_name_notes(&waiting).len(),
        1,
        "{:?}",
        waiting.plan.notes
    );
    // The manifest changes again before the worker ran: the pending name is not the wanted one.
    let renamed = plan_with(&mut conn, &manifest("Bobby"), &homeserver).await;
    assert!(
        matches!(&renamed.plan.changes[..], [Change::ProvisionUser { set_display_name: Some(name), .. }] if name == "Bobby"),
        "{:#?}",
        renamed.plan.changes
    );

    // The worker runs again: converged.
    run_provision_jobs(&mut conn, &homeserver).await;
    let converged = plan_with(&mut conn, &wanted, &homeserver).await;
    assert!(converged.plan.is_empty(), "{:#?}", converged.plan.changes);
    assert!(
        display_name_notes(&converged).is_empty(),
        "{:?}",
        converged.plan.notes
    );
    let names = homeserver
        .display_names(&[alice.clone(), bob.clone(), carol.clone()], 3)
        .await
        .unwrap();
    assert_eq!(names[&alice].as_deref(), Some("Alice Liddell"));
    assert_eq!(names[&bob].as_deref(), Some("Bob Builder"));
    // carol has no display name in the manifest: masctl never asked for or sent one.
    assert_eq!(names[&carol], None);
}

#[tokio::test]
async fn users_without_a_wanted_display_name_are_not_looked_up() {
    let Some(synapse) = shared() else { return };
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    let env = Env::test(42);
    let (dave, erin) = (localpart("skip", "dave"), localpart("skip", "erin"));
    let yaml = format!(
        "version: 1\nusers:\n  {dave}: {{}}\n  {erin}:\n    state: deactivated\n    display_name: Erin\n"
    );
    let wanted = desired(&yaml);
    let client = synapse.client();
    let first = plan_with(&mut conn, &wanted, &client).await;
    apply_planned(&mut conn, &env, &wanted, &first).await;

    // Neither user needs a lookup, so a homeserver that refuses everything is never asked.
    let refusing = HomeserverClient::new(
        masctl::homeserver::HomeserverKind::Synapse,
        super::SERVER_NAME.to_owned(),
        &synapse.endpoint(),
        masctl::model::Secret::new("wrong secret"),
        super::CLIENT_TIMEOUT,
    )
    .unwrap();
    let again = plan_with(&mut conn, &wanted, &refusing).await;
    assert!(again.plan.is_empty(), "{:#?}", again.plan.changes);
    assert!(
        display_name_notes(&again).is_empty(),
        "{:?}",
        again.plan.notes
    );
}
