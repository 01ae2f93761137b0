//! Watching masctl from the outside: its session in `pg_stat_activity` (named after its pid),
//! whether it holds or waits for masctl's lock, and a session of the test's own that takes
//! that lock the way another masctl run would.

use std::time::{Duration, Instant};

use sqlx::{Executor, PgConnection};

use super::process::Running;
use super::TestDb;

/// Takes masctl's lock on `db` from a session of the test's own, as another masctl would.
///
/// A session-level lock conflicts with masctl's transaction-level one and is held whatever
/// happens to transactions, until [`release_lock`].
pub(crate) async fn hold_lock(db: &TestDb) -> sqlx::PgConnection {
    let mut conn = db.connect().await;
    conn.execute("SET application_name = 'reliability test'")
        .await
        .unwrap();
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(masctl::apply::lock::LOCK_KEY)
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

/// Releases the lock taken by [`hold_lock`].
pub(crate) async fn release_lock(mut conn: sqlx::PgConnection) {
    let released: bool = sqlx::query_scalar("SELECT pg_advisory_unlock($1)")
        .bind(masctl::apply::lock::LOCK_KEY)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(released, "the test's lock was not held any more");
}

/// One session as `pg_stat_activity` shows it.
#[derive(Debug, Clone)]
pub(crate) struct Backend {
    /// `pid` of the backend.
    pub(crate) pid: i32,
    /// `state`: `active`, `idle`, `idle in transaction`, …
    pub(crate) state: String,
    /// Whether a transaction (or a single statement) is running (`xact_start IS NOT NULL`).
    pub(crate) in_transaction: bool,
    /// Whether the transaction has written (`backend_xid IS NOT NULL`).
    pub(crate) wrote: bool,
    /// Whether the session holds masctl's advisory lock: it is in its apply transaction.
    pub(crate) holds_lock: bool,
    /// The current or last statement.
    pub(crate) query: String,
}

impl Backend {
    /// Returns whether the session is in its apply transaction, waiting for masctl's lock.
    pub(crate) fn waits_for_lock(&self) -> bool {
        // The try-lock, or the "who holds it" query between two tries (the schema guard's
        // look at pg_locks does not join pg_stat_activity).
        self.in_transaction
            && !self.holds_lock
            && (self.query.contains("pg_try_advisory_xact_lock")
                || (self.query.contains("pg_locks") && self.query.contains("pg_stat_activity")))
    }

    /// Returns a short description of what the session was doing, for tallies.
    pub(crate) fn phase(&self) -> String {
        let statement: String = self
            .query
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        if self.waits_for_lock() {
            return "waiting for the lock".to_owned();
        }
        if !self.holds_lock {
            return "connected, before the apply transaction (planning, hashing)".to_owned();
        }
        if statement.starts_with("COMMIT") {
            return "COMMIT".to_owned();
        }
        if self.wrote {
            format!("apply transaction, writing ({statement})")
        } else {
            format!("apply transaction, locked, before any write ({statement})")
        }
    }
}

/// Watches another process's sessions from its own connection.
pub(crate) struct Observer {
    conn: PgConnection,
}

impl Observer {
    /// Connects to `db`.
    pub(crate) async fn new(db: &TestDb) -> Self {
        Self {
            conn: db.connect().await,
        }
    }

    /// Returns the session named `application_name`, if it exists.
    pub(crate) async fn backend(&mut self, application_name: &str) -> Option<Backend> {
        type Row = (i32, Option<String>, bool, bool, bool, Option<String>);
        // A bigint advisory key shows in pg_locks split in two halves (see apply::lock).
        let row: Option<Row> = sqlx::query_as(
            "SELECT a.pid, a.state, a.xact_start IS NOT NULL, a.backend_xid IS NOT NULL, \
                    EXISTS (SELECT 1 FROM pg_locks l WHERE l.pid = a.pid AND l.granted \
                            AND l.locktype = 'advisory' AND l.objsubid = 1 \
                            AND l.classid::bigint = $2 AND l.objid::bigint = $3), \
                    a.query \
             FROM pg_stat_activity a \
             WHERE a.application_name = $1 AND a.datname = current_database()",
        )
        .bind(application_name)
        .bind(masctl::apply::lock::LOCK_KEY >> 32)
        .bind(masctl::apply::lock::LOCK_KEY & 0xFFFF_FFFF)
        .fetch_optional(&mut self.conn)
        .await
        .unwrap();
        row.map(
            |(pid, state, in_transaction, wrote, holds_lock, query)| Backend {
                pid,
                state: state.unwrap_or_default(),
                in_transaction,
                wrote,
                holds_lock,
                query: query.unwrap_or_default(),
            },
        )
    }

    /// Waits until the session named `application_name` is gone (a killed client's backend
    /// finishes its statement first), failing after `limit`.
    pub(crate) async fn wait_gone(&mut self, application_name: &str, limit: Duration) {
        let start = std::time::Instant::now();
        while self.backend(application_name).await.is_some() {
            assert!(
                start.elapsed() < limit,
                "session {application_name} still exists after {limit:?}"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Returns the observer's connection, for other queries.
    pub(crate) fn conn(&mut self) -> &mut PgConnection {
        &mut self.conn
    }
}

/// Waits until masctl's session satisfies `condition`; `None` if the process exits first.
pub(crate) async fn wait_for(
    running: &mut Running,
    observer: &mut Observer,
    application_name: &str,
    condition: impl Fn(&Backend) -> bool,
) -> Option<Instant> {
    loop {
        if let Some(backend) = observer.backend(application_name).await {
            if condition(&backend) {
                return Some(Instant::now());
            }
        }
        if running.has_exited() {
            return None;
        }
        assert!(
            running.elapsed() < Duration::from_secs(120),
            "masctl never reached the awaited phase"
        );
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Installs (or removes) a deferred trigger that makes COMMIT take 600 ms, so that kills can
/// land inside it. It sleeps once per transaction, whatever the number of rows.
pub(crate) async fn slow_commit(conn: &mut sqlx::PgConnection, install: bool) {
    let sql = if install {
        "CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN
           IF current_setting('masctl_test.slept', true) IS DISTINCT FROM 'yes' THEN
             PERFORM set_config('masctl_test.slept', 'yes', true);
             PERFORM pg_sleep(0.6);
           END IF;
           RETURN NULL;
         END $$;
         CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON users
           DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit();"
    } else {
        "DROP TRIGGER slow_commit ON users; DROP FUNCTION slow_commit();"
    };
    conn.execute(sql).await.unwrap();
}
