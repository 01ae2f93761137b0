//! A connection terminated by the server (`pg_terminate_backend`) at each phase of an apply,
//! through the real binary: a clear message, exit 1, and a database exactly as before (or, for
//! a COMMIT cut off midway, all or nothing, as masctl then says). A re-run must converge.

use std::time::Duration;

use sqlx::Executor;

use crate::common::activity::{hold_lock, release_lock, slow_commit, wait_for, Observer};
use crate::common::process::{tally, Output};
use crate::common::workload::{self, big_manifest, Workspace};
use crate::common::{dump, TestDb};

/// Where `pg_terminate_backend` hits masctl's session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Termination {
    /// Before the apply transaction: reading the snapshot, planning, hashing.
    Planning,
    /// Inside the transaction, waiting for the lock the test holds.
    LockWait,
    /// Inside the transaction after rows were written (a trigger holds it there for a second).
    Writing,
    /// During COMMIT (a deferred trigger holds it there).
    Commit,
}

#[tokio::test]
async fn a_connection_terminated_by_the_server_leaves_nothing_half_written() {
    let workspace = Workspace::new();
    let seed = workload::seeded(&workspace).await;
    let manifest = workspace
        .write("users.yaml", &big_manifest("user", 200))
        .to_str()
        .unwrap()
        .to_owned();
    let before = dump(&mut seed.connect().await).await;
    let mut outcomes = Vec::new();
    for at in [
        Termination::Planning,
        Termination::LockWait,
        Termination::Writing,
        Termination::Commit,
    ] {
        let db = seed.copy().await;
        let mut observer = Observer::new(&db).await;
        let output = terminate(&workspace, &db, &mut observer, &manifest, at).await;
        assert_eq!(output.code, Some(1), "{at:?}: {}", output.both());
        assert!(
            output
                .flat_stderr()
                .contains("terminating connection due to administrator command")
                && !output.stderr.contains("panicked"),
            "{at:?}: unclear message: {}",
            output.both()
        );
        let after = dump(observer.conn()).await;
        if at == Termination::Commit {
            // Whether a COMMIT interrupted by the server went through is unknowable to the
            // client: masctl must say so, and the database must still be all or nothing.
            assert!(
                output
                    .flat_stderr()
                    .contains("either every change was written or none was"),
                "{}",
                output.both()
            );
            let applied = after != before;
            outcomes.push(format!(
                "{at:?}: {}",
                if applied { "applied" } else { "unchanged" }
            ));
        } else {
            assert!(!output.stdout.contains("Applied:"), "{}", output.both());
            assert_eq!(after, before, "{at:?} wrote something");
            outcomes.push(format!("{at:?}: unchanged"));
        }
        drop(observer);
        let rerun = workspace
            .masctl(&db, &["apply", "--yes", &manifest])
            .run()
            .await;
        assert_eq!(rerun.code, Some(0), "{at:?} re-run: {}", rerun.both());
        let plan = workspace
            .masctl(&db, &["plan", "--detailed-exitcode", &manifest])
            .run()
            .await;
        assert_eq!(plan.code, Some(0), "{at:?} not converged: {}", plan.both());
    }
    tally(&format!(
        "connections terminated mid-apply: {} ({}), partial states: 0, re-runs converged: {}",
        outcomes.len(),
        outcomes.join(", "),
        outcomes.len()
    ));
}

/// Runs an apply and terminates its session at `at`; returns what masctl printed.
async fn terminate(
    workspace: &Workspace,
    db: &TestDb,
    observer: &mut Observer,
    manifest: &str,
    at: Termination,
) -> Output {
    let conn = observer.conn();
    match at {
        Termination::Writing => conn
            .execute(
                "CREATE FUNCTION hold() RETURNS trigger LANGUAGE plpgsql AS $$
                   BEGIN PERFORM pg_sleep(1); RETURN NULL; END $$;
                 CREATE TRIGGER hold AFTER INSERT ON users
                   FOR EACH STATEMENT EXECUTE FUNCTION hold();",
            )
            .await
            .map(drop)
            .unwrap(),
        Termination::Commit => slow_commit(conn, true).await,
        Termination::Planning | Termination::LockWait => {}
    }
    let mut holder = None;
    if at == Termination::LockWait {
        holder = Some(hold_lock(db).await);
    }
    let mut running = workspace
        .masctl(db, &["apply", "--yes", "--lock-timeout", "60", manifest])
        .spawn();
    let name = running.application_name("apply");
    let reached = wait_for(&mut running, observer, &name, |b| match at {
        // Idle after the snapshot (its last statement, or the end of its read-only
        // transaction): planning and hashing passwords.
        Termination::Planning => {
            !b.holds_lock
                && b.state == "idle"
                && (b.query.contains("upstream_oauth_providers") || b.query.starts_with("ROLLBACK"))
        }
        Termination::LockWait => b.waits_for_lock(),
        Termination::Writing => b.holds_lock && b.wrote,
        Termination::Commit => b.state == "active" && b.query.starts_with("COMMIT"),
    })
    .await;
    assert!(reached.is_some(), "{at:?}: the run ended before the phase");
    let backend = observer.backend(&name).await.unwrap();
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(backend.pid)
        .execute(observer.conn())
        .await
        .unwrap();
    let output = running.wait(Duration::from_secs(60)).await;
    if let Some(conn) = holder {
        release_lock(conn).await;
    }
    observer.wait_gone(&name, Duration::from_secs(60)).await;
    let conn = observer.conn();
    match at {
        Termination::Writing => conn
            .execute("DROP TRIGGER hold ON users; DROP FUNCTION hold();")
            .await
            .map(drop)
            .unwrap(),
        Termination::Commit => slow_commit(conn, false).await,
        Termination::Planning | Termination::LockWait => {}
    }
    output
}
