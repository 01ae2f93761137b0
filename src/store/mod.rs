//! The writers: every row masctl puts into MAS's database, shaped exactly as MAS shapes it.
//!
//! One function per kind of write. Each takes the connection of the caller's transaction and the
//! [`Env`](crate::env::Env) that supplies "now" and ids. Like MAS's repository calls, every
//! statement reads its own `now`, every new id is `env.ulid_at(now)` with that same `now` as
//! `created_at` (mas-facts §3), and columns MAS leaves to their defaults are left to them.
//! Where many rows change at once the writers send one set-based statement
//! (`INSERT … SELECT … FROM UNNEST(…)`, `UPDATE … WHERE id = ANY(…)`), never one per row.
//!
//! This module decides nothing: it does not check whether a change is wanted, does not commit
//! and does not roll back. On any [`StoreError`] part of a batch may already be written, so the
//! caller must roll its transaction back (PostgreSQL aborts it anyway on a failed statement).

mod compat;
mod emails;
mod jobs;
mod links;
mod passwords;
mod sessions;
mod tokens;
mod users;

pub use compat::{create_compat_access_token, create_compat_session, CompatSessionId};
pub use emails::{add_emails, remove_emails};
pub use jobs::{
    pending_display_name_jobs, provision_all_users, schedule_jobs, Job, JOB_METADATA,
    PROVISION_ALL_BATCH,
};
pub use links::{link_upstream, unlink_upstream};
pub use passwords::{add_passwords, NewPassword};
pub use sessions::{count_active_sessions, finish_sessions, SessionCounts};
pub use tokens::{
    create_token, create_tokens, revoke_token, revoke_tokens, unrevoke_token, unrevoke_tokens,
    update_token, update_tokens, NewToken, TokenUpdate,
};
pub use users::{
    create_users, deactivate_users, lock_users, reactivate_users, set_admin, unlock_users, NewUser,
};

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use ulid::Ulid;
use uuid::Uuid;

use crate::env::Env;
use crate::ids;

/// Names of the MAS constraints whose violations callers explain to users.
pub mod constraint {
    /// `users(username)` is unique, case-sensitively.
    pub const USERNAME_UNIQUE: &str = "users_username_unique";
    /// `upstream_oauth_links(upstream_oauth_provider_id, subject)` is unique.
    pub const UPSTREAM_SUBJECT_UNIQUE: &str = "upstream_oauth_links_subject_unique";
    /// `user_registration_tokens(token)` is unique.
    pub const REGISTRATION_TOKEN_UNIQUE: &str = "user_registration_tokens_token_key";
    /// `compat_access_tokens(access_token)` is unique.
    pub const COMPAT_ACCESS_TOKEN_UNIQUE: &str = "compat_access_tokens_access_token_unique";
}

/// Which unique key a batch collided with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictKind {
    /// A username already exists (exact, case-sensitive match) or appears twice in the batch.
    Username,
    /// A (provider, subject) pair is already linked, or appears twice in the batch.
    UpstreamSubject,
    /// A registration token already exists or appears twice in the batch.
    RegistrationToken,
}

impl ConflictKind {
    /// Returns the name of the MAS constraint guarding this key.
    #[must_use]
    pub fn constraint(self) -> &'static str {
        match self {
            Self::Username => constraint::USERNAME_UNIQUE,
            Self::UpstreamSubject => constraint::UPSTREAM_SUBJECT_UNIQUE,
            Self::RegistrationToken => constraint::REGISTRATION_TOKEN_UNIQUE,
        }
    }
}

impl fmt::Display for ConflictKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Username => "username already taken",
            Self::UpstreamSubject => "upstream subject already linked to a user",
            Self::RegistrationToken => "registration token already exists",
        })
    }
}

/// Why a write failed. After any of these the caller must roll its transaction back.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Rows collided with existing rows (or with each other) on a unique key.
    ///
    /// Detected with `ON CONFLICT … DO NOTHING RETURNING`, so that the keys can be named.
    #[error("{kind}: {} (constraint `{}`)", keys.join(", "), kind.constraint())]
    Conflict {
        /// Which key.
        kind: ConflictKind,
        /// The colliding values, as a user would recognise them (`alice`, `subject 1234 at
        /// provider 01H…`, the token string).
        keys: Vec<String>,
    },
    /// PostgreSQL refused a statement.
    #[error("{operation} failed{}", constraint.as_ref().map(|c| format!(" (constraint `{c}`)")).unwrap_or_default())]
    Database {
        /// What was being written, e.g. `insert user_emails`.
        operation: &'static str,
        /// The violated constraint, when PostgreSQL names one (foreign keys, uniques).
        constraint: Option<String>,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Rows the write refers to do not exist.
    #[error("{operation}: no {table} row with id {}", ids.iter().map(Ulid::to_string).collect::<Vec<_>>().join(", "))]
    NotFound {
        /// What was being written.
        operation: &'static str,
        /// The table searched.
        table: &'static str,
        /// The ids that were not found.
        ids: Vec<Ulid>,
    },
    /// A registration token's usage limit does not fit MAS's `integer` column.
    #[error(
        "usage limit {limit} of registration token `{token}` is larger than {}",
        i32::MAX
    )]
    UsageLimitTooLarge {
        /// The token.
        token: String,
        /// The limit asked for.
        limit: u32,
    },
    /// One user got two passwords in one batch: they would share `created_at`, and MAS could
    /// not tell which is current.
    #[error("{operation}: user {user} appears more than once in one batch")]
    DuplicateUser {
        /// What was being written.
        operation: &'static str,
        /// The user.
        user: Ulid,
    },
}

impl StoreError {
    /// Returns the MAS constraint the failure is about, if any.
    #[must_use]
    pub fn constraint(&self) -> Option<&str> {
        match self {
            Self::Conflict { kind, .. } => Some(kind.constraint()),
            Self::Database { constraint, .. } => constraint.as_deref(),
            Self::NotFound { .. }
            | Self::UsageLimitTooLarge { .. }
            | Self::DuplicateUser { .. } => None,
        }
    }
}

/// Returns a mapper from a driver error to [`StoreError::Database`] for `operation`.
fn db_error(operation: &'static str) -> impl FnOnce(sqlx::Error) -> StoreError {
    move |source| {
        let constraint = source
            .as_database_error()
            .and_then(|error| error.constraint())
            .map(str::to_owned);
        StoreError::Database {
            operation,
            constraint,
            source,
        }
    }
}

/// Returns `count` new ULIDs for rows created at `now`, in ascending order.
///
/// Ascending order makes "order by id" (which MAS's queue worker and admin listings use) follow
/// the order of the batch, as it would have had MAS written the rows one by one.
fn new_ids(env: &Env, now: DateTime<Utc>, count: usize) -> Vec<Ulid> {
    let mut rng = env.rng();
    let mut out: Vec<Ulid> = (0..count).map(|_| ids::ulid_at(now, &mut *rng)).collect();
    out.sort_unstable();
    out
}

/// Returns the uuid column values of `ids`, sorted and without duplicates.
fn unique_uuids(ids: impl IntoIterator<Item = Ulid>) -> Vec<Uuid> {
    let mut out: Vec<Uuid> = ids.into_iter().map(ids::to_uuid).collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Returns the uuid column values of `ids`, in order.
fn uuids(ids: &[Ulid]) -> Vec<Uuid> {
    ids.iter().copied().map(ids::to_uuid).collect()
}

/// Which rows an id-guarded update must touch.
#[derive(Clone, Copy)]
struct GuardedUpdate {
    /// For errors: what is being done.
    operation: &'static str,
    /// The table updated.
    table: &'static str,
    /// Its primary key column.
    id_column: &'static str,
    /// The `SET` list; `$2`, when used, is bound by the caller.
    set: &'static str,
    /// Extra condition so that only rows needing the change are written (e.g. `locked_at IS NULL`).
    only_where: &'static str,
}

impl GuardedUpdate {
    /// Returns one statement that updates the rows of `$1` matching the condition and reports
    /// which of the `$1` ids do not exist, so that an unknown id is an error, not a silent no-op.
    fn sql(self) -> String {
        let Self {
            table,
            id_column,
            set,
            only_where,
            ..
        } = self;
        format!(
            "WITH changed AS (\
                UPDATE {table} SET {set} WHERE {id_column} = ANY($1) AND ({only_where}) RETURNING 1) \
             SELECT ARRAY(SELECT wanted FROM UNNEST($1::uuid[]) AS wanted \
                          WHERE NOT EXISTS (SELECT 1 FROM {table} WHERE {id_column} = wanted)), \
                    (SELECT COUNT(*) FROM changed)"
        )
    }

    /// Runs the update with `$2 = value` (or no `$2` when `value` is `None`) and returns how many
    /// rows changed.
    async fn run<V>(
        self,
        conn: &mut PgConnection,
        ids: Vec<Uuid>,
        value: Option<V>,
    ) -> Result<u64, StoreError>
    where
        V: for<'q> sqlx::Encode<'q, sqlx::Postgres> + sqlx::Type<sqlx::Postgres> + Send + 'static,
    {
        if ids.is_empty() {
            return Ok(0);
        }
        let sql = self.sql();
        let query = sqlx::query_as::<_, (Vec<Uuid>, i64)>(&sql).bind(ids);
        let query = match value {
            Some(value) => query.bind(value),
            None => query,
        };
        let (missing, changed) = query
            .fetch_one(conn)
            .await
            .map_err(db_error(self.operation))?;
        if !missing.is_empty() {
            return Err(StoreError::NotFound {
                operation: self.operation,
                table: self.table,
                ids: missing.into_iter().map(ids::from_uuid).collect(),
            });
        }
        // COUNT(*) is never negative.
        Ok(u64::try_from(changed).unwrap_or(0))
    }
}
