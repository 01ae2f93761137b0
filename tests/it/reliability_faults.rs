//! SIGKILL during a large apply, through the real binary. After each kill the
//! database must be exactly as before, or exactly the fully applied state when the kill came
//! after COMMIT; never anything in between. A re-run must then converge.
//! (`reliability_termination` cuts the connection from the server's side instead.)
//!
//! Kill points are placed by watching masctl's own session in `pg_stat_activity` (its
//! `application_name` carries its pid), so that they cover every phase whatever the machine's
//! speed: start-up, planning and password hashing, waiting for the lock, writing, and COMMIT.
//! `MASCTL_KILL_SWEEP=N` multiplies the number of points for a longer local run.

use std::time::{Duration, Instant};

use crate::common::activity::{hold_lock, release_lock, slow_commit, wait_for, Backend, Observer};
use crate::common::canonical::{canonical, difference, Canonical};
use crate::common::process::{tally, Output};
use crate::common::workload::{self, big_manifest, Workspace};
use crate::common::{dump, TestDb};

/// New users the large apply creates.
const NEW_USERS: usize = 2000;

/// What a kill point waits for before its delay starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Trigger {
    /// The process was spawned (start-up, manifest loading, connecting).
    Spawned,
    /// masctl's session exists (snapshot, planning, password hashing).
    Connected,
    /// masctl's transaction is open (lock, re-read, writes, commit).
    Transaction,
    /// masctl waits for the lock, which the test holds.
    LockWait,
    /// masctl is in COMMIT (slowed down by a deferred trigger).
    Commit,
}

/// When to kill: after the trigger, plus a delay.
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    trigger: Trigger,
    delay: Duration,
}

/// How long the phases of an undisturbed run took.
#[derive(Debug, Clone, Copy)]
struct Timings {
    /// From the session appearing to its transaction opening.
    before_transaction: Duration,
    /// From the transaction opening to the process exiting.
    transaction: Duration,
}

/// What a kill left behind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// Exactly the state before the run.
    Unchanged,
    /// Exactly the fully applied state (the kill came after COMMIT).
    Applied,
    /// The process had already exited when the kill was due: not a kill point.
    Completed,
}

/// The shared starting point of every kill point.
struct Sweep {
    workspace: Workspace,
    seed: TestDb,
    manifest: String,
    before: String,
    applied: Canonical,
    timings: Timings,
}

impl Sweep {
    async fn new() -> Self {
        let workspace = Workspace::new();
        let seed = workload::seeded(&workspace).await;
        let manifest = workspace
            .write("big.yaml", &big_manifest("user", NEW_USERS))
            .to_str()
            .unwrap()
            .to_owned();
        let before = dump(&mut seed.connect().await).await;
        // One undisturbed run gives the applied state and the phase durations.
        let db = seed.copy().await;
        let mut observer = Observer::new(&db).await;
        let mut running = workspace
            .masctl(&db, &["apply", "--yes", &manifest])
            .spawn();
        let name = running.application_name("apply");
        let connected = wait_for(&mut running, &mut observer, &name, |_| true).await;
        let opened = wait_for(&mut running, &mut observer, &name, |b| b.holds_lock).await;
        let output = running.wait(Duration::from_secs(120)).await;
        let ended = Instant::now();
        assert_eq!(output.code, Some(0), "{}", output.both());
        let (Some(connected), Some(opened)) = (connected, opened) else {
            panic!("the reference run finished before its phases could be observed");
        };
        let applied = canonical(observer.conn()).await;
        Self {
            workspace,
            seed,
            manifest,
            before,
            applied,
            timings: Timings {
                before_transaction: opened - connected,
                transaction: ended - opened,
            },
        }
    }

    /// Returns the kill points: `scale` times 3 at start-up, 5 while planning and hashing,
    /// 10 spread over the transaction, 3 while waiting for the lock and 3 during COMMIT.
    fn points(&self, scale: u32) -> Vec<KillPoint> {
        let spread = |trigger, count: u32, over: Duration| {
            (0..count).map(move |i| KillPoint {
                trigger,
                delay: over * i / count,
            })
        };
        let mut points = Vec::new();
        points.extend(spread(
            Trigger::Spawned,
            3 * scale,
            Duration::from_millis(30),
        ));
        points.extend(spread(
            Trigger::Connected,
            5 * scale,
            self.timings.before_transaction,
        ));
        // Up to 80% of the undisturbed transaction: later kills mostly find the run finished.
        points.extend(spread(
            Trigger::Transaction,
            10 * scale,
            self.timings.transaction * 4 / 5,
        ));
        points.extend(spread(
            Trigger::LockWait,
            3 * scale,
            Duration::from_millis(600),
        ));
        points.extend(spread(
            Trigger::Commit,
            3 * scale,
            Duration::from_millis(450),
        ));
        points
    }

    /// Runs one kill point on a fresh copy of the seed; returns the outcome and the phase
    /// masctl was observed in just before the kill.
    async fn kill_at(&self, point: KillPoint) -> (Outcome, String) {
        let db = self.seed.copy().await;
        let mut observer = Observer::new(&db).await;
        if point.trigger == Trigger::Commit {
            slow_commit(observer.conn(), true).await;
        }
        let mut holder = None;
        if point.trigger == Trigger::LockWait {
            holder = Some(hold_lock(&db).await);
        }
        let mut running = self
            .workspace
            .masctl(&db, &["apply", "--yes", &self.manifest])
            .spawn();
        let name = running.application_name("apply");
        let triggered = match point.trigger {
            Trigger::Spawned => Some(Instant::now()),
            Trigger::Connected => wait_for(&mut running, &mut observer, &name, |_| true).await,
            Trigger::Transaction => {
                wait_for(&mut running, &mut observer, &name, |b| b.holds_lock).await
            }
            Trigger::LockWait => {
                wait_for(&mut running, &mut observer, &name, Backend::waits_for_lock).await
            }
            Trigger::Commit => {
                wait_for(&mut running, &mut observer, &name, |b| {
                    b.state == "active" && b.query.starts_with("COMMIT")
                })
                .await
            }
        };
        if triggered.is_some() {
            tokio::time::sleep(point.delay).await;
        }
        let phase = match observer.backend(&name).await {
            Some(backend) => backend.phase(),
            None if running.has_exited() => "exited".to_owned(),
            None => "not connected yet".to_owned(),
        };
        let exited_first = running.has_exited();
        let output = running.kill();
        if let Some(conn) = holder {
            release_lock(conn).await;
            assert!(
                exited_first || phase == "waiting for the lock",
                "{point:?}: killed in phase {phase}"
            );
        }
        // The server finishes a dead client's statement (or COMMIT) before the session ends.
        observer.wait_gone(&name, Duration::from_secs(60)).await;
        let outcome = self
            .judge(&mut observer, point, exited_first, &output)
            .await;
        if point.trigger == Trigger::Commit {
            slow_commit(observer.conn(), false).await;
        }
        self.rerun_converges(&db).await;
        (outcome, phase)
    }

    /// Decides whether the database is unchanged or fully applied; panics on anything else.
    async fn judge(
        &self,
        observer: &mut Observer,
        point: KillPoint,
        exited_first: bool,
        output: &Output,
    ) -> Outcome {
        if exited_first {
            assert_eq!(output.code, Some(0), "{point:?}: {}", output.both());
            return Outcome::Completed;
        }
        assert_eq!(
            output.code,
            None,
            "{point:?}: not killed: {}",
            output.both()
        );
        if dump(observer.conn()).await == self.before {
            return Outcome::Unchanged;
        }
        let found = canonical(observer.conn()).await;
        assert!(
            found == self.applied,
            "{point:?} left a partial state:\n{}",
            difference(&self.applied, &found)
        );
        Outcome::Applied
    }

    /// Applies again: it must succeed, leave nothing to do, and end in the applied state.
    async fn rerun_converges(&self, db: &TestDb) {
        let output = self
            .workspace
            .masctl(db, &["apply", "--yes", &self.manifest])
            .run()
            .await;
        assert_eq!(output.code, Some(0), "re-run: {}", output.both());
        let output = self
            .workspace
            .masctl(db, &["plan", "--detailed-exitcode", &self.manifest])
            .run()
            .await;
        assert_eq!(output.code, Some(0), "not converged: {}", output.both());
        let found = canonical(&mut db.connect().await).await;
        assert!(
            found == self.applied,
            "re-run state differs:\n{}",
            difference(&self.applied, &found)
        );
    }
}

#[tokio::test]
async fn sigkill_at_any_point_leaves_the_database_before_or_after() {
    let sweep = Sweep::new().await;
    let scale = std::env::var("MASCTL_KILL_SWEEP")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(1);
    let mut phases: std::collections::BTreeMap<String, usize> = Default::default();
    let (mut unchanged, mut applied, mut completed) = (0, 0, 0);
    let started = Instant::now();
    for point in sweep.points(scale) {
        let (outcome, phase) = sweep.kill_at(point).await;
        match outcome {
            Outcome::Unchanged => unchanged += 1,
            Outcome::Applied => applied += 1,
            Outcome::Completed => completed += 1,
        }
        if outcome != Outcome::Completed {
            *phases.entry(phase).or_default() += 1;
        }
    }
    let kills = unchanged + applied;
    tally(&format!(
        "kill points: {kills} ({unchanged} before commit, {applied} after), partial states: 0, \
         re-runs converged: {}, runs that finished before their kill: {completed}, {:.0?}; \
         undisturbed run: {:.0?} before the apply transaction, {:.0?} in it",
        kills + completed,
        started.elapsed(),
        sweep.timings.before_transaction,
        sweep.timings.transaction,
    ));
    for (phase, count) in &phases {
        tally(&format!("  killed {count}× in phase: {phase}"));
    }
    assert!(kills >= 20, "only {kills} kill points landed");
    assert!(
        phases.keys().any(|phase| phase.contains("writing")),
        "no kill landed during the writes: {phases:?}"
    );
}
