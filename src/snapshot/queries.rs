//! The snapshot's SQL: one set-based SELECT per table, streamed row by row.
//!
//! Every statement goes through `Reader::each`, which counts it, so the number of statements
//! a snapshot costs is measured rather than asserted. Filtering uses `= ANY($1)` on arrays; no
//! statement is ever issued per user. Ordering is left to the caller (in Rust, by byte order),
//! so PostgreSQL never sorts except where `DISTINCT ON` needs it.

use chrono::{DateTime, Utc};
use futures_util::stream::TryStreamExt;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgConnection, Postgres};
use uuid::Uuid;

use super::{SnapshotError, TokenScope, UserScope};

/// A connection that counts the statements and rows the snapshot reads.
pub(super) struct Reader<'c> {
    conn: &'c mut PgConnection,
    /// Statements sent so far.
    pub(super) statements: usize,
    /// Rows received so far.
    pub(super) rows: usize,
}

impl<'c> Reader<'c> {
    /// Wraps the caller's connection.
    pub(super) fn new(conn: &'c mut PgConnection) -> Self {
        Self {
            conn,
            statements: 0,
            rows: 0,
        }
    }

    /// Runs `query` and hands every row to `sink`, streaming (rows are never all buffered).
    ///
    /// This is the only way a statement reaches the server, so [`Reader::statements`] is exact.
    async fn each<'q, O>(
        &mut self,
        table: &'static str,
        query: QueryAs<'q, Postgres, O, PgArguments>,
        mut sink: impl FnMut(O),
    ) -> Result<(), SnapshotError>
    where
        O: Send + Unpin + for<'r> FromRow<'r, PgRow> + 'q,
    {
        self.statements += 1;
        let mut received = 0;
        let mut rows = query.fetch(&mut *self.conn);
        while let Some(row) = rows.try_next().await.map_err(SnapshotError::query(table))? {
            received += 1;
            sink(row);
        }
        drop(rows);
        self.rows += received;
        Ok(())
    }
}

/// `users` columns: id, username, created_at, locked_at, deactivated_at, can_request_admin.
pub(super) type UserRow = (
    Uuid,
    String,
    DateTime<Utc>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
    bool,
);
/// `user_emails` columns: id, user_id, email.
pub(super) type EmailRow = (Uuid, Uuid, String);
/// Current `user_passwords` row: user_id, id, hashed_password, version, created_at.
pub(super) type PasswordRow = (Uuid, Uuid, String, i32, DateTime<Utc>);
/// `upstream_oauth_links` columns: id, user_id, provider id, subject.
pub(super) type LinkRow = (Uuid, Uuid, Uuid, String);
/// `user_registration_tokens` columns: id, token, usage_limit, expires_at, revoked_at.
pub(super) type TokenRow = (
    Uuid,
    String,
    Option<i32>,
    Option<DateTime<Utc>>,
    Option<DateTime<Utc>>,
);
/// `upstream_oauth_providers` columns: id, human_name or issuer, enabled.
pub(super) type ProviderRow = (Uuid, Option<String>, bool);

/// Streams the users in scope. Named users match case-insensitively, as MAS's
/// `LOWER(username) = LOWER($1)` lookups do (served by `users_lower_username_idx`).
pub(super) async fn users(
    reader: &mut Reader<'_>,
    scope: &UserScope,
    sink: impl FnMut(UserRow),
) -> Result<(), SnapshotError> {
    const COLUMNS: &str =
        "SELECT user_id, username, created_at, locked_at, deactivated_at, can_request_admin FROM users";
    let named = format!(
        "{COLUMNS} WHERE LOWER(username) = ANY(ARRAY(SELECT LOWER(name) FROM UNNEST($1::text[]) AS name))"
    );
    let query = match scope {
        UserScope::All => sqlx::query_as(COLUMNS),
        UserScope::Named(names) => sqlx::query_as(&named).bind(names),
    };
    reader.each("users", query, sink).await
}

/// Streams the `user_emails` of `users` (all users when `None`).
pub(super) async fn emails(
    reader: &mut Reader<'_>,
    users: Option<&[Uuid]>,
    sink: impl FnMut(EmailRow),
) -> Result<(), SnapshotError> {
    let query = match users {
        None => sqlx::query_as("SELECT user_email_id, user_id, email FROM user_emails"),
        Some(users) => sqlx::query_as(
            "SELECT user_email_id, user_id, email FROM user_emails WHERE user_id = ANY($1)",
        )
        .bind(users),
    };
    reader.each("user_emails", query, sink).await
}

/// Streams the current password of each of `users`: the row with the greatest `created_at`
/// (ties, which MAS leaves undefined, go to the greatest id).
pub(super) async fn passwords(
    reader: &mut Reader<'_>,
    users: Option<&[Uuid]>,
    sink: impl FnMut(PasswordRow),
) -> Result<(), SnapshotError> {
    const SELECT: &str = "SELECT DISTINCT ON (user_id) \
             user_id, user_password_id, hashed_password, version, created_at \
         FROM user_passwords";
    const ORDER: &str = "ORDER BY user_id, created_at DESC, user_password_id DESC";
    let all = format!("{SELECT} {ORDER}");
    let named = format!("{SELECT} WHERE user_id = ANY($1) {ORDER}");
    let query = match users {
        None => sqlx::query_as(&all),
        Some(users) => sqlx::query_as(&named).bind(users),
    };
    reader.each("user_passwords", query, sink).await
}

/// Streams the `upstream_oauth_links` owned by `users` (orphaned links, whose `user_id` is NULL,
/// belong to nobody and are skipped).
pub(super) async fn links(
    reader: &mut Reader<'_>,
    users: Option<&[Uuid]>,
    sink: impl FnMut(LinkRow),
) -> Result<(), SnapshotError> {
    const SELECT: &str =
        "SELECT upstream_oauth_link_id, user_id, upstream_oauth_provider_id, subject \
         FROM upstream_oauth_links";
    let all = format!("{SELECT} WHERE user_id IS NOT NULL");
    let named = format!("{SELECT} WHERE user_id = ANY($1)");
    let query = match users {
        None => sqlx::query_as(&all),
        Some(users) => sqlx::query_as(&named).bind(users),
    };
    reader.each("upstream_oauth_links", query, sink).await
}

/// Streams the registration tokens in scope (named tokens match exactly, as MAS matches them).
pub(super) async fn tokens(
    reader: &mut Reader<'_>,
    scope: &TokenScope,
    sink: impl FnMut(TokenRow),
) -> Result<(), SnapshotError> {
    const SELECT: &str =
        "SELECT user_registration_token_id, token, usage_limit, expires_at, revoked_at \
         FROM user_registration_tokens";
    let named = format!("{SELECT} WHERE token = ANY($1)");
    let query = match scope {
        TokenScope::All => sqlx::query_as(SELECT),
        TokenScope::Named(tokens) => sqlx::query_as(&named).bind(tokens),
    };
    reader.each("user_registration_tokens", query, sink).await
}

/// Streams every upstream OAuth provider, disabled ones included.
pub(super) async fn providers(
    reader: &mut Reader<'_>,
    sink: impl FnMut(ProviderRow),
) -> Result<(), SnapshotError> {
    let query = sqlx::query_as(
        "SELECT upstream_oauth_provider_id, COALESCE(human_name, issuer), disabled_at IS NULL \
         FROM upstream_oauth_providers",
    );
    reader.each("upstream_oauth_providers", query, sink).await
}
