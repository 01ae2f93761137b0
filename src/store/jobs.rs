//! MAS queue jobs (mas-facts §5): the exact `queue_name`s and payloads MAS's own code schedules.
//!
//! Jobs are inserted in the caller's transaction, so MAS's `queue_job_notify` trigger fires but
//! the notification (and the rows) reach the workers only at COMMIT, after the data change they
//! act on. Everything but the five columns MAS sets is left to its default (`status` available,
//! `attempt` 0).

use std::collections::BTreeMap;

use serde_json::{json, Value};
use sqlx::PgConnection;
use ulid::Ulid;
use uuid::Uuid;

use super::{db_error, new_ids, uuids, StoreError};
use crate::env::Env;
use crate::ids;
use crate::model::UserId;

/// The `metadata` MAS writes with its default config: an all-zero, unsampled trace context.
pub const JOB_METADATA: &str = r#"{"trace_id":"00000000000000000000000000000000","span_id":"0000000000000000","trace_flags":0}"#;

/// How many `provision-user` jobs [`provision_all_users`] inserts per statement.
pub const PROVISION_ALL_BATCH: usize = 10_000;

/// A job for MAS's worker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Pushes the user (lock state, emails, optionally a display name) to the homeserver.
    ProvisionUser {
        /// The user.
        user_id: UserId,
        /// A display name to set on the homeserver; `None` leaves it alone.
        set_display_name: Option<String>,
    },
    /// Deactivates the user: ends sessions, deletes emails, deactivates on the homeserver.
    DeactivateUser {
        /// The user.
        user_id: UserId,
        /// Whether the homeserver also erases the account's data.
        hs_erase: bool,
    },
    /// Reactivates the user on the homeserver, then clears `deactivated_at`.
    ReactivateUser {
        /// The user.
        user_id: UserId,
    },
    /// Sends the user's current device list to the homeserver.
    SyncDevices {
        /// The user.
        user_id: UserId,
    },
}

impl Job {
    /// Returns the `queue_name` MAS's worker listens on for this job.
    #[must_use]
    pub fn queue_name(&self) -> &'static str {
        match self {
            Self::ProvisionUser { .. } => "provision-user",
            Self::DeactivateUser { .. } => "deactivate-user",
            Self::ReactivateUser { .. } => "reactivate-user",
            Self::SyncDevices { .. } => "sync-devices",
        }
    }

    /// Returns the payload exactly as MAS serialises the job (ids as 26-character ULIDs).
    #[must_use]
    pub fn payload(&self) -> Value {
        match self {
            Self::ProvisionUser {
                user_id,
                set_display_name,
            } => {
                json!({ "user_id": user_id.0.to_string(), "set_display_name": set_display_name })
            }
            Self::DeactivateUser { user_id, hs_erase } => {
                json!({ "user_id": user_id.0.to_string(), "hs_erase": hs_erase })
            }
            Self::ReactivateUser { user_id } | Self::SyncDevices { user_id } => {
                json!({ "user_id": user_id.0.to_string() })
            }
        }
    }
}

/// Inserts `jobs` in one statement with one `now`, and returns their ids in the order given.
///
/// The ids ascend in the order given, and MAS's worker picks jobs by ascending id, so jobs are
/// run in that order as far as the worker runs them in order at all.
///
/// # Errors
/// [`StoreError::Database`].
pub async fn schedule_jobs(
    conn: &mut PgConnection,
    env: &Env,
    jobs: &[Job],
) -> Result<Vec<Ulid>, StoreError> {
    if jobs.is_empty() {
        return Ok(Vec::new());
    }
    let now = env.now();
    let new = new_ids(env, now, jobs.len());
    let names: Vec<&str> = jobs.iter().map(Job::queue_name).collect();
    let payloads: Vec<Value> = jobs.iter().map(Job::payload).collect();
    sqlx::query(
        "INSERT INTO queue_jobs (queue_job_id, queue_name, payload, metadata, created_at) \
         SELECT id, queue_name, payload, $4::jsonb, $5 \
         FROM UNNEST($1::uuid[], $2::text[], $3::jsonb[]) AS t(id, queue_name, payload)",
    )
    .bind(uuids(&new))
    .bind(names)
    .bind(payloads)
    .bind(JOB_METADATA)
    .bind(now)
    .execute(conn)
    .await
    .map_err(db_error("insert queue_jobs"))?;
    Ok(new)
}

/// Schedules one `provision-user` job (no display name) for every user, locked, deactivated
/// and guest users included, as MAS's provision-all-users does, and returns how many.
///
/// The user ids are read in one statement and the jobs inserted in batches of
/// [`PROVISION_ALL_BATCH`], each with its own `now`. Generating the ids in SQL would need 80
/// random bits per row from PostgreSQL (`gen_random_uuid()` has version bits, pgcrypto may be
/// missing) and would bypass the injected RNG, making the rows unreproducible in tests; reading
/// 100k uuids (1.6 MB) and sending them back in ten statements costs well under a second.
///
/// # Errors
/// [`StoreError::Database`].
pub async fn provision_all_users(conn: &mut PgConnection, env: &Env) -> Result<u64, StoreError> {
    // MAS reads the ids unordered; ordering by the primary key only makes runs reproducible.
    let users: Vec<Uuid> = sqlx::query_scalar("SELECT user_id FROM users ORDER BY user_id")
        .fetch_all(&mut *conn)
        .await
        .map_err(db_error("select users"))?;
    let mut scheduled = 0_usize;
    for batch in users.chunks(PROVISION_ALL_BATCH) {
        let jobs: Vec<Job> = batch
            .iter()
            .map(|user| Job::ProvisionUser {
                user_id: UserId(ids::from_uuid(*user)),
                set_display_name: None,
            })
            .collect();
        scheduled += schedule_jobs(conn, env, &jobs).await?.len();
    }
    Ok(u64::try_from(scheduled).unwrap_or(u64::MAX))
}

/// Returns, for each of `users` that has one, the `set_display_name` of its latest
/// `provision-user` job that MAS has not finished yet (status available, scheduled or running).
///
/// A display name lives only on the homeserver; a pending job is the freshest value masctl can
/// know of without asking it.
///
/// # Errors
/// [`StoreError::Database`].
pub async fn pending_display_name_jobs(
    conn: &mut PgConnection,
    users: &[UserId],
) -> Result<BTreeMap<UserId, String>, StoreError> {
    if users.is_empty() {
        return Ok(BTreeMap::new());
    }
    let wanted: Vec<String> = users.iter().map(|user| user.0.to_string()).collect();
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT DISTINCT ON (payload->>'user_id') \
                payload->>'user_id', payload->>'set_display_name' \
         FROM queue_jobs \
         WHERE queue_name = 'provision-user' \
           AND status IN ('available', 'scheduled', 'running') \
           AND payload->>'user_id' = ANY($1) \
           AND payload->>'set_display_name' IS NOT NULL \
         ORDER BY payload->>'user_id', queue_job_id DESC",
    )
    .bind(wanted)
    .fetch_all(conn)
    .await
    .map_err(db_error("select pending provision-user jobs"))?;
    // Only rows whose user_id equals one of `wanted` come back, so every string parses.
    Ok(rows
        .into_iter()
        .filter_map(|(user, name)| user.parse().ok().map(|user| (UserId(user), name)))
        .collect())
}
