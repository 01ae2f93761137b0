//! masctl's own bookkeeping inside MAS's database: a separate PostgreSQL schema, `masctl`,
//! that MAS never reads and whose tables masctl alone writes.
//!
//! ```text
//! masctl.applied_plans      one row per saved plan that was applied (replay protection)
//! masctl.emergency_changes  one row per field a `masctl manage` command changed; open until
//!                           a manifest adopts it, an apply reverts it, or it is superseded
//! ```
//!
//! The schema is created on first use, inside the transaction of the apply or manage command
//! that first needs it, under masctl's advisory lock (so two runs never race on the DDL). The
//! DDL is idempotent and additive: later versions may only add tables and nullable columns.
//! Read-only commands (`plan`, `export`) never create it: a missing table reads as empty.
//! Nothing here touches MAS's own tables, and MAS's migrations never touch this schema.

mod derive;
pub mod emergency;
pub mod plans;

use miette::Diagnostic;
use sqlx::PgConnection;
use thiserror::Error;

/// The PostgreSQL schema that holds masctl's tables.
pub const SCHEMA: &str = "masctl";

/// The schema and its tables. `IF NOT EXISTS` everywhere: running it twice changes nothing.
const DDL: &str = "
CREATE SCHEMA IF NOT EXISTS masctl;

CREATE TABLE IF NOT EXISTS masctl.applied_plans (
    plan_id         uuid PRIMARY KEY,
    applied_at      timestamptz NOT NULL,
    manifest_digest text NOT NULL,
    basis           text NOT NULL,
    changes         integer NOT NULL,
    masctl_version  text NOT NULL
);

CREATE TABLE IF NOT EXISTS masctl.emergency_changes (
    emergency_change_id uuid PRIMARY KEY,
    created_at          timestamptz NOT NULL,
    command             text NOT NULL,
    object_kind         text NOT NULL CHECK (object_kind IN ('user', 'registration_token')),
    object_id           uuid NOT NULL,
    object_name         text NOT NULL,
    field               text NOT NULL,
    value               jsonb NOT NULL,
    db_user             text NOT NULL DEFAULT current_user,
    resolved_at         timestamptz,
    resolution          text CHECK (resolution IN ('adopted', 'reverted', 'superseded')),
    CHECK ((resolved_at IS NULL) = (resolution IS NULL))
);

CREATE UNIQUE INDEX IF NOT EXISTS emergency_changes_open
    ON masctl.emergency_changes (object_kind, object_id, field)
    WHERE resolved_at IS NULL;
";

/// Why masctl's own tables could not be read or written.
#[derive(Debug, Error, Diagnostic)]
pub enum LedgerError {
    /// Creating the schema was refused (the database role may not create schemas).
    #[error("cannot create masctl's own schema `masctl` in MAS's database: {0}")]
    #[diagnostic(
        code(masctl::ledger::create),
        help(
            "masctl keeps saved-plan and emergency-change records in a schema of its own; \
             grant the role CREATE on the database, or have an administrator run the DDL shown \
             in masctl's README once"
        )
    )]
    Create(#[source] sqlx::Error),
    /// A statement on masctl's tables failed.
    #[error("cannot use masctl's own table `masctl.{table}`: {source}")]
    #[diagnostic(code(masctl::ledger::query))]
    Query {
        /// The table.
        table: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A row does not hold what masctl wrote (edited by hand?).
    #[error("masctl.emergency_changes row {id} is malformed: {reason}")]
    #[diagnostic(
        code(masctl::ledger::malformed),
        help(
            "close it by hand: UPDATE masctl.emergency_changes SET resolved_at = now(), \
             resolution = 'superseded' WHERE emergency_change_id = '…'"
        )
    )]
    Malformed {
        /// The row's id.
        id: String,
        /// What is wrong.
        reason: String,
    },
}

impl LedgerError {
    fn query(table: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Query { table, source }
    }
}

/// Returns whether masctl's tables exist (a read-only check, for `plan`).
///
/// # Errors
/// [`LedgerError::Query`] when the catalog cannot be read.
pub async fn exists(conn: &mut PgConnection) -> Result<bool, LedgerError> {
    sqlx::query_scalar(
        "SELECT to_regclass('masctl.applied_plans') IS NOT NULL \
            AND to_regclass('masctl.emergency_changes') IS NOT NULL",
    )
    .fetch_one(conn)
    .await
    .map_err(LedgerError::query("applied_plans"))
}

/// Creates masctl's schema and tables unless they exist. Call it inside the transaction that
/// writes, after taking masctl's advisory lock.
///
/// The catalog is checked first so that a role without CREATE privilege can still use tables
/// an administrator created for it.
///
/// # Errors
/// [`LedgerError::Create`] when the DDL is refused.
pub async fn ensure_schema(conn: &mut PgConnection) -> Result<(), LedgerError> {
    if exists(conn).await? {
        return Ok(());
    }
    // The simple-query protocol runs the several statements of the DDL in one round trip.
    sqlx::Executor::execute(conn, DDL)
        .await
        .map(|_| ())
        .map_err(LedgerError::Create)
}

/// Returns the DDL, for documentation and for administrators who create the schema by hand.
#[must_use]
pub fn ddl() -> &'static str {
    DDL
}
