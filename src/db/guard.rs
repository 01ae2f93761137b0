//! The schema guard: before masctl reads or writes anything, it checks that the database is a
//! MAS database whose schema has the shape masctl was written for (mas-facts §1).
//!
//! MAS's own `manage` commands never check the schema; masctl does, because it writes rows
//! directly and a wrong shape would fail halfway or, worse, write rows a newer MAS
//! misinterprets. The guard compares *sets of migration versions* in `_sqlx_migrations`, never
//! checksums: MAS itself tolerates several edited migrations whose checksums differ between
//! releases. This module only reads: it looks for MAS's migration lock without taking it.

use serde::Serialize;
use sqlx::postgres::PgConnection;

/// The MAS release masctl targets.
pub const MAS_RELEASE: &str = "v1.22.0";

/// The newest MAS migration masctl knows (v1.22.0's last one). A database with a higher
/// version was migrated by a newer MAS and is refused unless explicitly allowed.
pub const NEWEST_KNOWN_VERSION: i64 = 20_260_720_134_722;

/// The oldest schema shape masctl understands: this migration (first shipped in MAS v1.10.0)
/// dropped `user_emails.confirmed_at` and `users.primary_user_email_id`.
pub const OLDEST_SUPPORTED_VERSION: i64 = 20_260_108_120_030;

/// The MAS migration versions named in the facts sheet, ascending. MAS ships 167; these are the
/// ones whose effect masctl depends on or that mark a release boundary.
pub const KNOWN_VERSIONS: &[i64] = &[
    20_220_530_084_123, // the very first migration
    20_250_115_155_255, // unverified emails cleaned up
    20_250_410_000_000,
    20_250_410_000_001,
    20_250_410_000_002,
    20_250_410_000_003,
    20_250_410_000_004,
    20_250_410_000_005,
    20_250_410_000_006,
    20_250_410_000_007,
    20_250_410_000_008,
    20_250_410_000_009,
    20_250_410_000_010,
    20_250_410_000_011,
    20_250_410_000_012,
    20_250_410_000_013,
    20_250_410_000_014,
    20_250_410_000_015,
    20_250_410_000_016,
    20_250_410_000_017,
    20_250_410_000_018,
    20_250_410_000_019,
    20_250_410_000_020,
    20_250_410_000_021,
    20_250_410_000_022,
    20_250_410_000_023,
    20_250_410_000_024,
    20_250_410_000_025,
    20_250_410_000_026,
    20_250_410_000_027,
    20_250_410_000_028,
    20_250_410_000_029,
    20_250_410_000_030,
    20_250_410_000_031,
    20_250_410_000_032,
    20_250_410_000_033,
    20_250_410_000_034,
    20_250_410_000_035,
    20_250_410_000_036,
    20_250_410_000_037,
    20_250_410_000_038,
    20_250_410_000_039,
    20_250_410_000_040,
    20_250_410_000_041,
    20_250_410_000_042,
    20_250_410_000_043,
    20_250_410_000_044,
    20_250_410_000_045,
    20_250_410_121_612, // users_lower_username_idx
    20_250_602_212_101, // registration token index
    20_250_708_155_857, // user_emails_lower_email_idx
    20_250_915_092_000, // pg_trgm extension
    20_250_915_092_635, // users_username_trgm_idx
    20_251_127_145_951,
    OLDEST_SUPPORTED_VERSION,
    20_260_623_100_001, // last migration of v1.20 / v1.21
    NEWEST_KNOWN_VERSION,
];

/// The schema version a database was found at. It goes into plan fingerprints, so a plan made
/// against one schema is never applied to another.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SchemaVersion {
    /// The highest migration version applied (`max(version)` of `_sqlx_migrations`).
    pub latest: i64,
}

impl SchemaVersion {
    /// Returns whether the schema is newer than [`NEWEST_KNOWN_VERSION`] (only possible when
    /// the caller allowed it), so the CLI can warn.
    #[must_use]
    pub fn is_newer_than_known(self) -> bool {
        self.latest > NEWEST_KNOWN_VERSION
    }
}

/// Why the guard refused a database.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[diagnostic(code(masctl::schema))]
pub enum SchemaError {
    /// `_sqlx_migrations` does not exist: this is not MAS's database, or it was never migrated.
    #[error(
        "not a MAS database (no _sqlx_migrations table): is --database-url pointing at MAS's database?"
    )]
    NotMasDatabase,
    /// A migration is recorded as failed (`success = false`).
    #[error(
        "the MAS schema is dirty: migration {version} is recorded as failed in _sqlx_migrations; \
         repair the database with MAS's tooling before using masctl"
    )]
    Dirty {
        /// The lowest failed version.
        version: i64,
    },
    /// A migration masctl depends on has not been applied.
    #[error(
        "schema too old: MAS migration {missing} has not been applied; run `mas-cli database \
         migrate` (masctl needs at least the MAS v1.10.0 schema and targets MAS {MAS_RELEASE})"
    )]
    TooOld {
        /// The first required version missing from the table.
        missing: i64,
    },
    /// The database was migrated by a MAS newer than masctl knows.
    #[error(
        "schema is newer than supported (MAS > {MAS_RELEASE}): the latest applied migration is \
         {latest}, masctl knows migrations up to {NEWEST_KNOWN_VERSION}"
    )]
    #[diagnostic(help(
        "pass --allow-newer-schema to proceed anyway, after checking masctl's changelog"
    ))]
    TooNew {
        /// The highest applied version.
        latest: i64,
    },
    /// MAS's migration advisory lock is held: a migration is running right now.
    #[error(
        "a MAS schema migration is running right now (its advisory lock {key} is held); \
         try again when it has finished"
    )]
    MigrationRunning {
        /// The advisory lock key that was found held.
        key: i64,
    },
    /// `_sqlx_migrations` describes a complete schema, but tables masctl reads or writes are
    /// gone (dropped by hand, or a partial restore).
    #[error(
        "the MAS schema is incomplete: table{} {} missing although _sqlx_migrations lists every \
         migration; restore the database or re-run MAS's migrations before using masctl",
        if tables.len() == 1 { "" } else { "s" },
        tables.join(", ")
    )]
    MissingTables {
        /// The missing tables, in [`TABLES`] order.
        tables: Vec<String>,
    },
    /// A query failed.
    #[error("could not read the MAS schema version: {0}")]
    Query(#[from] sqlx::Error),
}

/// Checks that the database `conn` is connected to is a MAS database masctl can work on.
///
/// Refuses, in this order: a migration running right now, no `_sqlx_migrations` table, a failed
/// migration, a required migration missing (the known versions up to
/// [`OLDEST_SUPPORTED_VERSION`]), a version above [`NEWEST_KNOWN_VERSION`] unless
/// `allow_newer` is set, and one of the [`TABLES`] missing. Versions MAS no longer ships or
/// masctl does not know are tolerated, as MAS tolerates them.
///
/// # Errors
/// Returns the first [`SchemaError`] that applies.
pub async fn check_schema(
    conn: &mut PgConnection,
    allow_newer: bool,
) -> Result<SchemaVersion, SchemaError> {
    ensure_no_migration_running(conn).await?;
    let exists: bool = sqlx::query_scalar("SELECT to_regclass('_sqlx_migrations') IS NOT NULL")
        .fetch_one(&mut *conn)
        .await?;
    if !exists {
        return Err(SchemaError::NotMasDatabase);
    }
    let rows: Vec<(i64, bool)> =
        sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&mut *conn)
            .await?;
    let version = evaluate(&rows, allow_newer)?;
    let missing: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM UNNEST($1::text[]) WITH ORDINALITY AS t(name, n) \
         WHERE to_regclass(name) IS NULL ORDER BY n",
    )
    .bind(TABLES)
    .fetch_all(&mut *conn)
    .await?;
    if !missing.is_empty() {
        return Err(SchemaError::MissingTables { tables: missing });
    }
    Ok(version)
}

/// The tables masctl reads or writes. Their absence would otherwise surface halfway through a
/// snapshot or, worse, an apply.
pub const TABLES: &[&str] = &[
    "users",
    "user_emails",
    "user_passwords",
    "upstream_oauth_providers",
    "upstream_oauth_links",
    "upstream_oauth_authorization_sessions",
    "user_registration_tokens",
    "queue_jobs",
];

/// Decides from the `(version, success)` rows, sorted by version. Pure, for unit tests.
fn evaluate(rows: &[(i64, bool)], allow_newer: bool) -> Result<SchemaVersion, SchemaError> {
    if let Some(&(version, _)) = rows.iter().find(|(_, success)| !success) {
        return Err(SchemaError::Dirty { version });
    }
    let applied = |version: i64| rows.binary_search_by_key(&version, |&(v, _)| v).is_ok();
    let required = KNOWN_VERSIONS
        .iter()
        .copied()
        .filter(|&v| v <= OLDEST_SUPPORTED_VERSION);
    if let Some(missing) = required.into_iter().find(|&v| !applied(v)) {
        return Err(SchemaError::TooOld { missing });
    }
    // Non-empty: the required versions are all present.
    let latest = rows
        .iter()
        .map(|&(v, _)| v)
        .max()
        .unwrap_or(OLDEST_SUPPORTED_VERSION);
    if latest > NEWEST_KNOWN_VERSION && !allow_newer {
        return Err(SchemaError::TooNew { latest });
    }
    Ok(SchemaVersion { latest })
}

/// Refuses while MAS's migrator holds its advisory lock.
///
/// The lock is looked up in `pg_locks`, never taken: a probe that took it, even for an
/// instant, would make masctl runs starting together mistake each other for a migration.
async fn ensure_no_migration_running(conn: &mut PgConnection) -> Result<(), SchemaError> {
    let database: String = sqlx::query_scalar("SELECT current_database()::text")
        .fetch_one(&mut *conn)
        .await?;
    let key = migration_lock_key(&database);
    // A bigint advisory key shows in pg_locks split in two: high 32 bits in classid, low in
    // objid, with objsubid = 1.
    let held: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks
           WHERE locktype = 'advisory' AND granted AND objsubid = 1
             AND classid::bigint = $1 AND objid::bigint = $2
             AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))",
    )
    .bind(key >> 32)
    .bind(key & 0xFFFF_FFFF)
    .fetch_one(&mut *conn)
    .await?;
    if held {
        return Err(SchemaError::MigrationRunning { key });
    }
    Ok(())
}

/// Returns the advisory lock key MAS's migrator (sqlx 0.8) takes while migrating `database`:
/// `0x3d32ad9e * crc32_iso_hdlc(database name)`.
///
/// sqlx multiplies as `i64` after widening the `u32` checksum. The constant is below 2^30 and
/// the checksum below 2^32, so the product stays below 2^62: it can never overflow, there is no
/// wrapping to reproduce, and plain multiplication gives exactly MAS's key.
#[must_use]
pub fn migration_lock_key(database: &str) -> i64 {
    const FACTOR: i64 = 0x3d32_ad9e;
    FACTOR * i64::from(crc32fast::hash(database.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_known() -> Vec<(i64, bool)> {
        KNOWN_VERSIONS.iter().map(|&v| (v, true)).collect()
    }

    #[test]
    fn known_versions_are_sorted_and_bounded() {
        assert!(KNOWN_VERSIONS.windows(2).all(|pair| pair[0] < pair[1]));
        assert_eq!(KNOWN_VERSIONS.last(), Some(&NEWEST_KNOWN_VERSION));
        assert!(KNOWN_VERSIONS.contains(&OLDEST_SUPPORTED_VERSION));
    }

    #[test]
    fn accepts_exactly_the_known_versions() {
        let version = evaluate(&all_known(), false).expect("accepted");
        assert_eq!(
            version,
            SchemaVersion {
                latest: NEWEST_KNOWN_VERSION
            }
        );
        assert!(!version.is_newer_than_known());
    }

    #[test]
    fn accepts_an_older_shape_and_unknown_versions() {
        let mut rows: Vec<_> = all_known()
            .into_iter()
            .filter(|&(v, _)| v <= OLDEST_SUPPORTED_VERSION)
            .collect();
        rows.insert(1, (20_230_330_210_841, true));
        rows.sort_unstable();
        let version = evaluate(&rows, false).expect("accepted");
        assert_eq!(version.latest, OLDEST_SUPPORTED_VERSION);
    }

    #[test]
    fn refusals_name_the_version() {
        let mut rows = all_known();
        rows[3].1 = false;
        let dirty = evaluate(&rows, true).expect_err("dirty");
        assert!(
            matches!(
                dirty,
                SchemaError::Dirty {
                    version: 20_250_410_000_001
                }
            ),
            "{dirty}"
        );
        assert!(matches!(
            evaluate(&[], true),
            Err(SchemaError::TooOld {
                missing: 20_220_530_084_123
            })
        ));
        let mut newer = all_known();
        newer.push((20_270_101_000_000, true));
        let error = evaluate(&newer, false).expect_err("newer");
        assert_eq!(
            error.to_string(),
            "schema is newer than supported (MAS > v1.22.0): the latest applied migration is \
             20270101000000, masctl knows migrations up to 20260720134722"
        );
        assert!(evaluate(&newer, true)
            .expect("allowed")
            .is_newer_than_known());
    }

    #[test]
    fn lock_key_matches_sqlx() {
        // crc32("postgres") = 0x156a8775, computed independently with zlib.
        assert_eq!(crc32fast::hash(b"postgres"), 0x156a_8775);
        assert_eq!(migration_lock_key("postgres"), 368_907_709_894_077_238);
        // The largest possible checksum still fits: no overflow to emulate.
        assert!(0x3d32_ad9e_i64.checked_mul(i64::from(u32::MAX)).is_some());
    }
}
