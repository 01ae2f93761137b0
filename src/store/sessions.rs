//! Ending a user's sessions, as MAS's kill-sessions does (mas-facts §4.9).
//!
//! Finishing a session invalidates its tokens; tokens are not revoked one by one. Personal
//! sessions are left alone, as kill-sessions leaves them. The caller schedules `sync-devices`.

use sqlx::PgConnection;

use super::{db_error, StoreError};
use crate::env::Env;
use crate::ids;
use crate::model::UserId;

/// How many sessions of each kind were (or, for a dry run, would be) ended.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionCounts {
    /// `compat_sessions` rows.
    pub compat: u64,
    /// `oauth2_sessions` rows.
    pub oauth2: u64,
    /// `user_sessions` (browser) rows.
    pub browser: u64,
}

/// The three session tables, in the order kill-sessions finishes them.
const TABLES: [(&str, &str); 3] = [
    ("compat_sessions", "finish compat_sessions"),
    ("oauth2_sessions", "finish oauth2_sessions"),
    ("user_sessions", "finish user_sessions"),
];

/// Sets `finished_at = now` on the user's active compat, OAuth 2.0 and browser sessions, in that
/// order, each statement with its own `now`, and returns how many of each were ended.
///
/// # Errors
/// [`StoreError::Database`].
pub async fn finish_sessions(
    conn: &mut PgConnection,
    env: &Env,
    user: UserId,
) -> Result<SessionCounts, StoreError> {
    let mut counts = [0_u64; 3];
    for ((table, operation), count) in TABLES.into_iter().zip(&mut counts) {
        // The table name comes from the constant above, never from input.
        let sql = format!(
            "UPDATE {table} SET finished_at = $2 WHERE user_id = $1 AND finished_at IS NULL"
        );
        *count = sqlx::query(&sql)
            .bind(ids::to_uuid(user.0))
            .bind(env.now())
            .execute(&mut *conn)
            .await
            .map_err(db_error(operation))?
            .rows_affected();
    }
    let [compat, oauth2, browser] = counts;
    Ok(SessionCounts {
        compat,
        oauth2,
        browser,
    })
}

/// Returns how many active compat, OAuth 2.0 and browser sessions the user has (for
/// `kill-sessions --dry-run`), in one statement.
///
/// # Errors
/// [`StoreError::Database`].
pub async fn count_active_sessions(
    conn: &mut PgConnection,
    user: UserId,
) -> Result<SessionCounts, StoreError> {
    let (compat, oauth2, browser): (i64, i64, i64) = sqlx::query_as(
        "SELECT \
           (SELECT COUNT(*) FROM compat_sessions WHERE user_id = $1 AND finished_at IS NULL), \
           (SELECT COUNT(*) FROM oauth2_sessions WHERE user_id = $1 AND finished_at IS NULL), \
           (SELECT COUNT(*) FROM user_sessions WHERE user_id = $1 AND finished_at IS NULL)",
    )
    .bind(ids::to_uuid(user.0))
    .fetch_one(conn)
    .await
    .map_err(db_error("count active sessions"))?;
    // COUNT(*) is never negative.
    let count = |value: i64| u64::try_from(value).unwrap_or(0);
    Ok(SessionCounts {
        compat: count(compat),
        oauth2: count(oauth2),
        browser: count(browser),
    })
}
