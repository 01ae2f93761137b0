//! Writes to `users`: creation, the admin flag, lock and deactivation timestamps.
//!
//! MAS never deletes users, and neither does this module.

use std::collections::HashSet;

use sqlx::PgConnection;
use uuid::Uuid;

use super::{db_error, new_ids, unique_uuids, uuids, ConflictKind, GuardedUpdate, StoreError};
use crate::env::Env;
use crate::ids;
use crate::model::{UserId, Username};

/// A user to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// `users.username`, stored verbatim.
    pub username: Username,
    /// `users.can_request_admin`.
    pub can_request_admin: bool,
    /// Whether `locked_at` is set (to the creation time).
    pub locked: bool,
    /// Whether `deactivated_at` is set (to the creation time).
    pub deactivated: bool,
}

/// Inserts `users` and returns their ids, in the order given.
///
/// One statement for the whole batch, with one `now` as `created_at` (and as `locked_at` /
/// `deactivated_at` where asked). MAS's register-user inserts the row and then UPDATEs
/// `can_request_admin`; one INSERT with the final value leaves the same row behind. Like MAS,
/// the insert is `ON CONFLICT (username) DO NOTHING` and a skipped row is an error.
///
/// # Errors
/// [`StoreError::Conflict`] (kind [`ConflictKind::Username`]) naming every username that already
/// exists or appears twice in the batch; [`StoreError::Database`] when PostgreSQL refuses.
pub async fn create_users(
    conn: &mut PgConnection,
    env: &Env,
    users: &[NewUser],
) -> Result<Vec<UserId>, StoreError> {
    if users.is_empty() {
        return Ok(Vec::new());
    }
    let now = env.now();
    let new = new_ids(env, now, users.len());
    let names: Vec<&str> = users.iter().map(|user| user.username.as_str()).collect();
    let admin: Vec<bool> = users.iter().map(|user| user.can_request_admin).collect();
    let locked: Vec<bool> = users.iter().map(|user| user.locked).collect();
    let deactivated: Vec<bool> = users.iter().map(|user| user.deactivated).collect();
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO users (user_id, username, created_at, can_request_admin, locked_at, deactivated_at) \
         SELECT id, username, $6, admin, \
                CASE WHEN locked THEN $6 END, CASE WHEN deactivated THEN $6 END \
         FROM UNNEST($1::uuid[], $2::text[], $3::bool[], $4::bool[], $5::bool[]) \
              AS t(id, username, admin, locked, deactivated) \
         ON CONFLICT (username) DO NOTHING \
         RETURNING user_id",
    )
    .bind(uuids(&new))
    .bind(&names)
    .bind(&admin)
    .bind(&locked)
    .bind(&deactivated)
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error("insert users"))?;

    if inserted.len() != users.len() {
        let inserted: HashSet<Uuid> = inserted.into_iter().collect();
        let keys = new
            .iter()
            .zip(&names)
            .filter(|(id, _)| !inserted.contains(&ids::to_uuid(**id)))
            .map(|(_, name)| (*name).to_owned())
            .collect();
        return Err(StoreError::Conflict {
            kind: ConflictKind::Username,
            keys,
        });
    }
    Ok(new.into_iter().map(UserId).collect())
}

/// Sets `can_request_admin` of `users` to `admin` and returns how many rows were written.
///
/// Like MAS's promote-admin/demote-admin, the row is written even when the value is unchanged.
///
/// # Errors
/// [`StoreError::NotFound`] naming unknown users; [`StoreError::Database`].
pub async fn set_admin(
    conn: &mut PgConnection,
    users: &[UserId],
    admin: bool,
) -> Result<u64, StoreError> {
    const UPDATE: GuardedUpdate = GuardedUpdate {
        operation: "update users.can_request_admin",
        table: "users",
        id_column: "user_id",
        set: "can_request_admin = $2",
        only_where: "TRUE",
    };
    UPDATE.run(conn, user_uuids(users), Some(admin)).await
}

/// Sets `locked_at = now` on the `users` not yet locked and returns how many were locked.
///
/// An already locked user keeps its original timestamp, as with MAS's lock-user.
///
/// # Errors
/// [`StoreError::NotFound`] naming unknown users; [`StoreError::Database`].
pub async fn lock_users(
    conn: &mut PgConnection,
    env: &Env,
    users: &[UserId],
) -> Result<u64, StoreError> {
    const UPDATE: GuardedUpdate = GuardedUpdate {
        operation: "lock users",
        table: "users",
        id_column: "user_id",
        set: "locked_at = $2",
        only_where: "locked_at IS NULL",
    };
    UPDATE.run(conn, user_uuids(users), Some(env.now())).await
}

/// Clears `locked_at` on the locked `users` and returns how many were unlocked.
///
/// # Errors
/// [`StoreError::NotFound`] naming unknown users; [`StoreError::Database`].
pub async fn unlock_users(conn: &mut PgConnection, users: &[UserId]) -> Result<u64, StoreError> {
    const UPDATE: GuardedUpdate = GuardedUpdate {
        operation: "unlock users",
        table: "users",
        id_column: "user_id",
        set: "locked_at = NULL",
        only_where: "locked_at IS NOT NULL",
    };
    UPDATE.run::<bool>(conn, user_uuids(users), None).await
}

/// Sets `deactivated_at = now` on the active `users` and returns how many were deactivated.
///
/// This is what MAS's admin API does; the `deactivate-user` job (scheduled by the caller)
/// then ends sessions, deletes emails and tells the homeserver. The job keeps an existing
/// `deactivated_at`, and so does this function.
///
/// # Errors
/// [`StoreError::NotFound`] naming unknown users; [`StoreError::Database`].
pub async fn deactivate_users(
    conn: &mut PgConnection,
    env: &Env,
    users: &[UserId],
) -> Result<u64, StoreError> {
    const UPDATE: GuardedUpdate = GuardedUpdate {
        operation: "deactivate users",
        table: "users",
        id_column: "user_id",
        set: "deactivated_at = $2",
        only_where: "deactivated_at IS NULL",
    };
    UPDATE.run(conn, user_uuids(users), Some(env.now())).await
}

/// Clears `deactivated_at` on the deactivated `users` and returns how many were reactivated.
///
/// `locked_at` is left alone, as MAS's `reactivate-user` job leaves it.
///
/// # Errors
/// [`StoreError::NotFound`] naming unknown users; [`StoreError::Database`].
pub async fn reactivate_users(
    conn: &mut PgConnection,
    users: &[UserId],
) -> Result<u64, StoreError> {
    const UPDATE: GuardedUpdate = GuardedUpdate {
        operation: "reactivate users",
        table: "users",
        id_column: "user_id",
        set: "deactivated_at = NULL",
        only_where: "deactivated_at IS NOT NULL",
    };
    UPDATE.run::<bool>(conn, user_uuids(users), None).await
}

/// Returns the uuid values of `users`, sorted and deduplicated.
fn user_uuids(users: &[UserId]) -> Vec<Uuid> {
    unique_uuids(users.iter().map(|user| user.0))
}
