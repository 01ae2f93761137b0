//! MAS's own configuration file, read the way `mas-cli` reads it, so that masctl runs with the
//! production config unchanged (mas-facts §7).
//!
//! Sources, lowest priority first: `MAS_*` environment variables, then each config file in
//! order. Files are "admerged": mappings merge recursively, lists are concatenated and later
//! scalars win. Only the `database`, `passwords` and `matrix` sections are read; every other
//! section (`http`, `clients`, `secrets`, `upstream_oauth2`, …) is ignored without a look.
//!
//! One deliberate difference from mas-cli (SPEC §1): a config file that was asked for and does
//! not exist is an error, not silently skipped. Only the implicit default `config.yaml` may be
//! missing. Loading `.env` is the CLI's job; this module reads no process state except through
//! its arguments (the working directory and a snapshot of the environment).

mod database;
mod matrix;
mod passwords;
mod tree;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use database::{DatabaseConfig, DatabaseConnection, SplitOptions, SslConfig, SslMode};
pub use matrix::{HomeserverKind, MatrixConfig, DEFAULT_ENDPOINT, DEFAULT_HOMESERVER};
pub use passwords::{PasswordsConfig, DEFAULT_MINIMUM_COMPLEXITY};

use tree::{Cursor, Field, Node};
use zeroize::Zeroizing;

use crate::model::Secret;

/// The config file mas-cli reads when neither `--config` nor `MAS_CONFIG` names one.
pub const DEFAULT_CONFIG_FILE: &str = "config.yaml";

/// The sections of MAS's configuration masctl uses.
#[derive(Debug, Clone)]
pub struct MasConfig {
    /// How to reach MAS's database (section `database`).
    pub database: DatabaseConfig,
    /// Password hashing schemes and policy (section `passwords`).
    pub passwords: PasswordsConfig,
    /// The homeserver connection (section `matrix`), if configured.
    pub matrix: Option<MatrixConfig>,
}

/// Why the configuration could not be loaded. Every message names the file (or environment
/// variable) and the key; none includes a secret value.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
#[diagnostic(code(masctl::config))]
pub enum ConfigError {
    /// A config file that was asked for does not exist.
    #[error("config file {} does not exist", path.display())]
    NotFound {
        /// The path as given.
        path: PathBuf,
    },
    /// A config file exists but cannot be read.
    #[error("cannot read config file {}: {source}", path.display())]
    ReadConfig {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A config file is not valid YAML (the message carries line and column).
    #[error("{file}: invalid YAML: {message}")]
    Yaml {
        /// The file.
        file: String,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A key has a wrong type or value, or breaks a rule.
    #[error("{origin}: {key}: {message}")]
    Invalid {
        /// The file or environment variable that set the key.
        origin: String,
        /// The key path, e.g. `passwords.schemes[1].algorithm`.
        key: String,
        /// What is wrong.
        message: String,
    },
    /// A file named by a `*_file` key cannot be read.
    #[error("{origin}: {key}: cannot read {}: {source}", path.display())]
    ReadFile {
        /// The file or environment variable that set the key.
        origin: String,
        /// The key path.
        key: String,
        /// The file the key names.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A `--database-url` (or `DATABASE_URL`) is not a PostgreSQL URL. The URL is shown with its
    /// password redacted.
    #[error("invalid database URL {url}: {message}")]
    DatabaseUrl {
        /// The URL, password redacted.
        url: String,
        /// What is wrong.
        message: String,
    },
    /// The working directory is needed to resolve relative paths and cannot be read.
    #[error("cannot determine the current directory: {0}")]
    CurrentDir(std::io::Error),
}

/// Returns the process environment as a snapshot for [`load`] (variables that are not valid
/// UTF-8 are skipped: no MAS setting can use them).
#[must_use]
pub fn env_snapshot() -> BTreeMap<String, String> {
    std::env::vars_os()
        .filter_map(|(name, value)| Some((name.into_string().ok()?, value.into_string().ok()?)))
        .collect()
}

/// Loads MAS's configuration from `paths` (the `--config` flags), the working directory and
/// the environment snapshot `env`.
///
/// # Errors
/// See [`load_from`].
pub fn load(paths: &[PathBuf], env: &BTreeMap<String, String>) -> Result<MasConfig, ConfigError> {
    let cwd = std::env::current_dir().map_err(ConfigError::CurrentDir)?;
    load_from(&cwd, paths, env)
}

/// Loads MAS's configuration as mas-cli would when started in `cwd`.
///
/// Config files: `paths` if any; otherwise `MAS_CONFIG` from `env`, split on `:`; otherwise
/// `config.yaml`. A relative path is looked up in `cwd` and then in each parent directory.
/// Relative paths inside the config (`password_file`, …) are resolved against `cwd`.
///
/// # Errors
/// Returns the first problem: a named file missing or unreadable, invalid YAML, a wrong type
/// or value, a broken exclusivity rule, or an unreadable `*_file`.
pub fn load_from(
    cwd: &Path,
    paths: &[PathBuf],
    env: &BTreeMap<String, String>,
) -> Result<MasConfig, ConfigError> {
    let mut tree = Node::from_env(env);
    for (path, required) in config_paths(paths, env) {
        let Some((found, label)) = find_file(cwd, &path) else {
            if required {
                return Err(ConfigError::NotFound { path });
            }
            continue;
        };
        tree = tree.merge(read_file(&found, label)?);
    }
    let root = Cursor::root(&tree);
    // A section that is absent or null (`matrix:` with nothing under it) counts as absent.
    let database = root.get("database")?;
    let passwords = root.get("passwords")?;
    let matrix = root.get("matrix")?;
    Ok(MasConfig {
        database: database::parse(database.as_ref().map(Field::cursor), cwd)?,
        passwords: passwords::parse(passwords.as_ref().map(Field::cursor), cwd)?,
        matrix: matrix::parse(matrix.as_ref().map(Field::cursor), cwd)?,
    })
}

/// Returns the config files to read, each with whether it must exist.
fn config_paths(paths: &[PathBuf], env: &BTreeMap<String, String>) -> Vec<(PathBuf, bool)> {
    if !paths.is_empty() {
        return paths.iter().map(|path| (path.clone(), true)).collect();
    }
    if let Some(list) = env.get("MAS_CONFIG") {
        return list
            .split(':')
            .filter(|p| !p.is_empty())
            .map(|p| (PathBuf::from(p), true))
            .collect();
    }
    vec![(PathBuf::from(DEFAULT_CONFIG_FILE), false)]
}

/// Finds `path` like figment does: absolute paths as they are, relative ones in `cwd` and then
/// in every parent directory. Returns the file and the name to use in messages.
fn find_file(cwd: &Path, path: &Path) -> Option<(PathBuf, String)> {
    if path.is_absolute() {
        return path
            .is_file()
            .then(|| (path.to_owned(), path.display().to_string()));
    }
    let direct = cwd.join(path);
    if direct.is_file() {
        return Some((direct, path.display().to_string()));
    }
    cwd.ancestors()
        .skip(1)
        .map(|dir| dir.join(path))
        .find(|candidate| candidate.is_file())
        .map(|found| {
            let label = found.display().to_string();
            (found, label)
        })
}

/// Reads and parses one YAML config file into a tree labelled `label`.
fn read_file(path: &Path, label: String) -> Result<Node, ConfigError> {
    // The file holds secrets (database password, peppers, MAS's own keys): wipe the text.
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
        ConfigError::ReadConfig {
            path: path.to_owned(),
            source,
        }
    })?);
    let value: serde_yaml::Value =
        serde_yaml::from_str(&text).map_err(|error| ConfigError::Yaml {
            file: label.clone(),
            line: error.location().map(|location| location.line()),
            message: error.to_string(),
        })?;
    let source: Arc<str> = label.into();
    let node = Node::from_yaml(value, &source);
    if Cursor::root(&node).is_null() {
        // An empty file is an empty configuration.
        return Ok(Node::empty_map(&source));
    }
    if !node.is_map() {
        return Err(ConfigError::Yaml {
            file: source.to_string(),
            line: None,
            message: "the top level must be a mapping of sections".to_owned(),
        });
    }
    Ok(node)
}

/// Reads the optional key `key` of `section` as text.
pub(crate) fn opt_string(section: Cursor<'_>, key: &str) -> Result<Option<String>, ConfigError> {
    section
        .get(key)?
        .map(|field| field.cursor().string())
        .transpose()
}

/// Reads the file a `*_file` key names, byte for byte; errors name that key.
pub(crate) fn read_key_file(
    section: Cursor<'_>,
    key: &str,
    cwd: &Path,
) -> Result<Option<Vec<u8>>, ConfigError> {
    let Some(field) = section.get(key)? else {
        return Ok(None);
    };
    read_named_file(field.cursor(), cwd).map(Some)
}

/// Reads a text file named by `key`, trimmed: how MAS reads `password_file` and the matrix
/// `secret_file`.
pub(crate) fn read_trimmed_key_file(
    section: Cursor<'_>,
    key: &str,
    cwd: &Path,
) -> Result<Option<Secret>, ConfigError> {
    let Some(field) = section.get(key)? else {
        return Ok(None);
    };
    let cursor = field.cursor();
    let bytes = Zeroizing::new(read_named_file(cursor, cwd)?);
    let text = std::str::from_utf8(&bytes)
        .map_err(|_| cursor.error("the file is not valid UTF-8 text"))?;
    Ok(Some(Secret::new(text.trim())))
}

/// Reads the file whose path is the value at `cursor` (relative to `cwd`).
fn read_named_file(cursor: Cursor<'_>, cwd: &Path) -> Result<Vec<u8>, ConfigError> {
    let path = cwd.join(cursor.string()?);
    std::fs::read(&path).map_err(|source| ConfigError::ReadFile {
        origin: cursor.source().to_owned(),
        key: cursor.path().to_owned(),
        path,
        source,
    })
}

/// Fails when both `first` and `second` are set in `section`.
pub(crate) fn exclusive(section: Cursor<'_>, first: &str, second: &str) -> Result<(), ConfigError> {
    if let (Some(a), Some(b)) = (section.get(first)?, section.get(second)?) {
        let (a, b) = (a.cursor(), b.cursor());
        let elsewhere = if a.source() == b.source() {
            String::new()
        } else {
            format!(" (set in {})", a.source())
        };
        return Err(b.error(format!("cannot be combined with {}{elsewhere}", a.path())));
    }
    Ok(())
}
