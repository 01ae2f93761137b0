//! Opening the one connection masctl uses, and showing where it goes without its password.
//!
//! Every message that names a database location goes through [`redacted_url`] or
//! [`redact_url`]: a `--database-url` is often pasted from a secret store, and CI logs keep
//! what masctl prints. This module opens connections; it runs no queries.

use std::str::FromStr;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::Connection;

use crate::config::ConfigError;

/// How long [`connect`] waits for the server (MAS's default `connect_timeout`).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// What replaces a password in printed URLs.
const REDACTED: &str = "<redacted>";

/// Why no connection could be opened. Messages name host, port, user and database, never the
/// password.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server refused or could not be reached.
    #[error("could not connect to PostgreSQL at {target}: {message}")]
    Connect {
        /// Where masctl tried to connect ([`redacted_url`]).
        target: String,
        /// The driver's message.
        message: String,
        /// The SQLSTATE, when the server answered with an error (e.g. `28P01`, bad password).
        code: Option<String>,
    },
    /// The server did not answer in time.
    #[error("timed out after {} s connecting to PostgreSQL at {target}", timeout.as_secs())]
    Timeout {
        /// Where masctl tried to connect ([`redacted_url`]).
        target: String,
        /// The time waited.
        timeout: Duration,
    },
}

/// Opens a connection with [`DEFAULT_CONNECT_TIMEOUT`]; see [`connect_with_timeout`].
///
/// # Errors
/// See [`connect_with_timeout`].
pub async fn connect(
    options: &PgConnectOptions,
    application_name: &str,
) -> Result<PgConnection, DbError> {
    connect_with_timeout(options, application_name, DEFAULT_CONNECT_TIMEOUT).await
}

/// Opens a connection to the database `options` describe, reporting itself to PostgreSQL as
/// `application_name` (visible in `pg_stat_activity`, and in "who holds the lock" messages).
///
/// # Errors
/// Returns [`DbError::Timeout`] after `timeout`, [`DbError::Connect`] for any other failure.
pub async fn connect_with_timeout(
    options: &PgConnectOptions,
    application_name: &str,
    timeout: Duration,
) -> Result<PgConnection, DbError> {
    let options = options.clone().application_name(application_name);
    let target = redacted_url(&options);
    match tokio::time::timeout(timeout, PgConnection::connect_with(&options)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(DbError::Connect {
            code: error
                .as_database_error()
                .and_then(|e| e.code())
                .map(|code| code.into_owned()),
            message: error.to_string(),
            target,
        }),
        Err(_elapsed) => Err(DbError::Timeout { target, timeout }),
    }
}

/// Returns where `options` connect to as a password-free URL:
/// `postgresql://user@host:port/database`, or `postgresql://user@:port/database?host=/dir`
/// for a UNIX socket.
#[must_use]
pub fn redacted_url(options: &PgConnectOptions) -> String {
    let user = options.get_username();
    let port = options.get_port();
    let database = options.get_database().unwrap_or_default();
    let host = options.get_host();
    // sqlx connects through a socket when one is set or when the host is a directory path.
    let socket = options
        .get_socket()
        .map(|path| path.display().to_string())
        .or_else(|| host.starts_with('/').then(|| host.to_owned()));
    match socket {
        Some(dir) => format!("postgresql://{user}@:{port}/{database}?host={dir}"),
        // A bare IPv6 address needs brackets (URLs parsed by sqlx keep theirs).
        None if host.contains(':') && !host.starts_with('[') => {
            format!("postgresql://{user}@[{host}]:{port}/{database}")
        }
        None => format!("postgresql://{user}@{host}:{port}/{database}"),
    }
}

/// Returns `url` with the password of its user info and any `password=` query parameter
/// replaced by `<redacted>`. A string that does not look like a URL is not shown at all.
#[must_use]
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        return REDACTED.to_owned();
    };
    let authority_start = scheme_end + 3;
    let rest = &url[authority_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_len);
    let mut out = url[..authority_start].to_owned();
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(REDACTED);
                }
                None => out.push_str(userinfo),
            }
            out.push('@');
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    out.push_str(&redact_query(tail));
    out
}

/// Redacts `password=` parameters in the path-and-query part of a URL.
fn redact_query(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((query, fragment)) => (query, Some(fragment)),
        None => (query, None),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|param| match param.split_once('=') {
            Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}={REDACTED}"),
            _ => param.to_owned(),
        })
        .collect();
    let mut out = format!("{path}?{}", params.join("&"));
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// Returns the connect options for a `--database-url` (or `DATABASE_URL`), which replaces the
/// config's `database` section.
///
/// # Errors
/// Returns [`ConfigError::DatabaseUrl`] with the URL redacted.
pub fn options_from_url(url: &str) -> Result<PgConnectOptions, ConfigError> {
    parse_url(url).map_err(|message| ConfigError::DatabaseUrl {
        url: redact_url(url),
        message,
    })
}

/// Parses a PostgreSQL URL; the error message never contains the URL's password.
///
/// sqlx would accept any scheme (`mysql://…` included) and read it as PostgreSQL, so the
/// scheme is checked first.
pub(crate) fn parse_url(url: &str) -> Result<PgConnectOptions, String> {
    let scheme = url
        .split_once("://")
        .map(|(scheme, _)| scheme.to_ascii_lowercase());
    if !matches!(scheme.as_deref(), Some("postgres" | "postgresql")) {
        return Err("expected a postgres:// or postgresql:// URL".to_owned());
    }
    PgConnectOptions::from_str(url).map_err(|error| scrub(&error.to_string(), url))
}

/// Removes any password of `url` (raw or percent-decoded) from `message`. sqlx's messages do
/// not quote passwords today; this keeps it that way whatever a future version prints.
fn scrub(message: &str, url: &str) -> String {
    let mut message = message.to_owned();
    for secret in url_passwords(url) {
        if !secret.is_empty() {
            message = message.replace(&secret, REDACTED);
        }
    }
    message
}

/// Returns the passwords a URL string carries, raw and decoded, without requiring it to parse.
fn url_passwords(url: &str) -> Vec<String> {
    let mut found = Vec::new();
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if let Some((userinfo, _)) = authority.rsplit_once('@') {
        if let Some((_, password)) = userinfo.split_once(':') {
            found.push(password.to_owned());
        }
    }
    if let Some((_, query)) = rest.split_once('?') {
        for param in query.split(['&', '#']) {
            if let Some((key, value)) = param.split_once('=') {
                if key.eq_ignore_ascii_case("password") {
                    found.push(value.to_owned());
                }
            }
        }
    }
    let decoded: Vec<String> = found
        .iter()
        .filter_map(|raw| {
            let pair = format!("p={raw}");
            url::form_urlencoded::parse(pair.as_bytes())
                .next()
                .map(|(_, value)| value.into_owned())
        })
        .collect();
    found.extend(decoded);
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_user_info_and_query_passwords() {
        assert_eq!(
            redact_url(
                "postgresql://mas:s3cr%40t@db.example:5432/mas?sslmode=require&password=x#f"
            ),
            "postgresql://mas:<redacted>@db.example:5432/mas?sslmode=require&password=<redacted>#f"
        );
        assert_eq!(redact_url("postgres://mas@db/mas"), "postgres://mas@db/mas");
        assert_eq!(redact_url("postgres://db"), "postgres://db");
        assert_eq!(redact_url("hunter2"), "<redacted>");
    }

    #[test]
    fn url_errors_never_show_the_password() {
        let error =
            options_from_url("postgresql://mas:hunter2@db:notaport/mas").expect_err("bad port");
        let text = error.to_string();
        assert!(!text.contains("hunter2"), "{text}");
        assert!(
            text.starts_with("invalid database URL postgresql://mas:<redacted>@db:notaport/mas: "),
            "{text}"
        );
        let error = options_from_url("mysql://mas:hunter2@db/mas").expect_err("wrong scheme");
        assert_eq!(
            error.to_string(),
            "invalid database URL mysql://mas:<redacted>@db/mas: expected a postgres:// or postgresql:// URL"
        );
        assert_eq!(
            scrub("bad hunter 2 and hunter2", "postgres://u:hunter%202@h"),
            "bad <redacted> and hunter2"
        );
    }

    #[test]
    fn redacted_url_names_the_target() {
        let options = options_from_url("postgres://mas:pw@db.example:6432/masdb").expect("valid");
        assert_eq!(
            redacted_url(&options),
            "postgresql://mas@db.example:6432/masdb"
        );
        let options =
            options_from_url("postgres://mas@%2Fvar%2Frun%2Fpostgresql/masdb").expect("valid");
        assert_eq!(
            redacted_url(&options),
            "postgresql://mas@:5432/masdb?host=/var/run/postgresql"
        );
        let options = options_from_url("postgres://mas@[::1]:5433/masdb").expect("valid");
        assert_eq!(redacted_url(&options), "postgresql://mas@[::1]:5433/masdb");
        let options = PgConnectOptions::new()
            .host("::1")
            .port(5433)
            .username("mas")
            .database("masdb");
        assert_eq!(redacted_url(&options), "postgresql://mas@[::1]:5433/masdb");
    }
}
