//! The advisory lock that serialises masctl runs on one database.
//!
//! It is transaction-scoped (`pg_try_advisory_xact_lock`), so it is released by COMMIT,
//! ROLLBACK, or the connection dying — a killed apply can never leave it behind. Waiting polls
//! instead of blocking, so that the waiter can say who holds the lock and give up on time.

use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use sqlx::PgConnection;

/// The lock key: "masctl" in ASCII followed by 0001, far from MAS's migration lock key space.
pub const LOCK_KEY: i64 = 0x6d61_7363_746c_0001;

/// How often a waiter retries.
const POLL_INTERVAL: Duration = Duration::from_millis(200);

/// The session holding the lock, as PostgreSQL reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockHolder {
    /// Backend process id.
    pub pid: i32,
    /// `application_name` of the holder (masctl sets it to say which command runs).
    pub application_name: String,
    /// Database user.
    pub user: Option<String>,
    /// Client address, if over TCP.
    pub client_addr: Option<String>,
    /// When the holder's transaction started.
    pub since: Option<DateTime<Utc>>,
}

impl std::fmt::Display for LockHolder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` (backend pid {}", self.application_name, self.pid)?;
        if let Some(user) = &self.user {
            write!(f, ", user {user}")?;
        }
        if let Some(addr) = &self.client_addr {
            write!(f, ", from {addr}")?;
        }
        if let Some(since) = self.since {
            write!(f, ", since {}", since.format("%Y-%m-%d %H:%M:%S UTC"))?;
        }
        f.write_str(")")
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another session kept it past the timeout.
    #[error("another masctl run holds the lock on this database: {}; gave up after {}s", holder.as_ref().map_or_else(|| "unknown session".to_owned(), ToString::to_string), timeout.as_secs())]
    Timeout {
        /// Who held it when we gave up (if still visible).
        holder: Option<LockHolder>,
        /// How long we waited.
        timeout: Duration,
    },
    /// The database failed.
    #[error("cannot take the masctl lock: {0}")]
    Database(#[from] sqlx::Error),
}

/// Takes the lock inside the caller's open transaction, waiting up to `timeout`.
///
/// `on_wait` is called once, with the holder, when the lock is not free at the first try.
///
/// # Errors
/// [`LockError::Timeout`] when the lock stays taken; [`LockError::Database`] on SQL failure.
pub async fn acquire(
    conn: &mut PgConnection,
    timeout: Duration,
    mut on_wait: impl FnMut(Option<&LockHolder>),
) -> Result<(), LockError> {
    let start = Instant::now();
    let mut told = false;
    loop {
        let taken: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
            .bind(LOCK_KEY)
            .fetch_one(&mut *conn)
            .await?;
        if taken {
            return Ok(());
        }
        if !told {
            told = true;
            on_wait(holder(conn).await?.as_ref());
        }
        if start.elapsed() >= timeout {
            return Err(LockError::Timeout {
                holder: holder(conn).await?,
                timeout,
            });
        }
        tokio::time::sleep(POLL_INTERVAL.min(timeout.saturating_sub(start.elapsed()))).await;
    }
}

/// `pg_stat_activity` columns of the holder: pid, application_name, user, client address, xact_start.
type HolderRow = (
    i32,
    String,
    Option<String>,
    Option<String>,
    Option<DateTime<Utc>>,
);

/// Returns the session currently holding the lock.
///
/// # Errors
/// Returns the database error, if any.
pub async fn holder(conn: &mut PgConnection) -> Result<Option<LockHolder>, sqlx::Error> {
    // A bigint advisory key shows in pg_locks split in two: high 32 bits in classid, low in
    // objid, with objsubid = 1.
    let high = LOCK_KEY >> 32;
    let low = LOCK_KEY & 0xFFFF_FFFF;
    let row: Option<HolderRow> = sqlx::query_as(
        "SELECT a.pid, a.application_name, a.usename::text, host(a.client_addr), a.xact_start
         FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
           AND l.classid::bigint = $1 AND l.objid::bigint = $2 AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
         LIMIT 1",
    )
    .bind(high)
    .bind(low)
    .fetch_optional(&mut *conn)
    .await?;
    Ok(row.map(
        |(pid, application_name, user, client_addr, since)| LockHolder {
            pid,
            application_name,
            user,
            client_addr,
            since,
        },
    ))
}
