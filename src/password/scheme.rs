//! One entry of MAS's `passwords.schemes` list, as parsed from MAS's config file.
//!
//! This module only holds the data; parsing lives with the config reader and hashing in the
//! sibling modules. It must not read files or environment variables.

use crate::model::SecretBytes;

/// A password hashing algorithm MAS supports (`passwords.schemes[].algorithm`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// Argon2id with the `argon2` crate's defaults; the pepper is Argon2's secret key input.
    Argon2id,
    /// bcrypt (`$2b$`); the pepper is appended to the password.
    Bcrypt,
    /// PBKDF2-HMAC-SHA256, 600 000 rounds; the pepper is appended to the password.
    Pbkdf2,
}

/// A versioned password hashing scheme (one entry of `passwords.schemes`).
#[derive(Debug, Clone)]
pub struct PasswordScheme {
    /// The number stored in `user_passwords.version` for hashes made with this scheme.
    pub version: u16,
    /// The hashing algorithm.
    pub algorithm: Algorithm,
    /// Whether the password is NFKC-normalised before hashing (Synapse compatibility).
    pub unicode_normalization: bool,
    /// The bcrypt cost (MAS's default is 12); ignored by the other algorithms.
    pub cost: u32,
    /// The optional pepper (`secret` or `secret_file`, raw bytes, never trimmed).
    pub pepper: Option<SecretBytes>,
}
