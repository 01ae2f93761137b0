//! The schema guard against real databases: each refusal is produced by altering a fresh
//! fixture database the way a real deployment could be off.

use masctl::db::guard::{
    check_schema, migration_lock_key, SchemaError, SchemaVersion, NEWEST_KNOWN_VERSION,
};
use sqlx::Executor;

use crate::common::TestDb;

#[tokio::test]
async fn accepts_the_fixture() {
    let db = TestDb::new().await;
    let version = check_schema(&mut db.connect().await, false)
        .await
        .expect("accepted");
    assert_eq!(
        version,
        SchemaVersion {
            latest: NEWEST_KNOWN_VERSION
        }
    );
    assert_eq!(
        serde_json::to_string(&version).expect("serialises"),
        r#"{"latest":20260720134722}"#
    );
}

#[tokio::test]
async fn refuses_an_empty_database() {
    let db = TestDb::empty().await;
    let error = check_schema(&mut db.connect().await, true)
        .await
        .expect_err("refused");
    assert!(matches!(error, SchemaError::NotMasDatabase), "{error:?}");
    assert_eq!(
        error.to_string(),
        "not a MAS database (no _sqlx_migrations table): is --database-url pointing at MAS's database?"
    );
}

#[tokio::test]
async fn refuses_a_dropped_migrations_table() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    conn.execute("DROP TABLE _sqlx_migrations")
        .await
        .expect("dropping");
    let error = check_schema(&mut conn, false).await.expect_err("refused");
    assert!(matches!(error, SchemaError::NotMasDatabase), "{error:?}");
}

#[tokio::test]
async fn refuses_a_failed_migration() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    conn.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (20260801000000, 'half done', false, '\\x00', -1)",
    )
    .await
    .expect("inserting");
    // Even with newer schemas allowed, a dirty one is refused.
    let error = check_schema(&mut conn, true).await.expect_err("refused");
    assert!(
        matches!(
            error,
            SchemaError::Dirty {
                version: 20_260_801_000_000
            }
        ),
        "{error:?}"
    );
    assert!(error
        .to_string()
        .contains("migration 20260801000000 is recorded as failed"));
}

#[tokio::test]
async fn refuses_missing_required_migrations() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    conn.execute("DELETE FROM _sqlx_migrations WHERE version >= 20250915092000")
        .await
        .expect("deleting");
    let error = check_schema(&mut conn, false).await.expect_err("refused");
    assert!(
        matches!(
            error,
            SchemaError::TooOld {
                missing: 20_250_915_092_000
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("run `mas-cli database migrate`"),
        "{error}"
    );
}

#[tokio::test]
async fn tolerates_missing_migrations_newer_than_the_oldest_shape() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    conn.execute("DELETE FROM _sqlx_migrations WHERE version > 20260108120030")
        .await
        .expect("deleting");
    let version = check_schema(&mut conn, false).await.expect("accepted");
    assert_eq!(version.latest, 20_260_108_120_030);
}

#[tokio::test]
async fn refuses_a_newer_schema_unless_allowed() {
    let db = TestDb::new().await;
    let mut conn = db.connect().await;
    conn.execute(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
         VALUES (20261001000000, 'from the future', true, '\\x00', 1)",
    )
    .await
    .expect("inserting");
    let error = check_schema(&mut conn, false).await.expect_err("refused");
    assert!(
        matches!(
            error,
            SchemaError::TooNew {
                latest: 20_261_001_000_000
            }
        ),
        "{error:?}"
    );
    let version = check_schema(&mut conn, true).await.expect("allowed");
    assert_eq!(version.latest, 20_261_001_000_000);
    assert!(version.is_newer_than_known());
}

#[tokio::test]
async fn refuses_while_a_migration_runs() {
    let db = TestDb::new().await;
    let mut migrator = db.connect().await;
    let key = migration_lock_key(db.name());
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(key)
        .execute(&mut migrator)
        .await
        .expect("locking");
    let mut conn = db.connect().await;
    let error = check_schema(&mut conn, false).await.expect_err("refused");
    assert!(
        matches!(error, SchemaError::MigrationRunning { key: k } if k == key),
        "{error:?}"
    );

    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(key)
        .execute(&mut migrator)
        .await
        .expect("unlocking");
    check_schema(&mut conn, false)
        .await
        .expect("accepted once the migration is over");
    // The probe must not keep the lock: the migrator can take it again right away.
    let retaken: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(key)
        .fetch_one(&mut migrator)
        .await
        .expect("probing");
    assert!(retaken);
}
