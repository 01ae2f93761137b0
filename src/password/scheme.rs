//! A password hashing scheme as MAS's `passwords.schemes[]` configures it (mas-facts §6).
//!
//! Plain data shared by the config loader (which builds schemes) and the hashers (which use
//! them). It does no hashing itself and holds the pepper only as [`SecretBytes`].

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::model::SecretBytes;

/// bcrypt's cost when the scheme does not set one (MAS's default).
pub const DEFAULT_BCRYPT_COST: u32 = 12;

/// A hashing algorithm MAS supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Algorithm {
    /// Argon2id with the `argon2` crate's defaults (m=19456, t=2, p=1); pepper = secret key K.
    Argon2id,
    /// bcrypt `$2b$` with the scheme's cost; pepper appended to the password.
    Bcrypt,
    /// PBKDF2-HMAC-SHA256, 600 000 rounds; pepper appended to the password.
    Pbkdf2,
}

impl Algorithm {
    /// Returns the name used in MAS's config (`argon2id`, `bcrypt`, `pbkdf2`).
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Argon2id => "argon2id",
            Self::Bcrypt => "bcrypt",
            Self::Pbkdf2 => "pbkdf2",
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The config names are not one of `argon2id`, `bcrypt`, `pbkdf2`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown algorithm `{0}` (expected argon2id, bcrypt or pbkdf2)")]
pub struct UnknownAlgorithm(pub String);

impl FromStr for Algorithm {
    type Err = UnknownAlgorithm;

    /// Parses a config name; lower-case only, as MAS's serde names are.
    fn from_str(name: &str) -> Result<Self, Self::Err> {
        match name {
            "argon2id" => Ok(Self::Argon2id),
            "bcrypt" => Ok(Self::Bcrypt),
            "pbkdf2" => Ok(Self::Pbkdf2),
            other => Err(UnknownAlgorithm(other.to_owned())),
        }
    }
}

/// One configured scheme. `user_passwords.version` stores [`PasswordScheme::version`] of the
/// scheme that produced the hash; the highest version hashes new passwords.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordScheme {
    /// The scheme's number, unique among the configured schemes.
    pub version: u16,
    /// The algorithm.
    pub algorithm: Algorithm,
    /// Whether the password is NFKC-normalised before hashing (Synapse compatibility).
    pub unicode_normalization: bool,
    /// bcrypt cost (ignored by the other algorithms); [`DEFAULT_BCRYPT_COST`] when unset.
    pub cost: u32,
    /// The pepper: `secret` as UTF-8 bytes, or `secret_file`'s raw bytes (not trimmed).
    pub pepper: Option<SecretBytes>,
}

impl Default for PasswordScheme {
    /// Returns MAS's default scheme: version 1, argon2id, no normalisation, no pepper.
    fn default() -> Self {
        Self {
            version: 1,
            algorithm: Algorithm::Argon2id,
            unicode_normalization: false,
            cost: DEFAULT_BCRYPT_COST,
            pepper: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_round_trip() {
        for algorithm in [Algorithm::Argon2id, Algorithm::Bcrypt, Algorithm::Pbkdf2] {
            assert_eq!(algorithm.as_str().parse::<Algorithm>(), Ok(algorithm));
        }
        let error = "Argon2id".parse::<Algorithm>().expect_err("case-sensitive");
        assert_eq!(
            error.to_string(),
            "unknown algorithm `Argon2id` (expected argon2id, bcrypt or pbkdf2)"
        );
    }

    #[test]
    fn pepper_is_redacted() {
        let scheme = PasswordScheme {
            pepper: Some(SecretBytes::new(b"spice".to_vec())),
            ..PasswordScheme::default()
        };
        assert!(!format!("{scheme:?}").contains("spice"));
    }
}
