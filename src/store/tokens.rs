//! Writes to `user_registration_tokens`.
//!
//! MAS never deletes tokens: it revokes (`revoked_at = now`) and un-revokes (`revoked_at =
//! NULL`). `times_used` and `last_used_at` belong to MAS's registration flow and are never written
//! here (an insert leaves them at their defaults, 0 and NULL).

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use sqlx::PgConnection;
use ulid::Ulid;
use uuid::Uuid;

use super::{db_error, new_ids, unique_uuids, uuids, ConflictKind, GuardedUpdate, StoreError};
use crate::env::Env;
use crate::ids;

/// A registration token to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// `token`, verbatim (matched case-sensitively at registration).
    pub token: String,
    /// `usage_limit`; `None` = unlimited. Must fit MAS's `integer` column.
    pub usage_limit: Option<u32>,
    /// `expires_at`; `None` = never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// New limits for an existing registration token (what MAS's admin API lets one edit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenUpdate {
    /// `user_registration_token_id`.
    pub id: Ulid,
    /// For errors: the token string.
    pub token: String,
    /// New `usage_limit`; `None` = unlimited.
    pub usage_limit: Option<u32>,
    /// New `expires_at`; `None` = never.
    pub expires_at: Option<DateTime<Utc>>,
}

/// Inserts one registration token and returns its id.
///
/// # Errors
/// As [`create_tokens`].
pub async fn create_token(
    conn: &mut PgConnection,
    env: &Env,
    token: &NewToken,
) -> Result<Ulid, StoreError> {
    let ids = create_tokens(conn, env, std::slice::from_ref(token)).await?;
    ids.into_iter().next().ok_or(StoreError::Conflict {
        kind: ConflictKind::RegistrationToken,
        keys: vec![token.token.clone()],
    })
}

/// Inserts `tokens` (one statement, one `now`) and returns their ids in the order given.
///
/// Only the columns issue-user-registration-token sets are written; `times_used` takes its
/// default 0, `last_used_at` and `revoked_at` stay NULL.
///
/// # Errors
/// [`StoreError::UsageLimitTooLarge`] before anything is written when a limit exceeds
/// `i32::MAX`; [`StoreError::Conflict`] (kind [`ConflictKind::RegistrationToken`]) naming every
/// token that exists or is given twice; [`StoreError::Database`].
pub async fn create_tokens(
    conn: &mut PgConnection,
    env: &Env,
    tokens: &[NewToken],
) -> Result<Vec<Ulid>, StoreError> {
    if tokens.is_empty() {
        return Ok(Vec::new());
    }
    let limits = tokens
        .iter()
        .map(|token| usage_limit(&token.token, token.usage_limit))
        .collect::<Result<Vec<_>, _>>()?;
    let now = env.now();
    let new = new_ids(env, now, tokens.len());
    let new_uuids = uuids(&new);
    let strings: Vec<&str> = tokens.iter().map(|token| token.token.as_str()).collect();
    let expires: Vec<Option<DateTime<Utc>>> = tokens.iter().map(|token| token.expires_at).collect();
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO user_registration_tokens \
             (user_registration_token_id, token, usage_limit, created_at, expires_at) \
         SELECT id, token, usage_limit, $5, expires_at \
         FROM UNNEST($1::uuid[], $2::text[], $3::int4[], $4::timestamptz[]) \
              AS t(id, token, usage_limit, expires_at) \
         ON CONFLICT (token) DO NOTHING \
         RETURNING user_registration_token_id",
    )
    .bind(&new_uuids)
    .bind(&strings)
    .bind(limits)
    .bind(expires)
    .bind(now)
    .fetch_all(conn)
    .await
    .map_err(db_error("insert user_registration_tokens"))?;

    if inserted.len() != tokens.len() {
        let inserted: HashSet<Uuid> = inserted.into_iter().collect();
        let keys = new_uuids
            .iter()
            .zip(&strings)
            .filter(|(id, _)| !inserted.contains(*id))
            .map(|(_, token)| (*token).to_owned())
            .collect();
        return Err(StoreError::Conflict {
            kind: ConflictKind::RegistrationToken,
            keys,
        });
    }
    Ok(new)
}

/// Sets `usage_limit` and `expires_at` of one token.
///
/// # Errors
/// As [`update_tokens`].
pub async fn update_token(conn: &mut PgConnection, update: &TokenUpdate) -> Result<(), StoreError> {
    update_tokens(conn, std::slice::from_ref(update)).await
}

/// Sets `usage_limit` and `expires_at` of each token in one statement.
///
/// # Errors
/// [`StoreError::UsageLimitTooLarge`] before anything is written; [`StoreError::NotFound`]
/// naming unknown ids; [`StoreError::Database`].
pub async fn update_tokens(
    conn: &mut PgConnection,
    updates: &[TokenUpdate],
) -> Result<(), StoreError> {
    const OPERATION: &str = "update user_registration_tokens";
    if updates.is_empty() {
        return Ok(());
    }
    let limits = updates
        .iter()
        .map(|update| usage_limit(&update.token, update.usage_limit))
        .collect::<Result<Vec<_>, _>>()?;
    let targets: Vec<Ulid> = updates.iter().map(|update| update.id).collect();
    let expires: Vec<Option<DateTime<Utc>>> =
        updates.iter().map(|update| update.expires_at).collect();
    let updated: Vec<Uuid> = sqlx::query_scalar(
        "UPDATE user_registration_tokens AS r \
         SET usage_limit = t.usage_limit, expires_at = t.expires_at \
         FROM UNNEST($1::uuid[], $2::int4[], $3::timestamptz[]) AS t(id, usage_limit, expires_at) \
         WHERE r.user_registration_token_id = t.id \
         RETURNING r.user_registration_token_id",
    )
    .bind(uuids(&targets))
    .bind(limits)
    .bind(expires)
    .fetch_all(conn)
    .await
    .map_err(db_error(OPERATION))?;

    let updated: HashSet<Uuid> = updated.into_iter().collect();
    let missing: Vec<Ulid> = targets
        .into_iter()
        .filter(|id| !updated.contains(&ids::to_uuid(*id)))
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::NotFound {
            operation: OPERATION,
            table: "user_registration_tokens",
            ids: missing,
        })
    }
}

/// Revokes one token; see [`revoke_tokens`].
///
/// # Errors
/// As [`revoke_tokens`].
pub async fn revoke_token(
    conn: &mut PgConnection,
    env: &Env,
    token: Ulid,
) -> Result<u64, StoreError> {
    revoke_tokens(conn, env, &[token]).await
}

/// Sets `revoked_at = now` on the tokens not yet revoked and returns how many were revoked.
///
/// An already revoked token keeps its original timestamp.
///
/// # Errors
/// [`StoreError::NotFound`] naming unknown ids; [`StoreError::Database`].
pub async fn revoke_tokens(
    conn: &mut PgConnection,
    env: &Env,
    tokens: &[Ulid],
) -> Result<u64, StoreError> {
    const UPDATE: GuardedUpdate = GuardedUpdate {
        operation: "revoke user_registration_tokens",
        table: "user_registration_tokens",
        id_column: "user_registration_token_id",
        set: "revoked_at = $2",
        only_where: "revoked_at IS NULL",
    };
    UPDATE
        .run(conn, unique_uuids(tokens.iter().copied()), Some(env.now()))
        .await
}

/// Un-revokes one token; see [`unrevoke_tokens`].
///
/// # Errors
/// As [`unrevoke_tokens`].
pub async fn unrevoke_token(conn: &mut PgConnection, token: Ulid) -> Result<u64, StoreError> {
    unrevoke_tokens(conn, &[token]).await
}

/// Clears `revoked_at` on the revoked tokens and returns how many were un-revoked.
///
/// # Errors
/// [`StoreError::NotFound`] naming unknown ids; [`StoreError::Database`].
pub async fn unrevoke_tokens(conn: &mut PgConnection, tokens: &[Ulid]) -> Result<u64, StoreError> {
    const UPDATE: GuardedUpdate = GuardedUpdate {
        operation: "unrevoke user_registration_tokens",
        table: "user_registration_tokens",
        id_column: "user_registration_token_id",
        set: "revoked_at = NULL",
        only_where: "revoked_at IS NOT NULL",
    };
    UPDATE
        .run::<bool>(conn, unique_uuids(tokens.iter().copied()), None)
        .await
}

/// Returns `limit` as MAS's `integer` column holds it.
fn usage_limit(token: &str, limit: Option<u32>) -> Result<Option<i32>, StoreError> {
    limit
        .map(|limit| {
            i32::try_from(limit).map_err(|_| StoreError::UsageLimitTooLarge {
                token: token.to_owned(),
                limit,
            })
        })
        .transpose()
}
