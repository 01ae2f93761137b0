//! The snapshot's SQL: one set-based SELECT per table, streamed row by row.
//!
//! Every statement goes through `Reader::each` or, for unfiltered reads, `Reader::copy_each`
//! (binary COPY, see [`super::copy`]); both count it, so the number of statements a snapshot
//! costs is measured rather than asserted. Filtering uses `= ANY($1)` on arrays; no
//! statement is ever issued per user. Ordering is left to the caller (in Rust, by byte order),
//! so PostgreSQL never sorts except where `DISTINCT ON` needs it.

use chrono::{DateTime, Utc};
use futures_util::stream::TryStreamExt;
use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{FromRow, PgConnection, Postgres};
use uuid::Uuid;

use super::copy::{Decoder, Fields};
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

    /// Runs `COPY (select) TO STDOUT (FORMAT binary)` and hands every row, decoded by
    /// `decode`, to `sink` (see [`super::copy`]); for unfiltered reads.
    async fn copy_each<O>(
        &mut self,
        table: &'static str,
        select: &str,
        columns: usize,
        decode: fn(&mut Fields<'_>) -> Result<O, String>,
        mut sink: impl FnMut(O),
    ) -> Result<(), SnapshotError> {
        self.statements += 1;
        let statement = format!("COPY ({select}) TO STDOUT (FORMAT binary)");
        let fail = |message: String| SnapshotError::Query {
            table,
            source: sqlx::Error::Protocol(message),
        };
        let mut decoder = Decoder::new(columns, decode);
        let mut received = 0;
        let mut chunks = self
            .conn
            .copy_out_raw(&statement)
            .await
            .map_err(SnapshotError::query(table))?;
        while let Some(chunk) = chunks
            .try_next()
            .await
            .map_err(SnapshotError::query(table))?
        {
            received += decoder.feed(&chunk, &mut sink).map_err(fail)?;
        }
        drop(chunks);
        decoder.finish().map_err(fail)?;
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
    match scope {
        UserScope::All => {
            reader
                .copy_each("users", COLUMNS, 6, decode_user, sink)
                .await
        }
        UserScope::Named(names) => {
            let query = sqlx::query_as(&named).bind(names);
            reader.each("users", query, sink).await
        }
    }
}

fn decode_user(f: &mut Fields<'_>) -> Result<UserRow, String> {
    Ok((
        f.uuid()?,
        f.text()?,
        f.time()?,
        f.optional_time()?,
        f.optional_time()?,
        f.bool()?,
    ))
}

/// Streams the `user_emails` of `users` (all users when `None`).
pub(super) async fn emails(
    reader: &mut Reader<'_>,
    users: Option<&[Uuid]>,
    sink: impl FnMut(EmailRow),
) -> Result<(), SnapshotError> {
    const SELECT: &str = "SELECT user_email_id, user_id, email FROM user_emails";
    match users {
        None => {
            reader
                .copy_each("user_emails", SELECT, 3, decode_email, sink)
                .await
        }
        Some(users) => {
            let named = format!("{SELECT} WHERE user_id = ANY($1)");
            let query = sqlx::query_as(&named).bind(users);
            reader.each("user_emails", query, sink).await
        }
    }
}

fn decode_email(f: &mut Fields<'_>) -> Result<EmailRow, String> {
    Ok((f.uuid()?, f.uuid()?, f.text()?))
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
    match users {
        None => {
            let all = format!("{SELECT} {ORDER}");
            let decode = decode_password;
            reader
                .copy_each("user_passwords", &all, 5, decode, sink)
                .await
        }
        Some(users) => {
            let named = format!("{SELECT} WHERE user_id = ANY($1) {ORDER}");
            let query = sqlx::query_as(&named).bind(users);
            reader.each("user_passwords", query, sink).await
        }
    }
}

fn decode_password(f: &mut Fields<'_>) -> Result<PasswordRow, String> {
    Ok((f.uuid()?, f.uuid()?, f.text()?, f.i32()?, f.time()?))
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
    match users {
        None => {
            let all = format!("{SELECT} WHERE user_id IS NOT NULL");
            let table = "upstream_oauth_links";
            reader.copy_each(table, &all, 4, decode_link, sink).await
        }
        Some(users) => {
            let named = format!("{SELECT} WHERE user_id = ANY($1)");
            let query = sqlx::query_as(&named).bind(users);
            reader.each("upstream_oauth_links", query, sink).await
        }
    }
}

fn decode_link(f: &mut Fields<'_>) -> Result<LinkRow, String> {
    Ok((f.uuid()?, f.uuid()?, f.uuid()?, f.text()?))
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
    let table = "user_registration_tokens";
    match scope {
        TokenScope::All => reader.copy_each(table, SELECT, 5, decode_token, sink).await,
        TokenScope::Named(tokens) => {
            let named = format!("{SELECT} WHERE token = ANY($1)");
            let query = sqlx::query_as(&named).bind(tokens);
            reader.each(table, query, sink).await
        }
    }
}

fn decode_token(f: &mut Fields<'_>) -> Result<TokenRow, String> {
    let id = f.uuid()?;
    let token = f.text()?;
    Ok((
        id,
        token,
        f.optional_i32()?,
        f.optional_time()?,
        f.optional_time()?,
    ))
}

/// Streams every upstream OAuth provider, disabled ones included.
pub(super) async fn providers(
    reader: &mut Reader<'_>,
    sink: impl FnMut(ProviderRow),
) -> Result<(), SnapshotError> {
    const SELECT: &str = "SELECT upstream_oauth_provider_id, COALESCE(human_name, issuer), \
         disabled_at IS NULL FROM upstream_oauth_providers";
    let table = "upstream_oauth_providers";
    reader
        .copy_each(table, SELECT, 3, decode_provider, sink)
        .await
}

fn decode_provider(f: &mut Fields<'_>) -> Result<ProviderRow, String> {
    Ok((f.uuid()?, f.optional_text()?, f.bool()?))
}
