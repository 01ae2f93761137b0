//! Writes to `user_passwords`.
//!
//! Hashing happens elsewhere (it needs the configured schemes, pepper and an RNG); this module
//! only stores the result. Old rows are never touched: the current password is the row with
//! the latest `created_at` (mas-facts §6).

use std::collections::HashSet;

use sqlx::PgConnection;
use ulid::Ulid;

use super::{db_error, new_ids, uuids, StoreError};
use crate::env::Env;
use crate::ids;
use crate::model::{Secret, UserId};

/// A password hash to store for a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPassword {
    /// The user.
    pub user_id: UserId,
    /// `passwords.schemes[].version` of the scheme that produced `hash`.
    pub version: u16,
    /// The PHC (or bcrypt) string.
    pub hash: Secret,
}

/// Inserts one `user_passwords` row per entry, with `upgraded_from_id` NULL as set-password,
/// register-user and the admin API write it, and returns the new ids in the order given.
///
/// One statement and one `now` for the batch; the new row becomes the user's current password
/// as long as no existing row of the user has a later `created_at`.
///
/// # Errors
/// [`StoreError::DuplicateUser`] when a user appears twice (both rows would share `created_at`,
/// leaving the current password undefined); [`StoreError::Database`], e.g.
/// `user_passwords_user_id_fkey` for an unknown user.
pub async fn add_passwords(
    conn: &mut PgConnection,
    env: &Env,
    passwords: &[NewPassword],
) -> Result<Vec<Ulid>, StoreError> {
    const OPERATION: &str = "insert user_passwords";
    if passwords.is_empty() {
        return Ok(Vec::new());
    }
    let mut seen = HashSet::with_capacity(passwords.len());
    if let Some(twice) = passwords
        .iter()
        .find(|password| !seen.insert(password.user_id))
    {
        return Err(StoreError::DuplicateUser {
            operation: OPERATION,
            user: twice.user_id.0,
        });
    }
    let now = env.now();
    let new = new_ids(env, now, passwords.len());
    let users: Vec<_> = passwords
        .iter()
        .map(|password| ids::to_uuid(password.user_id.0))
        .collect();
    let hashes: Vec<&str> = passwords
        .iter()
        .map(|password| password.hash.expose())
        .collect();
    let versions: Vec<i32> = passwords
        .iter()
        .map(|password| i32::from(password.version))
        .collect();
    sqlx::query(
        "INSERT INTO user_passwords \
             (user_password_id, user_id, hashed_password, version, upgraded_from_id, created_at) \
         SELECT id, user_id, hashed_password, version, NULL, $5 \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[], $4::int4[]) \
              AS t(id, user_id, hashed_password, version)",
    )
    .bind(uuids(&new))
    .bind(users)
    .bind(hashes)
    .bind(versions)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_error(OPERATION))?;
    Ok(new)
}
