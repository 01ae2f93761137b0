//! The `passwords` section: whether local passwords are enabled, the zxcvbn score a new
//! password needs, and the hashing schemes (mas-facts §6).
//!
//! When the section is absent MAS's defaults apply as a whole: enabled, complexity 3, one
//! argon2id scheme with version 1. Peppers from `secret_file` are raw bytes, NOT trimmed: MAS
//! hashes with the trailing newline, so trimming would make every verification fail.

use std::collections::BTreeMap;
use std::path::Path;

use super::tree::Cursor;
use super::{exclusive, opt_string, read_key_file, ConfigError};
use crate::model::SecretBytes;
use crate::password::scheme::{Algorithm, PasswordScheme, DEFAULT_BCRYPT_COST};

/// MAS's default `minimum_complexity` (a zxcvbn score, 0 to 4).
pub const DEFAULT_MINIMUM_COMPLEXITY: u8 = 3;

/// The `passwords` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordsConfig {
    /// Whether local passwords are enabled (`enabled`, default true).
    pub enabled: bool,
    /// The zxcvbn score a new password must reach (`minimum_complexity`, default 3).
    pub minimum_complexity: u8,
    /// The schemes, highest version first (sorted once when loaded).
    schemes: Vec<PasswordScheme>,
}

impl Default for PasswordsConfig {
    /// Returns the configuration of an absent section.
    fn default() -> Self {
        Self {
            enabled: true,
            minimum_complexity: DEFAULT_MINIMUM_COMPLEXITY,
            schemes: vec![PasswordScheme::default()],
        }
    }
}

impl PasswordsConfig {
    /// Returns the schemes sorted by version, highest first, as MAS orders them: the first one
    /// hashes new passwords, all of them verify existing hashes.
    #[must_use]
    pub fn schemes(&self) -> Vec<PasswordScheme> {
        self.schemes.clone()
    }

    /// Returns the scheme new passwords are hashed with (the highest version), if any.
    #[must_use]
    pub fn hashing_scheme(&self) -> Option<&PasswordScheme> {
        self.schemes.first()
    }

    /// Returns the scheme with `version`, which verifies hashes stored with that version.
    #[must_use]
    pub fn scheme(&self, version: u16) -> Option<&PasswordScheme> {
        self.schemes.iter().find(|scheme| scheme.version == version)
    }
}

/// Parses the section; `None` means it is absent.
pub(super) fn parse(
    section: Option<Cursor<'_>>,
    cwd: &Path,
) -> Result<PasswordsConfig, ConfigError> {
    let defaults = PasswordsConfig::default();
    let Some(section) = section else {
        return Ok(defaults);
    };
    let enabled = match section.get("enabled")? {
        Some(field) => field.cursor().bool()?,
        None => defaults.enabled,
    };
    let minimum_complexity = match section.get("minimum_complexity")? {
        Some(field) => field.cursor().unsigned()?,
        None => defaults.minimum_complexity,
    };
    let schemes = match section.get("schemes")? {
        Some(list) => {
            let list = list.cursor();
            let items = list.items()?;
            let mut schemes = items
                .iter()
                .map(|item| parse_scheme(item.cursor(), cwd))
                .collect::<Result<Vec<_>, _>>()?;
            check_versions_unique(
                &items.iter().map(|item| item.cursor()).collect::<Vec<_>>(),
                &schemes,
            )?;
            if enabled && schemes.is_empty() {
                return Err(list.error(
                    "at least one password scheme is required while passwords are enabled",
                ));
            }
            // MAS sorts by version, descending: the first scheme hashes new passwords.
            schemes.sort_by_key(|scheme| std::cmp::Reverse(scheme.version));
            schemes
        }
        None => defaults.schemes,
    };
    Ok(PasswordsConfig {
        enabled,
        minimum_complexity,
        schemes,
    })
}

fn parse_scheme(item: Cursor<'_>, cwd: &Path) -> Result<PasswordScheme, ConfigError> {
    let version = match item.get("version")? {
        Some(field) => field.cursor().unsigned()?,
        None => return Err(item.error("missing `version` (every scheme needs a version number)")),
    };
    let algorithm = match item.get("algorithm")? {
        Some(field) => {
            let cursor = field.cursor();
            cursor
                .string()?
                .parse::<Algorithm>()
                .map_err(|error| cursor.error(error.to_string()))?
        }
        None => return Err(item.error("missing `algorithm` (argon2id, bcrypt or pbkdf2)")),
    };
    let unicode_normalization = match item.get("unicode_normalization")? {
        Some(field) => field.cursor().bool()?,
        None => false,
    };
    let cost = match item.get("cost")? {
        Some(field) => field.cursor().unsigned()?,
        None => DEFAULT_BCRYPT_COST,
    };
    exclusive(item, "secret", "secret_file")?;
    let pepper = match opt_string(item, "secret")? {
        Some(secret) => Some(secret.into_bytes()),
        // Raw bytes, trailing newline included: that is what MAS hashes with.
        None => read_key_file(item, "secret_file", cwd)?,
    };
    Ok(PasswordScheme {
        version,
        algorithm,
        unicode_normalization,
        cost,
        pepper: pepper.map(SecretBytes::new),
    })
}

/// Fails on the first scheme whose version an earlier scheme already uses.
fn check_versions_unique(
    items: &[Cursor<'_>],
    schemes: &[PasswordScheme],
) -> Result<(), ConfigError> {
    let mut seen: BTreeMap<u16, &str> = BTreeMap::new();
    for (item, scheme) in items.iter().zip(schemes) {
        if let Some(first) = seen.insert(scheme.version, item.path()) {
            let at = item.get("version")?;
            let cursor = at.as_ref().map_or(*item, |field| field.cursor());
            return Err(cursor.error(format!(
                "Multiple password schemes have the same versions (version {} is also used by {first})",
                scheme.version
            )));
        }
    }
    Ok(())
}
