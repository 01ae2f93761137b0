//! `masctl manage` and `masctl apply` share one lock ([`masctl::apply::lock::LOCK_KEY`]),
//! checked with real processes: a manage command started during an apply waits for it, an
//! apply started during a manage command waits for that (or gives up with exit 6), each names
//! the other, and both changes end up written.

use std::time::Duration;

use sqlx::{Executor, PgConnection};

use crate::common::activity::Observer;
use crate::common::process::{tally, Output, Running};
use crate::common::workload::{self, Workspace};
use crate::common::{dump, TestDb};
use crate::reliability_concurrency::{
    assert_no_duplicates, manifest, stretch_transactions, USERS_PER_RUN,
};

/// Makes every statement updating users sleep for `seconds` (`manage lock-user` updates one).
async fn stretch_updates(conn: &mut PgConnection, seconds: f64) {
    conn.execute(
        format!(
            "CREATE FUNCTION hold_update() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN PERFORM pg_sleep({seconds}); RETURN NULL; END $$;
             CREATE TRIGGER hold_update AFTER UPDATE ON users
               FOR EACH STATEMENT EXECUTE FUNCTION hold_update();"
        )
        .as_str(),
    )
    .await
    .unwrap();
}

/// Waits until the session named `application_name` holds masctl's lock.
async fn until_it_holds_the_lock(observer: &mut Observer, running: &mut Running, name: &str) {
    while !observer
        .backend(name)
        .await
        .is_some_and(|backend| backend.holds_lock)
    {
        assert!(!running.has_exited(), "{name} ended before taking the lock");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Asserts that a run succeeded after saying it waited for the lock held by `holder`.
fn assert_waited_for(output: &Output, holder: &str) {
    assert_eq!(output.code, Some(0), "{}", output.both());
    assert!(
        output
            .flat_stderr()
            .contains(&format!("waiting for the masctl lock held by `{holder}`")),
        "{}",
        output.both()
    );
}

#[tokio::test]
async fn manage_and_apply_wait_for_each_other() {
    let workspace = Workspace::new();
    let db = TestDb::new().await;
    let mut observer = Observer::new(&db).await;
    workload::insert_provider(observer.conn()).await;
    workspace.write(
        "targets.yaml",
        "version: 1\nusers:\n  target1: {}\n  target2: {}\n",
    );
    let seeded = workspace
        .masctl(&db, &["apply", "--yes", "targets.yaml"])
        .run()
        .await;
    assert_eq!(seeded.code, Some(0), "{}", seeded.both());
    stretch_transactions(observer.conn(), 3.0).await;
    stretch_updates(observer.conn(), 3.0).await;
    let first = workspace.write("first.yaml", &manifest(0));
    let second = workspace.write("second.yaml", &manifest(1).replace("shared", "other"));
    let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());

    // A manage command during an apply.
    let mut apply = workspace.masctl(&db, &["apply", "--yes", first]).spawn();
    let apply_name = apply.application_name("apply");
    until_it_holds_the_lock(&mut observer, &mut apply, &apply_name).await;
    let manage = workspace
        .masctl(
            &db,
            &["manage", "lock-user", "target1", "--lock-timeout", "60"],
        )
        .spawn();
    let applied = apply.wait(Duration::from_secs(60)).await;
    assert_eq!(applied.code, Some(0), "{}", applied.both());
    let managed = manage.wait(Duration::from_secs(60)).await;
    assert_waited_for(&managed, &apply_name);

    // An apply during a manage command, and one that gives up on it.
    let mut manage = workspace
        .masctl(
            &db,
            &["manage", "lock-user", "target2", "--lock-timeout", "60"],
        )
        .spawn();
    let manage_name = manage.application_name("manage lock-user");
    until_it_holds_the_lock(&mut observer, &mut manage, &manage_name).await;
    let before = dump(observer.conn()).await;
    let impatient = workspace
        .masctl(&db, &["apply", "--yes", "--lock-timeout", "1", second])
        .run()
        .await;
    assert_eq!(impatient.code, Some(6), "{}", impatient.both());
    assert!(
        impatient
            .flat_stderr()
            .contains(&format!("held by `{manage_name}`")),
        "{}",
        impatient.both()
    );
    assert_eq!(
        dump(observer.conn()).await,
        before,
        "the impatient apply wrote"
    );
    let apply = workspace
        .masctl(&db, &["apply", "--yes", "--lock-timeout", "60", second])
        .spawn();
    let managed = manage.wait(Duration::from_secs(60)).await;
    assert_eq!(managed.code, Some(0), "{}", managed.both());
    let applied = apply.wait(Duration::from_secs(60)).await;
    assert_waited_for(&applied, &manage_name);

    let locked: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM users WHERE username IN ('target1', 'target2') AND locked_at IS NOT NULL",
    )
    .fetch_one(observer.conn())
    .await
    .unwrap();
    assert_eq!(locked, 2, "a manage command's change is missing");
    let users = assert_no_duplicates(observer.conn(), &["target1", "target2"]).await;
    assert_eq!(users, i64::try_from(2 * USERS_PER_RUN + 4).unwrap());
    tally(
        "manage during apply and apply during manage: each waited for the other, named it, \
         and both changes were written; an apply gave up on a manage command with exit 6",
    );
}
