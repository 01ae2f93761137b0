//! Password hashing, verification and complexity checks that match MAS byte for byte.
//!
//! MAS keeps a list of versioned schemes (`passwords.schemes`, mas-facts §6): the highest
//! version hashes new passwords, every version can verify the hashes it produced, and the
//! version number is stored next to each hash in `user_passwords.version`. [`PasswordManager`]
//! mirrors that; [`hash_many`] and [`verify_many`] spread the expensive work over all cores
//! *before* a database transaction opens, so no lock is held while hashing.
//!
//! This module owns no I/O: it never reads MAS's config file (the caller parses
//! [`PasswordScheme`]s), never touches the database and never draws randomness on its own
//! (salts come from the caller's RNG, so tests are reproducible). Plaintext passwords, peppers
//! and hashes only travel as [`Secret`](crate::model::Secret) /
//! [`SecretBytes`](crate::model::SecretBytes), and no error message ever contains one of them.

mod argon2id;
mod bcrypt;
mod complexity;
mod error;
mod hasher;
mod manager;
mod parallel;
mod pbkdf2;
pub mod scheme;

#[cfg(test)]
mod tests;

pub use error::PasswordError;
pub use manager::{HashedPassword, PasswordManager};
pub use parallel::{hash_many, verify_many};
pub use scheme::{Algorithm, PasswordScheme};
