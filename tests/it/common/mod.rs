//! Shared test support: [`TestDb`], one fresh MAS database per test, and [`dump`], a stable text
//! form of a database's contents for snapshots and "nothing changed" comparisons.
//!
//! Databases are copies of a template that holds the fixture (`tests/fixtures/mas-v1.22.sql`).
//! The template is named after a hash of the fixture, so an edited fixture gets a new template
//! and stale ones are never reused. Tests run on parallel threads and possibly in parallel
//! processes (other checkouts share the server), hence the advisory lock around the build.

#![allow(dead_code, reason = "not every test module uses every helper")]
#![expect(clippy::print_stderr, reason = "tests report kept databases on stderr")]

pub(crate) mod homeserver;

use std::str::FromStr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use indexmap::IndexMap;
use masctl::db::fixture::{create_database, create_mas_database, drop_database, MAS_SCHEMA_SQL};
use sha2::{Digest, Sha256};
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection, Row};
use tokio::sync::OnceCell;

pub(crate) mod activity;
pub(crate) mod canonical;
mod copy;
pub(crate) mod generate;
pub(crate) mod process;
pub(crate) mod workload;

/// Environment variable naming the server (and a maintenance database on it) tests may use.
pub(crate) const SERVER_URL_VAR: &str = "MASCTL_TEST_DATABASE_URL";
/// The server used when [`SERVER_URL_VAR`] is unset: the local trust-auth PostgreSQL.
pub(crate) const DEFAULT_SERVER_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// Prefix of per-test databases; the rest is `<unix seconds>_<random hex>`.
const TEST_DB_PREFIX: &str = "masctl_t_";
/// Per-test databases older than this are leftovers of failed runs and get dropped.
const STALE_AFTER: Duration = Duration::from_secs(6 * 60 * 60);
/// Session-level advisory lock key serialising template builds across processes ("masctlTP").
const TEMPLATE_LOCK_KEY: i64 = 0x6d61_7363_746c_5450;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();

/// A fresh MAS database for one test, dropped when the test passes.
///
/// When the test panics the database is kept and its name printed, so it can be inspected
/// with `psql`; a later run drops it once it is a few hours old.
pub(crate) struct TestDb {
    server: PgConnectOptions,
    name: String,
}

impl TestDb {
    /// Creates a new database holding the fixture (and nothing else).
    pub(crate) async fn new() -> Self {
        let server = server_options();
        let template = TEMPLATE
            .get_or_try_init(|| build_template(&server))
            .await
            .expect("building the template database")
            .clone();
        let name = new_database_name();
        create_from_template(&server, &name, &template).await;
        Self { server, name }
    }

    /// Creates a new, completely empty database (no fixture), for "not a MAS database" cases.
    pub(crate) async fn empty() -> Self {
        let server = server_options();
        let name = new_database_name();
        create_database(&server, &name, None)
            .await
            .expect("creating an empty database");
        Self { server, name }
    }

    /// Returns the database name.
    pub(crate) fn name(&self) -> &str {
        &self.name
    }

    /// Returns connect options for this database.
    pub(crate) fn options(&self) -> PgConnectOptions {
        self.server.clone().database(&self.name)
    }

    /// Returns a URL for this database, to pass as `--database-url` to the binary.
    pub(crate) fn url(&self) -> String {
        self.options().to_url_lossy().to_string()
    }

    /// Opens a single connection.
    pub(crate) async fn connect(&self) -> PgConnection {
        PgConnection::connect_with(&self.options())
            .await
            .expect("connecting to the test database")
    }

    /// Opens a small pool.
    pub(crate) async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(4)
            .connect_with(self.options())
            .await
            .expect("connecting a pool to the test database")
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("test failed: keeping database {} for inspection", self.name);
            return;
        }
        // Drop runs inside the test's runtime, which cannot be blocked on; a short-lived thread
        // with its own runtime does the DROP and is joined so the database is gone afterwards.
        let server = self.server.clone();
        let name = self.name.clone();
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(drop_database(&server, &name))
                .map_err(std::io::Error::other)
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("could not drop test database {}: {dropped:?}", self.name);
        }
    }
}

/// Returns the server options from [`SERVER_URL_VAR`] or the default.
pub(crate) fn server_options() -> PgConnectOptions {
    let url = std::env::var(SERVER_URL_VAR).unwrap_or_else(|_| DEFAULT_SERVER_URL.to_owned());
    PgConnectOptions::from_str(&url).expect("MASCTL_TEST_DATABASE_URL is a valid URL")
}

/// Returns the template's name: it changes whenever the fixture does.
pub(crate) fn template_name() -> String {
    let digest = hex::encode(Sha256::digest(MAS_SCHEMA_SQL.as_bytes()));
    format!("masctl_tpl_{}", &digest[..12])
}

/// Builds the template database unless another thread or process already has.
async fn build_template(server: &PgConnectOptions) -> Result<String, sqlx::Error> {
    let template = template_name();
    let mut admin = PgConnection::connect_with(server).await?;
    sqlx::query("SELECT pg_advisory_lock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(&mut admin)
        .await?;
    let built = build_template_locked(server, &mut admin, &template).await;
    let cleaned = drop_stale_databases(server, &mut admin).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(TEMPLATE_LOCK_KEY)
        .execute(&mut admin)
        .await?;
    admin.close().await?;
    built?;
    cleaned?;
    Ok(template)
}

/// The part of [`build_template`] that runs while holding the lock.
async fn build_template_locked(
    server: &PgConnectOptions,
    admin: &mut PgConnection,
    template: &str,
) -> Result<(), sqlx::Error> {
    // Re-check inside the lock: another process may have finished the build while we waited.
    if database_exists(admin, template).await? {
        return Ok(());
    }
    // Build under a temporary name and rename at the end, so a crash mid-build never leaves a
    // half-filled database under the final name.
    let building = format!("{template}_building");
    drop_database(server, &building).await?;
    create_mas_database(server, &building).await?;
    let rename = format!("ALTER DATABASE \"{building}\" RENAME TO \"{template}\"");
    retry_while_in_use(|| run_on_server(server, &rename)).await
}

/// Runs one statement on its own connection to the maintenance database.
async fn run_on_server(server: &PgConnectOptions, sql: &str) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect_with(server).await?;
    let result = sqlx::raw_sql(sql).execute(&mut conn).await;
    conn.close().await?;
    result.map(|_| ())
}

/// Copies the template into a new database, retrying while a closing session still holds it.
async fn create_from_template(server: &PgConnectOptions, name: &str, template: &str) {
    retry_while_in_use(|| create_database(server, name, Some(template)))
        .await
        .expect("copying the template database");
}

/// Runs `operation` again while PostgreSQL reports `object_in_use` (55006): a session that was
/// just closed may still be attached to the database for a few milliseconds.
async fn retry_while_in_use<F, Fut>(mut operation: F) -> Result<(), sqlx::Error>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), sqlx::Error>>,
{
    let mut attempts = 0;
    loop {
        match operation().await {
            Err(sqlx::Error::Database(error))
                if error.code().as_deref() == Some("55006") && attempts < 100 =>
            {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => return other,
        }
    }
}

async fn database_exists(admin: &mut PgConnection, name: &str) -> Result<bool, sqlx::Error> {
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
        .bind(name)
        .fetch_one(admin)
        .await
}

/// Drops per-test databases left behind by failed runs once they are [`STALE_AFTER`] old.
///
/// Their age is read from the name, because PostgreSQL records no creation time.
async fn drop_stale_databases(
    server: &PgConnectOptions,
    admin: &mut PgConnection,
) -> Result<(), sqlx::Error> {
    let names: Vec<String> =
        sqlx::query_scalar("SELECT datname FROM pg_database WHERE datname LIKE 'masctl\\_t\\_%'")
            .fetch_all(admin)
            .await?;
    let now = unix_seconds();
    for name in names {
        let created = name
            .strip_prefix(TEST_DB_PREFIX)
            .and_then(|rest| rest.split('_').next())
            .and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|created| now.saturating_sub(created) > STALE_AFTER.as_secs()) {
            drop_database(server, &name).await?;
        }
    }
    Ok(())
}

fn new_database_name() -> String {
    format!(
        "{TEST_DB_PREFIX}{}_{:016x}",
        unix_seconds(),
        rand::random::<u64>()
    )
}

fn unix_seconds() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs())
}

/// Returns every non-empty table of the database as YAML: tables by name, columns in table
/// order, every value cast to text (`~` for NULL), rows sorted.
///
/// `_sqlx_migrations` is left out: it is the schema's bookkeeping, not data masctl touches.
/// Timestamps print in UTC because sqlx sets the session time zone to UTC.
pub(crate) async fn dump(conn: &mut PgConnection) -> String {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables \
         WHERE table_schema = 'public' AND table_type = 'BASE TABLE' \
           AND table_name <> '_sqlx_migrations' ORDER BY table_name",
    )
    .fetch_all(&mut *conn)
    .await
    .expect("listing tables");
    let mut out: IndexMap<String, Vec<IndexMap<String, Option<String>>>> = IndexMap::new();
    for table in tables {
        let columns: Vec<String> = sqlx::query_scalar(
            "SELECT column_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(&table)
        .fetch_all(&mut *conn)
        .await
        .expect("listing columns");
        let casts: Vec<String> = columns.iter().map(|c| format!("\"{c}\"::text")).collect();
        let sql = format!(
            "SELECT ARRAY[{}]::text[] AS r FROM \"{table}\"",
            casts.join(", ")
        );
        let mut rows: Vec<Vec<Option<String>>> = sqlx::query(&sql)
            .fetch_all(&mut *conn)
            .await
            .expect("reading a table")
            .iter()
            .map(|row| row.get("r"))
            .collect();
        if rows.is_empty() {
            continue;
        }
        rows.sort();
        let rows = rows
            .into_iter()
            .map(|values| columns.iter().cloned().zip(values).collect());
        out.insert(table, rows.collect());
    }
    serde_yaml::to_string(&out).expect("serialising the dump")
}
