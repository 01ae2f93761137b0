//! The MAS schema fixture and the helpers that create and drop whole databases with it.
//!
//! The fixture (`tests/fixtures/mas-v1.22.sql`) is a hand-written, faithful subset of MAS
//! v1.22's schema. It lives in the library, not only in the tests, because `masctl demo` and the
//! benchmarks build throw-away MAS databases too. This module never touches an existing
//! database's contents: it only creates, fills (from scratch) and drops databases by name.

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;

/// The SQL script that builds an empty MAS v1.22 database (tables, indexes, the queue trigger
/// and a filled `_sqlx_migrations`). Run it with [`sqlx::raw_sql`] into an empty database.
pub const MAS_SCHEMA_SQL: &str = include_str!("../../tests/fixtures/mas-v1.22.sql");

/// Longest identifier PostgreSQL keeps (NAMEDATALEN - 1); longer names are silently truncated,
/// which would make "create then drop by name" miss its target.
const MAX_NAME_LEN: usize = 63;

/// Creates the database `name` on the server `server` points at and loads [`MAS_SCHEMA_SQL`].
///
/// `server` must name a database the role can connect to (usually `postgres`); the role needs
/// CREATEDB. If loading the schema fails the half-built database is dropped again.
///
/// # Errors
/// Returns [`sqlx::Error::Configuration`] for a name that is not a plain lower-case identifier,
/// and the server's error if the database exists already or the script fails.
pub async fn create_mas_database(server: &PgConnectOptions, name: &str) -> Result<(), sqlx::Error> {
    create_database(server, name, None).await?;
    let loaded = load_schema(&server.clone().database(name)).await;
    if let Err(error) = loaded {
        // Best effort: the load error is the one worth reporting.
        let _ = drop_database(server, name).await;
        return Err(error);
    }
    Ok(())
}

/// Creates the empty database `name`, as a copy of `template` when one is given.
///
/// Copying a template database that already holds the fixture is how tests get a fresh MAS
/// database in milliseconds. Nobody may be connected to the template while it is copied.
///
/// # Errors
/// Returns [`sqlx::Error::Configuration`] for an invalid name and the server's error otherwise.
pub async fn create_database(
    server: &PgConnectOptions,
    name: &str,
    template: Option<&str>,
) -> Result<(), sqlx::Error> {
    let mut sql = format!("CREATE DATABASE {}", quote_database_name(name)?);
    if let Some(template) = template {
        sql.push_str(" TEMPLATE ");
        sql.push_str(&quote_database_name(template)?);
    }
    let mut conn = PgConnection::connect_with(server).await?;
    // CREATE DATABASE cannot take bind parameters: the name is validated and quoted instead.
    let created = sqlx::raw_sql(&sql).execute(&mut conn).await;
    conn.close().await?;
    created.map(|_| ())
}

/// Drops the database `name` if it exists, disconnecting its sessions first (`WITH (FORCE)`).
///
/// # Errors
/// Returns [`sqlx::Error::Configuration`] for an invalid name and the server's error otherwise.
pub async fn drop_database(server: &PgConnectOptions, name: &str) -> Result<(), sqlx::Error> {
    let sql = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        quote_database_name(name)?
    );
    let mut conn = PgConnection::connect_with(server).await?;
    let dropped = sqlx::raw_sql(&sql).execute(&mut conn).await;
    conn.close().await?;
    dropped.map(|_| ())
}

/// Runs the fixture script in the database `options` points at.
async fn load_schema(options: &PgConnectOptions) -> Result<(), sqlx::Error> {
    let mut conn = PgConnection::connect_with(options).await?;
    let loaded = sqlx::raw_sql(MAS_SCHEMA_SQL).execute(&mut conn).await;
    conn.close().await?;
    loaded.map(|_| ())
}

/// Returns `name` double-quoted for SQL if it is a plain identifier: ASCII lower-case letters,
/// digits and `_`, not starting with a digit, 1 to 63 bytes.
///
/// Anything else is refused rather than escaped: these names come from code and tests, and a
/// surprising name is a bug worth reporting, not something to make work.
///
/// # Errors
/// Returns [`sqlx::Error::Configuration`] naming the rule the name breaks.
pub fn quote_database_name(name: &str) -> Result<String, sqlx::Error> {
    let valid_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    let starts_well = name.bytes().next().is_some_and(|b| !b.is_ascii_digit());
    if !valid_chars || !starts_well || name.len() > MAX_NAME_LEN {
        return Err(sqlx::Error::Configuration(
            format!(
                "invalid database name `{name}`: use 1 to {MAX_NAME_LEN} lower-case ASCII letters, \
                 digits or `_`, not starting with a digit"
            )
            .into(),
        ));
    }
    Ok(format!("\"{name}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_plain_names_only() {
        assert_eq!(
            quote_database_name("masctl_t_1").expect("valid"),
            "\"masctl_t_1\""
        );
        for bad in [
            "",
            "1abc",
            "Abc",
            "a-b",
            "a\"b",
            "a;drop",
            "é",
            &"a".repeat(64),
        ] {
            let error = quote_database_name(bad).expect_err(bad);
            assert!(
                error.to_string().contains("invalid database name"),
                "{error}"
            );
        }
        assert!(quote_database_name(&"a".repeat(63)).is_ok());
    }

    #[test]
    fn fixture_names_its_release() {
        assert!(MAS_SCHEMA_SQL.contains("v1.22.0"));
        assert!(MAS_SCHEMA_SQL.contains("20260720134722"));
    }
}
