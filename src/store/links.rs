//! Writes to `upstream_oauth_links`, the MAS way (mas-facts §9).
//!
//! MAS creates a link in two steps (insert without a user, then attach the user) and removes
//! one by first detaching its authorization sessions and then deleting it. Both are kept here,
//! batched, so that the rows and the order of operations match what MAS leaves behind.

use std::collections::HashSet;

use sqlx::PgConnection;
use ulid::Ulid;
use uuid::Uuid;

use super::{db_error, new_ids, unique_uuids, uuids, ConflictKind, StoreError};
use crate::env::Env;
use crate::ids;
use crate::model::{ProviderId, UserId};

/// Links each `(user, provider, subject)` and returns the new link ids in the order given.
///
/// Step 1 inserts every link with `user_id` and `human_account_name` NULL, as register-user
/// does; step 2 attaches the users in one `UPDATE … FROM UNNEST`. Both run in the caller's
/// transaction, so no orphaned link (which MAS's cleanup would delete) is ever visible.
///
/// # Errors
/// [`StoreError::Conflict`] (kind [`ConflictKind::UpstreamSubject`]) naming every
/// (provider, subject) pair already linked or given twice; [`StoreError::Database`], e.g. a
/// foreign key violation for an unknown provider or user.
pub async fn link_upstream(
    conn: &mut PgConnection,
    env: &Env,
    links: &[(UserId, ProviderId, String)],
) -> Result<Vec<Ulid>, StoreError> {
    if links.is_empty() {
        return Ok(Vec::new());
    }
    let now = env.now();
    let new = new_ids(env, now, links.len());
    let new_uuids = uuids(&new);
    let providers: Vec<Uuid> = links
        .iter()
        .map(|(_, provider, _)| ids::to_uuid(provider.0))
        .collect();
    let subjects: Vec<&str> = links
        .iter()
        .map(|(_, _, subject)| subject.as_str())
        .collect();
    // `ON CONFLICT DO NOTHING RETURNING` lets the skipped pairs be named; the caller rolls back.
    let inserted: Vec<Uuid> = sqlx::query_scalar(
        "INSERT INTO upstream_oauth_links \
             (upstream_oauth_link_id, upstream_oauth_provider_id, user_id, subject, \
              human_account_name, created_at) \
         SELECT id, provider, NULL, subject, NULL, $4 \
         FROM UNNEST($1::uuid[], $2::uuid[], $3::text[]) AS t(id, provider, subject) \
         ON CONFLICT (upstream_oauth_provider_id, subject) DO NOTHING \
         RETURNING upstream_oauth_link_id",
    )
    .bind(&new_uuids)
    .bind(&providers)
    .bind(&subjects)
    .bind(now)
    .fetch_all(&mut *conn)
    .await
    .map_err(db_error("insert upstream_oauth_links"))?;

    if inserted.len() != links.len() {
        let inserted: HashSet<Uuid> = inserted.into_iter().collect();
        let keys = new_uuids
            .iter()
            .zip(links)
            .filter(|(id, _)| !inserted.contains(*id))
            .map(|(_, (_, provider, subject))| {
                format!("subject {subject:?} at provider {provider}")
            })
            .collect();
        return Err(StoreError::Conflict {
            kind: ConflictKind::UpstreamSubject,
            keys,
        });
    }

    let users: Vec<Uuid> = links
        .iter()
        .map(|(user, _, _)| ids::to_uuid(user.0))
        .collect();
    sqlx::query(
        "UPDATE upstream_oauth_links SET user_id = t.user_id \
         FROM UNNEST($1::uuid[], $2::uuid[]) AS t(id, user_id) \
         WHERE upstream_oauth_link_id = t.id",
    )
    .bind(&new_uuids)
    .bind(users)
    .execute(conn)
    .await
    .map_err(db_error("associate upstream_oauth_links"))?;
    Ok(new)
}

/// Removes the links `links` the MAS way and returns how many links were deleted.
///
/// First their `upstream_oauth_authorization_sessions` are detached (`upstream_oauth_link_id =
/// NULL, unlinked_at = now`; the foreign key has no cascade), then the links are deleted. A link
/// that is already gone is not an error.
///
/// # Errors
/// [`StoreError::Database`].
pub async fn unlink_upstream(
    conn: &mut PgConnection,
    env: &Env,
    links: &[Ulid],
) -> Result<u64, StoreError> {
    if links.is_empty() {
        return Ok(0);
    }
    let links = unique_uuids(links.iter().copied());
    sqlx::query(
        "UPDATE upstream_oauth_authorization_sessions \
         SET upstream_oauth_link_id = NULL, unlinked_at = $2 \
         WHERE upstream_oauth_link_id = ANY($1)",
    )
    .bind(&links)
    .bind(env.now())
    .execute(&mut *conn)
    .await
    .map_err(db_error("detach upstream_oauth_authorization_sessions"))?;

    let deleted =
        sqlx::query("DELETE FROM upstream_oauth_links WHERE upstream_oauth_link_id = ANY($1)")
            .bind(&links)
            .execute(conn)
            .await
            .map_err(db_error("delete upstream_oauth_links"))?;
    Ok(deleted.rows_affected())
}
