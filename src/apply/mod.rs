//! Executes a plan: one transaction, one lock, a fresh read, and no write unless the fresh read
//! gives exactly the plan that was shown (STYLE R8).
//!
//! begin → advisory lock → re-read the snapshot → re-plan → compare with the plan that was
//! shown or saved (differs: stale, nothing written) → write rows and MAS jobs → commit.
//! Any error drops the transaction, which rolls everything back.
//!
//! [`apply_with`] also keeps masctl's own books in the same transaction ([`Bookkeeping`]): it
//! refuses a saved plan that was applied before, refuses to undo open emergency changes unless
//! allowed, closes the emergency records the plan settles, and lets `manage` commands record
//! what they changed.

mod execute;
pub mod lock;
mod passwords;

use std::time::Duration;

use sqlx::{Acquire, PgConnection};
use thiserror::Error;

pub use execute::{Effects, ExecuteError, IssuedCompatToken};
pub use lock::{LockError, LockHolder};
pub use passwords::PreparedPasswords;

use crate::env::Env;
use crate::ledger::{self, plans::AppliedPlan, LedgerError};
use crate::model::state::{ActualState, DesiredState};
use crate::plan::{self as planner, EmergencyRevertRefused, Plan, PlanError, Summary};
use crate::snapshot::{self, Scope, SnapshotError};

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long to wait for another masctl run to release the lock.
    pub lock_timeout: Duration,
}

/// What an apply did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyReport {
    /// The plan's per-object counts.
    pub summary: Summary,
    /// Number of changes executed.
    pub changes: usize,
    /// What the writes produced (issued tokens, sessions ended, jobs scheduled in bulk).
    pub effects: Effects,
    /// Emergency records closed (adopted, superseded or reverted).
    pub emergencies_closed: u64,
    /// Emergency records written (by `manage` commands, [`EmergencyPolicy::Record`]); each
    /// one's `change.value.manifest_hint(&change.object)` says how to make it permanent.
    pub emergency_records: Vec<crate::plan::emergency::EmergencyRecord>,
}

/// What an apply records in masctl's own schema (`crate::ledger`) and how it treats open
/// emergency changes. The default does neither: plain library use, tests.
#[derive(Debug, Clone, Default)]
pub struct Bookkeeping<'a> {
    /// The saved plan being applied: refused if it was applied before, recorded when applied.
    pub saved_plan: Option<AppliedPlan>,
    /// How open emergency records are treated.
    pub emergency: EmergencyPolicy<'a>,
}

/// How an apply treats emergency changes.
#[derive(Debug, Clone, Copy, Default)]
pub enum EmergencyPolicy<'a> {
    /// Neither read nor write emergency records.
    #[default]
    Ignore,
    /// A GitOps apply: judge the open records against the fresh plan, refuse to undo any unless
    /// `revert_allowed`, and close those the plan settles.
    Check {
        /// The manifest the plan was computed from.
        desired: &'a DesiredState,
        /// `--revert-emergency`.
        revert_allowed: bool,
    },
    /// A `manage` command: record every manifest-managed field the plan changes as an
    /// emergency change made by `command` (e.g. `manage lock-user`).
    Record {
        /// The command, as typed after `masctl`.
        command: &'a str,
    },
}

/// Why an apply wrote nothing.
#[derive(Debug, Error, miette::Diagnostic)]
#[diagnostic(code(masctl::apply))]
pub enum ApplyError {
    /// The lock was not obtained.
    #[error(transparent)]
    Lock(#[from] LockError),
    /// The database changed since the plan was made.
    #[error("the database changed since the plan was made ({reason}); nothing was written: run plan again")]
    Stale {
        /// What differs.
        reason: String,
    },
    /// Re-planning inside the transaction failed: the database changed since the plan was
    /// made, so that the manifest now conflicts with it (a stale plan, whose problems are shown).
    #[error(
        "the database changed since the plan was made and the manifest no longer fits it; \
         nothing was written: fix what is shown below, then run plan again"
    )]
    Replan(
        #[source]
        #[diagnostic_source]
        PlanError,
    ),
    /// Reading the snapshot failed.
    #[error(transparent)]
    Snapshot(#[from] SnapshotError),
    /// The saved plan was applied before: replaying it is refused.
    #[error("this plan ({plan_id}) was already applied at {applied_at}; nothing was written: run plan again")]
    AlreadyApplied {
        /// The plan's id.
        plan_id: ulid::Ulid,
        /// When it was applied.
        applied_at: chrono::DateTime<chrono::Utc>,
    },
    /// The plan would undo emergency changes and `--revert-emergency` was not given.
    #[error(transparent)]
    EmergencyRevert(#[from] EmergencyRevertRefused),
    /// masctl's own tables could not be read or written.
    #[error(transparent)]
    Ledger(#[from] LedgerError),
    /// A write failed; the transaction was rolled back.
    #[error(transparent)]
    Execute(#[from] ExecuteError),
    /// Beginning the transaction failed, or the server refused the COMMIT (it then rolled back).
    #[error("database error during apply (rolled back): {0}")]
    Database(#[from] sqlx::Error),
    /// The connection failed while COMMIT was under way: the server may or may not have
    /// committed, and no client can tell. Atomicity still holds: all or nothing was written.
    #[error(
        "the connection to the database failed during COMMIT ({0}): either every change was \
         written or none was; run `masctl plan` to see which"
    )]
    #[diagnostic(help("a plan with no changes means the apply went through"))]
    CommitOutcomeUnknown(#[source] sqlx::Error),
}

/// Classifies a failed COMMIT: an error the server answered with means it rolled back, but a
/// lost connection, or the server shutting the session down (SQLSTATE classes 08 and 57, which
/// PostgreSQL may report after the commit record is already durable), leaves the outcome unknown.
fn commit_error(error: sqlx::Error) -> ApplyError {
    let connection_lost = match &error {
        sqlx::Error::Database(database) => database
            .code()
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57")),
        _ => true,
    };
    if connection_lost {
        ApplyError::CommitOutcomeUnknown(error)
    } else {
        ApplyError::Database(error)
    }
}

/// The bookkeeping of [`apply`]: none.
static NO_BOOKKEEPING: Bookkeeping<'static> = Bookkeeping {
    saved_plan: None,
    emergency: EmergencyPolicy::Ignore,
};

/// Applies `plan` atomically, without bookkeeping (see [`apply_with`]).
///
/// A plain function returning [`apply_with`]'s future, rather than an `async fn` awaiting it,
/// so that the future stays `Send` for callers that spawn it (rustc cannot prove it through a
/// second async layer around the `replan` closure).
///
/// # Errors
/// See [`ApplyError`]; in every case nothing is written.
#[expect(
    clippy::too_many_arguments,
    reason = "each is a distinct input; a struct would only rename them"
)]
pub fn apply<'a>(
    conn: &'a mut PgConnection,
    env: &'a Env,
    plan: &'a Plan,
    passwords: &'a PreparedPasswords,
    scope: &'a Scope,
    options: &'a ApplyOptions,
    replan: impl Fn(&ActualState) -> Result<Plan, PlanError> + 'a,
    on_wait: impl FnMut(Option<&LockHolder>) + 'a,
    on_progress: &'a mut (dyn FnMut(&str) + Send),
) -> impl std::future::Future<Output = Result<ApplyReport, ApplyError>> + 'a {
    apply_with(
        conn,
        env,
        plan,
        passwords,
        scope,
        options,
        &NO_BOOKKEEPING,
        replan,
        on_wait,
        on_progress,
    )
}

/// Applies `plan` atomically and keeps masctl's books in the same transaction.
///
/// `scope` is what the plan was computed from; `replan` recomputes the plan from a fresh
/// snapshot of it (with the same manifest and facts); `books` says what to check and record;
/// `on_wait` is told who holds the lock if it is not free; `on_progress` hears each phase.
///
/// # Errors
/// See [`ApplyError`]; in every case nothing is written.
#[expect(
    clippy::too_many_arguments,
    reason = "each is a distinct input of the one apply sequence; a struct would only rename them"
)]
pub async fn apply_with(
    conn: &mut PgConnection,
    env: &Env,
    plan: &Plan,
    passwords: &PreparedPasswords,
    scope: &Scope,
    options: &ApplyOptions,
    books: &Bookkeeping<'_>,
    replan: impl Fn(&ActualState) -> Result<Plan, PlanError>,
    on_wait: impl FnMut(Option<&LockHolder>),
    on_progress: &mut (dyn FnMut(&str) + Send),
) -> Result<ApplyReport, ApplyError> {
    // Owned copies: no borrow of `books` is held across an await, which keeps the future
    // `Send` for spawning callers (rustc's auto-trait check through nested borrows is weak).
    let saved_plan = books.saved_plan.clone();
    let checks_emergencies = matches!(books.emergency, EmergencyPolicy::Check { .. });
    let records_as = match books.emergency {
        EmergencyPolicy::Record { command } => Some(command.to_owned()),
        EmergencyPolicy::Ignore | EmergencyPolicy::Check { .. } => None,
    };
    let mut tx = conn.begin().await?;
    lock::acquire(&mut tx, options.lock_timeout, on_wait).await?;
    if let Some(saved) = &saved_plan {
        if let Some(applied_at) = ledger::plans::applied_at(&mut tx, saved.plan_id).await? {
            return Err(ApplyError::AlreadyApplied {
                plan_id: saved.plan_id,
                applied_at,
            });
        }
    }
    // READ COMMITTED: the lock was taken by this transaction's first statement, so only a
    // fresh read per statement sees what the previous lock holder committed.
    let actual = snapshot::read(&mut tx, scope).await?;
    let fresh = replan(&actual).map_err(ApplyError::Replan)?;
    check_unchanged(plan, &fresh)?;
    let records = if checks_emergencies {
        ledger::emergency::open(&mut tx).await?
    } else {
        Vec::new()
    };
    let resolutions = judge_emergencies(books.emergency, &actual, &fresh, &records)?;
    let effects = execute::run(&mut tx, env, &plan.changes, passwords, on_progress).await?;
    let mut report = ApplyReport {
        summary: plan.summary(),
        changes: plan.changes.len(),
        effects,
        emergencies_closed: 0,
        emergency_records: Vec::new(),
    };
    if let Some(saved) = &saved_plan {
        ledger::plans::record(&mut tx, env, saved).await?;
    }
    report.emergencies_closed = ledger::emergency::resolve(&mut tx, env, &resolutions).await?;
    if let Some(command) = &records_as {
        report.emergency_records =
            ledger::emergency::record_changes(&mut tx, env, command, &plan.changes).await?;
    }
    tx.commit().await.map_err(commit_error)?;
    Ok(report)
}

/// Refuses a plan that differs from the one recomputed inside the transaction.
fn check_unchanged(plan: &Plan, fresh: &Plan) -> Result<(), ApplyError> {
    let reason = if fresh.basis != plan.basis {
        "rows the plan depends on differ"
    } else if fresh.changes != plan.changes {
        "the recomputed plan differs"
    } else {
        return Ok(());
    };
    Err(ApplyError::Stale {
        reason: reason.to_owned(),
    })
}

/// Judges the open emergency records against the fresh plan (for a GitOps apply) and returns
/// the records to close.
fn judge_emergencies(
    policy: EmergencyPolicy<'_>,
    actual: &ActualState,
    fresh: &Plan,
    records: &[crate::plan::emergency::EmergencyRecord],
) -> Result<Vec<(ulid::Ulid, crate::plan::emergency::Resolution)>, ApplyError> {
    let EmergencyPolicy::Check {
        desired,
        revert_allowed,
    } = policy
    else {
        return Ok(Vec::new());
    };
    let report = planner::assess(desired, actual, fresh, records);
    planner::check_emergencies(&report, revert_allowed)?;
    Ok(report.resolutions(revert_allowed))
}
