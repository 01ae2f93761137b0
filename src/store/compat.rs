//! Writes to `compat_sessions` and `compat_access_tokens` (issue-compatibility-token, §4.6).
//!
//! Generating the device id and the `mct_…` token, and creating the device on the homeserver
//! first, are the caller's business; this module stores the rows with exactly the columns MAS
//! sets, and no refresh token.

use sqlx::PgConnection;
use ulid::Ulid;

use super::{db_error, StoreError};
use crate::env::Env;
use crate::ids;
use crate::model::{Secret, UserId};

/// The id of a `compat_sessions` row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct CompatSessionId(pub Ulid);

/// Inserts a compat session for `user` on `device_id` and returns its id.
///
/// `user_session_id` and `human_name` are NULL as MAS writes them; `finished_at`,
/// `last_active_*` and `user_agent` are left NULL.
///
/// # Errors
/// [`StoreError::Database`], e.g. a foreign key violation for an unknown user.
pub async fn create_compat_session(
    conn: &mut PgConnection,
    env: &Env,
    user: UserId,
    device_id: &str,
    is_synapse_admin: bool,
) -> Result<CompatSessionId, StoreError> {
    let now = env.now();
    let id = env.ulid_at(now);
    sqlx::query(
        "INSERT INTO compat_sessions \
             (compat_session_id, user_id, device_id, user_session_id, created_at, \
              is_synapse_admin, human_name) \
         VALUES ($1, $2, $3, NULL, $4, $5, NULL)",
    )
    .bind(ids::to_uuid(id))
    .bind(ids::to_uuid(user.0))
    .bind(device_id)
    .bind(now)
    .bind(is_synapse_admin)
    .execute(conn)
    .await
    .map_err(db_error("insert compat_sessions"))?;
    Ok(CompatSessionId(id))
}

/// Inserts a never-expiring access token for `session` and returns its id.
///
/// # Errors
/// [`StoreError::Database`], e.g. `compat_access_tokens_access_token_unique`.
pub async fn create_compat_access_token(
    conn: &mut PgConnection,
    env: &Env,
    session: CompatSessionId,
    token: &Secret,
) -> Result<Ulid, StoreError> {
    let now = env.now();
    let id = env.ulid_at(now);
    sqlx::query(
        "INSERT INTO compat_access_tokens \
             (compat_access_token_id, compat_session_id, access_token, created_at, expires_at) \
         VALUES ($1, $2, $3, $4, NULL)",
    )
    .bind(ids::to_uuid(id))
    .bind(ids::to_uuid(session.0))
    .bind(token.expose())
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_error("insert compat_access_tokens"))?;
    Ok(id)
}
