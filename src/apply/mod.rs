//! Executes a plan: one transaction, one lock, a fresh read, and no write unless the fresh read
//! gives exactly the plan that was shown (STYLE R8).
//!
//! begin → advisory lock → re-read the snapshot → re-plan → compare with the plan that was
//! shown or saved (differs: stale, nothing written) → write rows and MAS jobs → commit.
//! Any error drops the transaction, which rolls everything back.

mod execute;
pub mod lock;
mod passwords;

use std::time::Duration;

use sqlx::{Acquire, PgConnection};
use thiserror::Error;

pub use execute::ExecuteError;
pub use lock::{LockError, LockHolder};
pub use passwords::PreparedPasswords;

use crate::env::Env;
use crate::model::state::ActualState;
use crate::plan::{Plan, PlanError, Summary};
use crate::snapshot::{self, Scope, SnapshotError};

/// How an apply runs.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    /// How long to wait for another masctl run to release the lock.
    pub lock_timeout: Duration,
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ApplyReport {
    /// The plan's per-object counts.
    pub summary: Summary,
    /// Number of changes executed.
    pub changes: usize,
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

/// Applies `plan` atomically.
///
/// `scope` is what the plan was computed from; `replan` recomputes the plan from a fresh
/// snapshot of it (with the same manifest and facts);
/// `on_wait` is told who holds the lock if it is not free; `on_progress` hears each phase.
///
/// # Errors
/// See [`ApplyError`]; in every case nothing is written.
#[expect(
    clippy::too_many_arguments,
    reason = "each is a distinct input; a struct would only rename them"
)]
pub async fn apply(
    conn: &mut PgConnection,
    env: &Env,
    plan: &Plan,
    passwords: &PreparedPasswords,
    scope: &Scope,
    options: &ApplyOptions,
    replan: impl Fn(&ActualState) -> Result<Plan, PlanError>,
    on_wait: impl FnMut(Option<&LockHolder>),
    on_progress: &mut (dyn FnMut(&str) + Send),
) -> Result<ApplyReport, ApplyError> {
    let mut tx = conn.begin().await?;
    lock::acquire(&mut tx, options.lock_timeout, on_wait).await?;
    // READ COMMITTED: the lock was taken by this transaction's first statement, so only a
    // fresh read per statement sees what the previous lock holder committed.
    let actual = snapshot::read(&mut tx, scope).await?;
    let fresh = replan(&actual).map_err(ApplyError::Replan)?;
    if fresh.basis != plan.basis {
        return Err(ApplyError::Stale {
            reason: "rows the plan depends on differ".to_owned(),
        });
    }
    if fresh.changes != plan.changes {
        return Err(ApplyError::Stale {
            reason: "the recomputed plan differs".to_owned(),
        });
    }
    execute::run(&mut tx, env, &plan.changes, passwords, on_progress).await?;
    tx.commit().await.map_err(commit_error)?;
    Ok(ApplyReport {
        summary: plan.summary(),
        changes: plan.changes.len(),
    })
}
