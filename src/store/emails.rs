//! Writes to `user_emails`.
//!
//! A row's presence means "verified" (MAS dropped `confirmed_at` in v1.10), and the table has no
//! unique constraint: deduplication is the planner's job, not this module's.

use sqlx::PgConnection;
use ulid::Ulid;

use super::{db_error, new_ids, unique_uuids, uuids, StoreError};
use crate::env::Env;
use crate::ids;
use crate::model::{EmailAddress, UserId};

/// Inserts one `user_emails` row per `(user, address)`, verbatim, and returns the new ids in
/// the order given.
///
/// One statement and one `now` for the batch. Like MAS's add-email, no job is scheduled here:
/// the caller schedules `provision-user` so that the homeserver learns the address.
///
/// # Errors
/// [`StoreError::Database`], e.g. `user_emails_user_id_fkey` for an unknown user.
pub async fn add_emails(
    conn: &mut PgConnection,
    env: &Env,
    emails: &[(UserId, EmailAddress)],
) -> Result<Vec<Ulid>, StoreError> {
    if emails.is_empty() {
        return Ok(Vec::new());
    }
    let now = env.now();
    let new = new_ids(env, now, emails.len());
    let users: Vec<_> = emails
        .iter()
        .map(|(user, _)| ids::to_uuid(user.0))
        .collect();
    let addresses: Vec<&str> = emails.iter().map(|(_, email)| email.as_str()).collect();
    sqlx::query(
        "INSERT INTO user_emails (user_email_id, user_id, email, created_at) \
         SELECT id, user_id, email, $4 \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS t(id, user_id, email)",
    )
    .bind(uuids(&new))
    .bind(users)
    .bind(addresses)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_error("insert user_emails"))?;
    Ok(new)
}

/// Deletes the `user_emails` rows `emails` and returns how many existed.
///
/// Deleting the row is what MAS does when a user removes an address; the user's
/// `user_recovery_tickets` for it go with it (ON DELETE CASCADE). A row that is already gone
/// is not an error: the address is removed either way.
///
/// # Errors
/// [`StoreError::Database`].
pub async fn remove_emails(conn: &mut PgConnection, emails: &[Ulid]) -> Result<u64, StoreError> {
    if emails.is_empty() {
        return Ok(0);
    }
    let result = sqlx::query("DELETE FROM user_emails WHERE user_email_id = ANY($1)")
        .bind(unique_uuids(emails.iter().copied()))
        .execute(conn)
        .await
        .map_err(db_error("delete user_emails"))?;
    Ok(result.rows_affected())
}
