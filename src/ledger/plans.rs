//! `masctl.applied_plans`: the saved plans that were applied, so that an old plan file can
//! never be replayed, not even one whose changes left no trace in the rows it depends on (an
//! empty plan, or a database restored to the state the plan was made from).

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use ulid::Ulid;

use super::LedgerError;
use crate::env::Env;
use crate::ids;

/// A saved plan being applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppliedPlan {
    /// The plan's id (a nonce written into the plan file when it was saved).
    pub plan_id: Ulid,
    /// The digest of the manifest it was made from.
    pub manifest_digest: String,
    /// The digest of the database rows it was made from.
    pub basis: String,
    /// How many changes it makes.
    pub changes: usize,
}

/// Returns when the plan `plan_id` was applied, or `None` if it never was.
///
/// # Errors
/// [`LedgerError::Query`] when the table cannot be read.
pub async fn applied_at(
    conn: &mut PgConnection,
    plan_id: Ulid,
) -> Result<Option<DateTime<Utc>>, LedgerError> {
    if !super::exists(conn).await? {
        return Ok(None);
    }
    sqlx::query_scalar("SELECT applied_at FROM masctl.applied_plans WHERE plan_id = $1")
        .bind(ids::to_uuid(plan_id))
        .fetch_optional(conn)
        .await
        .map_err(LedgerError::query("applied_plans"))
}

/// Records that `plan` was applied, creating masctl's schema if needed.
///
/// # Errors
/// [`LedgerError`] when the schema cannot be created or the row not written (a plan applied
/// twice violates the primary key).
pub async fn record(
    conn: &mut PgConnection,
    env: &Env,
    plan: &AppliedPlan,
) -> Result<(), LedgerError> {
    super::ensure_schema(conn).await?;
    let changes = i32::try_from(plan.changes).unwrap_or(i32::MAX);
    sqlx::query(
        "INSERT INTO masctl.applied_plans \
           (plan_id, applied_at, manifest_digest, basis, changes, masctl_version) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(ids::to_uuid(plan.plan_id))
    .bind(env.now())
    .bind(&plan.manifest_digest)
    .bind(&plan.basis)
    .bind(changes)
    .bind(env!("CARGO_PKG_VERSION"))
    .execute(conn)
    .await
    .map(|_| ())
    .map_err(LedgerError::query("applied_plans"))
}
