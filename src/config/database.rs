//! The `database` section: how mas-cli (and so masctl) reaches MAS's PostgreSQL database.
//!
//! Either a `uri` or split options (`host`, `port`, `socket`, `username`, `password` or
//! `password_file`, `database`), never both; TLS options apply on top of either. When the whole
//! section is absent MAS connects to `postgresql://`, that is libpq's environment variables and
//! defaults. Secrets (the URI may hold a password) are kept as [`Secret`]s and never printed.

use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgSslMode};

use super::tree::Cursor;
use super::{exclusive, opt_string, read_key_file, read_trimmed_key_file, ConfigError};
use crate::db::connect::parse_url;
use crate::model::{Secret, SecretBytes};

/// The split options that cannot be combined with `uri`.
const SPLIT_KEYS: [&str; 7] = [
    "host",
    "port",
    "socket",
    "username",
    "password",
    "password_file",
    "database",
];

/// The `database` section.
#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    /// Where to connect.
    pub connection: DatabaseConnection,
    /// TLS settings, applied on top of the connection.
    pub ssl: SslConfig,
    /// How long to wait for a connection (`connect_timeout`, seconds; default 30).
    pub connect_timeout: Duration,
    /// Pool size of the MAS server (`max_connections`, default 10). masctl uses one connection
    /// but validates the key as MAS does.
    pub max_connections: NonZeroU32,
    /// Minimum pool size of the MAS server (`min_connections`, default 0).
    pub min_connections: u32,
    /// Idle timeout of the MAS server's pool (`idle_timeout`, seconds; default 600).
    pub idle_timeout: Duration,
    /// Connection lifetime in the MAS server's pool (`max_lifetime`, seconds; default 1800).
    pub max_lifetime: Duration,
    /// Where `uri` was set, to name it if building the options fails.
    uri_origin: String,
}

/// Where the database is, as the section says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseConnection {
    /// The section is absent: `postgresql://`, i.e. the `PG*` variables and libpq defaults.
    Default,
    /// A `postgres://` or `postgresql://` URI; it may hold a password, hence a secret.
    Uri(Secret),
    /// Split options; unset ones fall back to the `PG*` variables and libpq defaults.
    Split(SplitOptions),
}

/// The split connection options of the `database` section.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SplitOptions {
    /// Host name or IP address.
    pub host: Option<String>,
    /// TCP port.
    pub port: Option<u16>,
    /// Directory holding the server's UNIX socket.
    pub socket: Option<PathBuf>,
    /// Role name.
    pub username: Option<String>,
    /// Password, from `password` or from `password_file` (trimmed).
    pub password: Option<Secret>,
    /// Database name.
    pub database: Option<String>,
}

/// TLS options of the `database` section. Files are read when the config is loaded, so that a
/// missing file is reported against its key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SslConfig {
    /// `ssl_mode`; `None` keeps `PGSSLMODE` or sqlx's default (`prefer`).
    pub mode: Option<SslMode>,
    /// CA certificates (PEM), from `ssl_ca` or `ssl_ca_file`.
    pub ca_pem: Option<Vec<u8>>,
    /// Client certificate (PEM), from `ssl_certificate` or `ssl_certificate_file`.
    pub client_certificate_pem: Option<Vec<u8>>,
    /// Client private key (PEM), from `ssl_key` or `ssl_key_file`.
    pub client_key_pem: Option<SecretBytes>,
}

/// The `ssl_mode` values, libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    /// `disable`: never TLS.
    Disable,
    /// `allow`: plain first, TLS if the server insists.
    Allow,
    /// `prefer`: TLS first, plain if the server has none.
    Prefer,
    /// `require`: TLS, without verifying the certificate.
    Require,
    /// `verify-ca`: TLS with a certificate signed by a trusted CA.
    VerifyCa,
    /// `verify-full`: as `verify-ca`, and the host name must match.
    VerifyFull,
}

impl SslMode {
    fn to_sqlx(self) -> PgSslMode {
        match self {
            Self::Disable => PgSslMode::Disable,
            Self::Allow => PgSslMode::Allow,
            Self::Prefer => PgSslMode::Prefer,
            Self::Require => PgSslMode::Require,
            Self::VerifyCa => PgSslMode::VerifyCa,
            Self::VerifyFull => PgSslMode::VerifyFull,
        }
    }
}

impl Default for DatabaseConfig {
    /// Returns the configuration of an absent section.
    fn default() -> Self {
        Self {
            connection: DatabaseConnection::Default,
            ssl: SslConfig::default(),
            connect_timeout: Duration::from_secs(30),
            max_connections: NonZeroU32::MIN.saturating_add(9),
            min_connections: 0,
            idle_timeout: Duration::from_secs(600),
            max_lifetime: Duration::from_secs(1800),
            uri_origin: String::new(),
        }
    }
}

impl DatabaseConfig {
    /// Returns the sqlx connect options this section describes, as mas-cli builds them.
    ///
    /// `PgConnectOptions::new()` reads `PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`,
    /// `PGDATABASE`, `PGSSLMODE`, … and `~/.pgpass` from the process, as libpq would.
    ///
    /// # Errors
    /// Fails only when the URI cannot be parsed (it is checked at load time already).
    pub fn connect_options(&self) -> Result<PgConnectOptions, ConfigError> {
        let options = match &self.connection {
            DatabaseConnection::Default => PgConnectOptions::new(),
            DatabaseConnection::Uri(uri) => {
                parse_url(uri.expose()).map_err(|message| ConfigError::Invalid {
                    origin: self.uri_origin.clone(),
                    key: "database.uri".to_owned(),
                    message,
                })?
            }
            DatabaseConnection::Split(split) => split.apply(PgConnectOptions::new()),
        };
        Ok(self.ssl.apply(options))
    }
}

impl SplitOptions {
    fn apply(&self, mut options: PgConnectOptions) -> PgConnectOptions {
        if let Some(host) = &self.host {
            options = options.host(host);
        }
        if let Some(port) = self.port {
            options = options.port(port);
        }
        if let Some(socket) = &self.socket {
            options = options.socket(socket);
        }
        if let Some(username) = &self.username {
            options = options.username(username);
        }
        if let Some(password) = &self.password {
            options = options.password(password.expose());
        }
        if let Some(database) = &self.database {
            options = options.database(database);
        }
        options
    }
}

impl SslConfig {
    fn apply(&self, mut options: PgConnectOptions) -> PgConnectOptions {
        if let Some(mode) = self.mode {
            options = options.ssl_mode(mode.to_sqlx());
        }
        if let Some(ca) = &self.ca_pem {
            options = options.ssl_root_cert_from_pem(ca.clone());
        }
        if let Some(certificate) = &self.client_certificate_pem {
            options = options.ssl_client_cert_from_pem(certificate);
        }
        if let Some(key) = &self.client_key_pem {
            options = options.ssl_client_key_from_pem(key.expose());
        }
        options
    }
}

/// Parses the section; `None` means it is absent.
pub(super) fn parse(
    section: Option<Cursor<'_>>,
    cwd: &Path,
) -> Result<DatabaseConfig, ConfigError> {
    let defaults = DatabaseConfig::default();
    let Some(section) = section else {
        return Ok(defaults);
    };
    let (connection, uri_origin) = match section.get("uri")? {
        Some(uri) => {
            for key in SPLIT_KEYS {
                exclusive(section, "uri", key)?;
            }
            let uri = uri.cursor();
            let text = uri.string()?;
            parse_url(&text).map_err(|message| uri.error(message))?;
            (
                DatabaseConnection::Uri(Secret::new(text)),
                uri.source().to_owned(),
            )
        }
        None => (
            DatabaseConnection::Split(parse_split(section, cwd)?),
            String::new(),
        ),
    };
    Ok(DatabaseConfig {
        connection,
        ssl: parse_ssl(section, cwd)?,
        connect_timeout: seconds(section, "connect_timeout")?.unwrap_or(defaults.connect_timeout),
        max_connections: match section.get("max_connections")? {
            Some(field) => {
                let cursor = field.cursor();
                NonZeroU32::new(cursor.unsigned()?).ok_or_else(|| cursor.error("must not be 0"))?
            }
            None => defaults.max_connections,
        },
        min_connections: match section.get("min_connections")? {
            Some(field) => field.cursor().unsigned()?,
            None => defaults.min_connections,
        },
        idle_timeout: seconds(section, "idle_timeout")?.unwrap_or(defaults.idle_timeout),
        max_lifetime: seconds(section, "max_lifetime")?.unwrap_or(defaults.max_lifetime),
        uri_origin,
    })
}

fn parse_split(section: Cursor<'_>, cwd: &Path) -> Result<SplitOptions, ConfigError> {
    exclusive(section, "password", "password_file")?;
    let password = match opt_string(section, "password")? {
        Some(password) => Some(Secret::new(password)),
        None => read_trimmed_key_file(section, "password_file", cwd)?,
    };
    Ok(SplitOptions {
        host: opt_string(section, "host")?,
        port: section
            .get("port")?
            .map(|field| field.cursor().unsigned())
            .transpose()?,
        socket: opt_string(section, "socket")?.map(PathBuf::from),
        username: opt_string(section, "username")?,
        password,
        database: opt_string(section, "database")?,
    })
}

fn parse_ssl(section: Cursor<'_>, cwd: &Path) -> Result<SslConfig, ConfigError> {
    let mode = match section.get("ssl_mode")? {
        Some(field) => Some(parse_ssl_mode(field.cursor())?),
        None => None,
    };
    let ca_pem = inline_or_file(section, "ssl_ca", cwd)?;
    let client_certificate_pem = inline_or_file(section, "ssl_certificate", cwd)?;
    let client_key_pem = inline_or_file(section, "ssl_key", cwd)?.map(SecretBytes::new);
    // A client certificate is useless without its key and the other way round.
    if client_certificate_pem.is_some() != client_key_pem.is_some() {
        let (given, missing) = if client_certificate_pem.is_some() {
            ("ssl_certificate", "ssl_key")
        } else {
            ("ssl_key", "ssl_certificate")
        };
        let field = section
            .get(given)?
            .or(section.get(&format!("{given}_file"))?);
        let cursor = field.as_ref().map_or(section, |field| field.cursor());
        return Err(cursor.error(format!(
            "a client certificate needs its key: set database.{missing} or database.{missing}_file too"
        )));
    }
    Ok(SslConfig {
        mode,
        ca_pem,
        client_certificate_pem,
        client_key_pem,
    })
}

/// Reads a PEM value given inline under `key` or as a file under `<key>_file`, never both.
fn inline_or_file(
    section: Cursor<'_>,
    key: &str,
    cwd: &Path,
) -> Result<Option<Vec<u8>>, ConfigError> {
    let file_key = format!("{key}_file");
    exclusive(section, key, &file_key)?;
    match opt_string(section, key)? {
        Some(pem) => Ok(Some(pem.into_bytes())),
        None => read_key_file(section, &file_key, cwd),
    }
}

fn parse_ssl_mode(cursor: Cursor<'_>) -> Result<SslMode, ConfigError> {
    let text = cursor.string()?;
    Ok(match text.as_str() {
        "disable" => SslMode::Disable,
        "allow" => SslMode::Allow,
        "prefer" => SslMode::Prefer,
        "require" => SslMode::Require,
        "verify-ca" => SslMode::VerifyCa,
        "verify-full" => SslMode::VerifyFull,
        _ => {
            return Err(cursor.error(format!(
                "unknown SSL mode `{text}` (expected disable, allow, prefer, require, verify-ca \
                 or verify-full)"
            )))
        }
    })
}

fn seconds(section: Cursor<'_>, key: &str) -> Result<Option<Duration>, ConfigError> {
    Ok(section
        .get(key)?
        .map(|field| field.cursor().unsigned())
        .transpose()?
        .map(Duration::from_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssl_options_apply_on_top_of_a_uri() {
        let config = DatabaseConfig {
            connection: DatabaseConnection::Uri(Secret::new(
                "postgresql://mas:pw@db:6432/mas?sslmode=disable",
            )),
            ssl: SslConfig {
                mode: Some(SslMode::VerifyFull),
                ..SslConfig::default()
            },
            ..DatabaseConfig::default()
        };
        let options = config.connect_options().expect("valid");
        assert_eq!(
            (
                options.get_host(),
                options.get_port(),
                options.get_database()
            ),
            ("db", 6432, Some("mas"))
        );
        assert!(matches!(options.get_ssl_mode(), PgSslMode::VerifyFull));
    }

    #[test]
    fn split_options_override_the_defaults() {
        let config = DatabaseConfig {
            connection: DatabaseConnection::Split(SplitOptions {
                host: Some("db.internal".to_owned()),
                port: Some(6543),
                username: Some("mas".to_owned()),
                database: Some("masdb".to_owned()),
                ..SplitOptions::default()
            }),
            ..DatabaseConfig::default()
        };
        let options = config.connect_options().expect("valid");
        assert_eq!(
            (
                options.get_host(),
                options.get_port(),
                options.get_username(),
                options.get_database()
            ),
            ("db.internal", 6543, "mas", Some("masdb"))
        );
        let socket = DatabaseConfig {
            connection: DatabaseConnection::Split(SplitOptions {
                socket: Some(PathBuf::from("/run/postgresql")),
                ..SplitOptions::default()
            }),
            ..DatabaseConfig::default()
        };
        let options = socket.connect_options().expect("valid");
        assert_eq!(
            options.get_socket(),
            Some(&PathBuf::from("/run/postgresql"))
        );
    }

    #[test]
    fn an_absent_section_means_libpq_defaults() {
        let options = DatabaseConfig::default().connect_options().expect("valid");
        let reference = PgConnectOptions::new();
        assert_eq!(options.get_host(), reference.get_host());
        assert_eq!(options.get_port(), reference.get_port());
        assert_eq!(options.get_username(), reference.get_username());
    }
}
